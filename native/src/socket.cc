// socket.cc - open(proto, groups) -> {fd, portid}; send(fd, buf); recv(fd, timeoutMs) -> Promise<Buffer>; close(fd).
#include "socket.h"

#include <unistd.h>

#include <vector>

#include "args.h"
#include "errors.h"
#include "ktnl.h"

namespace ktnative {

namespace {

// Waits for one datagram in a libuv worker thread; resolves a Buffer or rejects ETIMEDOUT/errno.
class RecvWorker : public Napi::AsyncWorker {
 public:
  RecvWorker(Napi::Env env, int fd, int timeoutMs)
      : Napi::AsyncWorker(env, "ktest_native.recv"),
        deferred_(Napi::Promise::Deferred::New(env)),
        fd_(fd),
        timeoutMs_(timeoutMs),
        buf_(KTNL_RECV_BUF) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    ktnl_sock s{fd_, 0};
    n_ = ktnl_recv(&s, buf_.data(), buf_.size(), timeoutMs_);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (n_ < 0) {
      deferred_.Reject(SystemError(env, static_cast<int>(n_), "recv").Value());
      return;
    }
    deferred_.Resolve(Napi::Buffer<uint8_t>::Copy(env, buf_.data(), static_cast<size_t>(n_)));
  }

 private:
  Napi::Promise::Deferred deferred_;
  int fd_;
  int timeoutMs_;
  std::vector<uint8_t> buf_;
  long n_ = 0;
};

Napi::Value Open(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto proto = IntArg(env, info[0], "proto", 0, 0x7fffffff);
  if (!proto) return env.Null();
  std::optional<int64_t> groups = 0;
  if (!info[1].IsUndefined()) groups = IntArg(env, info[1], "groups", 0, 0xffffffffLL);
  if (!groups) return env.Null();
  ktnl_sock s;
  int err = ktnl_open(&s, static_cast<int>(*proto), static_cast<uint32_t>(*groups));
  if (err) {
    SystemError(env, err, "netlink socket for protocol " + std::to_string(*proto)).ThrowAsJavaScriptException();
    return env.Null();
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("fd", s.fd);
  result.Set("portid", s.portid);
  return result;
}

Napi::Value Send(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto fd = IntArg(env, info[0], "fd", 0, 0x7fffffff);
  if (!fd) return env.Null();
  if (!info[1].IsBuffer()) {
    ThrowType(env, "send: data must be a Buffer");
    return env.Null();
  }
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  ktnl_sock s{static_cast<int>(*fd), 0};
  int err = ktnl_send(&s, buf.Data(), buf.Length());
  if (err) {
    SystemError(env, err, "send").ThrowAsJavaScriptException();
    return env.Null();
  }
  return env.Undefined();
}

Napi::Value Recv(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto fd = IntArg(env, info[0], "fd", 0, 0x7fffffff);
  if (!fd) return env.Null();
  auto timeout = IntArg(env, info[1], "timeoutMs", -1, 0x7fffffff);
  if (!timeout) return env.Null();
  auto *worker = new RecvWorker(env, static_cast<int>(*fd), static_cast<int>(*timeout));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value Close(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto fd = IntArg(env, info[0], "fd", 0, 0x7fffffff);
  if (!fd) return env.Null();
  close(static_cast<int>(*fd));
  return env.Undefined();
}

}  // namespace

void InitSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("send", Napi::Function::New(env, Send, "send"));
  exports.Set("recv", Napi::Function::New(env, Recv, "recv"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
}

}  // namespace ktnative
