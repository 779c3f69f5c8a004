// errors.cc - builds the addon's JS errors from negative errno values.
#include "errors.h"

#include <cstring>

#include "ktnl.h"

namespace ktnative {

Napi::Error SystemError(Napi::Env env, int err, const std::string &what) {
  int code = err < 0 ? -err : err;
  std::string name = ktnl_errno_name(code);
  Napi::Error error = Napi::Error::New(env, name + ": " + what + ": " + std::strerror(code));
  error.Value().Set("errno", Napi::String::New(env, name));
  error.Value().Set("code", Napi::Number::New(env, code));
  return error;
}

void ThrowType(Napi::Env env, const std::string &message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
}

}  // namespace ktnative
