// codec.cc - encode(spec) -> Buffer, decode(Buffer) -> {messages, malformed}, errnoName, errnoValue.
#include "codec.h"

#include <string>

#include "args.h"
#include "errors.h"

namespace ktnative {

bool SpecFromObject(Napi::Env env, Napi::Value value, ktnl_spec &spec, std::vector<uint8_t> &storage) {
  if (!value.IsObject()) {
    ThrowType(env, "message spec must be an object");
    return false;
  }
  Napi::Object obj = value.As<Napi::Object>();
  auto type = IntField(env, obj, "type", 0, 0xffff, 0);
  if (!type) return false;
  auto flags = IntField(env, obj, "flags", 0, 0xffff, KTNL_DEFAULT_FLAGS);
  if (!flags) return false;
  auto seq = IntField(env, obj, "seq", 0, 0xffffffffLL, KTNL_DEFAULT_SEQ);
  if (!seq) return false;
  auto pid = IntField(env, obj, "pid", 0, 0xffffffffLL, 0);
  if (!pid) return false;
  Napi::Value len = obj.Get("len");
  std::optional<int64_t> lenValue;
  if (!len.IsUndefined()) {
    lenValue = IntArg(env, len, "len", 0, 0xffffffffLL);
    if (!lenValue) return false;
  }
  Napi::Value payload = obj.Get("payload");
  storage.clear();
  if (!payload.IsUndefined()) {
    if (!payload.IsBuffer()) {
      ThrowType(env, "payload must be a Buffer");
      return false;
    }
    auto buf = payload.As<Napi::Buffer<uint8_t>>();
    if (buf.Length() > KTNL_MAX_PAYLOAD) {
      ThrowType(env, "payload must be at most " + std::to_string(KTNL_MAX_PAYLOAD) + " bytes");
      return false;
    }
    storage.assign(buf.Data(), buf.Data() + buf.Length());
  }
  spec = ktnl_spec{};
  spec.type = static_cast<uint16_t>(*type);
  spec.flags = static_cast<uint16_t>(*flags);
  spec.seq = static_cast<uint32_t>(*seq);
  spec.pid = static_cast<uint32_t>(*pid);
  spec.len_set = lenValue.has_value();
  spec.len = static_cast<uint32_t>(lenValue.value_or(0));
  spec.payload = storage.data();
  spec.payload_len = storage.size();
  return true;
}

static Napi::Value Encode(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  ktnl_spec spec;
  std::vector<uint8_t> storage;
  if (!SpecFromObject(env, info[0], spec, storage)) return env.Null();
  size_t size = ktnl_encoded_size(spec.payload_len);
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, size);
  long n = ktnl_encode(&spec, out.Data(), size);
  if (n < 0) {
    SystemError(env, static_cast<int>(n), "encode").ThrowAsJavaScriptException();
    return env.Null();
  }
  return out;
}

static Napi::Object MessageObject(Napi::Env env, const ktnl_msg &msg) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("len", msg.len);
  o.Set("type", msg.type);
  o.Set("flags", msg.flags);
  o.Set("seq", msg.seq);
  o.Set("pid", msg.pid);
  o.Set("payload", Napi::Buffer<uint8_t>::Copy(env, msg.payload, msg.payload_len));
  if (msg.is_error) {
    o.Set("error", msg.error);
    o.Set("errno", ktnl_errno_name(msg.error));
  }
  return o;
}

static Napi::Value Decode(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBuffer()) {
    ThrowType(env, "decode: argument must be a Buffer");
    return env.Null();
  }
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  ktnl_iter it;
  ktnl_msg msg;
  int r;
  Napi::Array messages = Napi::Array::New(env);
  ktnl_iter_init(&it, buf.Data(), buf.Length());
  while ((r = ktnl_iter_next(&it, &msg)) == 1) messages.Set(messages.Length(), MessageObject(env, msg));
  Napi::Object result = Napi::Object::New(env);
  result.Set("messages", messages);
  result.Set("malformed", r < 0);
  return result;
}

static Napi::Value ErrnoName(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto code = IntArg(env, info[0], "errno", -0x7fffffffLL, 0x7fffffffLL);
  if (!code) return env.Null();
  return Napi::String::New(env, ktnl_errno_name(static_cast<int>(*code)));
}

static Napi::Value ErrnoValue(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    ThrowType(env, "errnoValue: argument must be a string");
    return env.Null();
  }
  return Napi::Number::New(env, ktnl_errno_value(info[0].As<Napi::String>().Utf8Value().c_str()));
}

void InitCodec(Napi::Env env, Napi::Object exports) {
  exports.Set("encode", Napi::Function::New(env, Encode, "encode"));
  exports.Set("decode", Napi::Function::New(env, Decode, "decode"));
  exports.Set("errnoName", Napi::Function::New(env, ErrnoName, "errnoName"));
  exports.Set("errnoValue", Napi::Function::New(env, ErrnoValue, "errnoValue"));
}

}  // namespace ktnative
