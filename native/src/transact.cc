// transact.cc - transact(opts) -> Promise<{status, errno, message, lines}>: ktnl_run off the event loop.
#include "transact.h"

#include <string>
#include <vector>

#include "args.h"
#include "codec.h"
#include "errors.h"
#include "ktnl.h"

namespace ktnative {

namespace {

class TransactWorker : public Napi::AsyncWorker {
 public:
  TransactWorker(Napi::Env env, int proto, uint32_t groups, const ktnl_call &call, std::vector<uint8_t> payload)
      : Napi::AsyncWorker(env, "ktest_native.transact"),
        deferred_(Napi::Promise::Deferred::New(env)),
        proto_(proto),
        groups_(groups),
        call_(call),
        payload_(std::move(payload)) {
    call_.msg.payload = payload_.data();
    call_.msg.payload_len = payload_.size();
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override { ktnl_run(proto_, groups_, &call_, Collect, this, &outcome_); }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object result = Napi::Object::New(env);
    Napi::Array lines = Napi::Array::New(env, lines_.size());
    for (size_t i = 0; i < lines_.size(); i++) lines.Set(i, lines_[i]);
    result.Set("status", outcome_.status);
    result.Set("lines", lines);
    if (outcome_.status != KTNL_OK) {
      result.Set("errno", ktnl_errno_name(outcome_.err));
      result.Set("code", -outcome_.err);
      result.Set("message", outcome_.message);
    }
    deferred_.Resolve(result);
  }

 private:
  // Every received message becomes nlclient's JSON line.
  static int Collect(void *ctx, const ktnl_msg *msg) {
    auto *self = static_cast<TransactWorker *>(ctx);
    std::string line(ktnl_json_size(msg->payload_len), '\0');
    line.resize(ktnl_json(msg, line.data(), line.size()));
    self->lines_.push_back(std::move(line));
    return 0;
  }

  Napi::Promise::Deferred deferred_;
  int proto_;
  uint32_t groups_;
  ktnl_call call_;
  std::vector<uint8_t> payload_;
  std::vector<std::string> lines_;
  ktnl_outcome outcome_{};
};

// transact({proto, groups?, type, flags, seq, pid, len?, payload?, count, noRecv, timeoutMs})
Napi::Value Transact(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) {
    ThrowType(env, "transact: options must be an object");
    return env.Null();
  }
  Napi::Object opts = info[0].As<Napi::Object>();
  ktnl_call call{};
  std::vector<uint8_t> payload;
  if (!SpecFromObject(env, opts, call.msg, payload)) return env.Null();
  auto proto = IntField(env, opts, "proto", 0, 0x7fffffff, 30);
  if (!proto) return env.Null();
  auto groups = IntField(env, opts, "groups", 0, 0xffffffffLL, 0);
  if (!groups) return env.Null();
  auto count = IntField(env, opts, "count", 1, 1000000, 1);
  if (!count) return env.Null();
  auto timeout = IntField(env, opts, "timeoutMs", -1, 0x7fffffff, KTNL_DEFAULT_TIMEOUT_MS);
  if (!timeout) return env.Null();
  call.count = static_cast<unsigned>(*count);
  call.no_recv = opts.Get("noRecv").ToBoolean().Value() ? 1 : 0;
  call.timeout_ms = static_cast<int>(*timeout);
  auto *worker = new TransactWorker(env, static_cast<int>(*proto), static_cast<uint32_t>(*groups), call,
                                    std::move(payload));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

void InitTransact(Napi::Env env, Napi::Object exports) {
  exports.Set("transact", Napi::Function::New(env, Transact, "transact"));
}

}  // namespace ktnative
