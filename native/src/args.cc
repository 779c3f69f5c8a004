// args.cc - integer checks for the addon's arguments.
#include "args.h"

#include <cmath>

#include "errors.h"

namespace ktnative {

std::optional<int64_t> IntArg(Napi::Env env, Napi::Value value, const std::string &what, int64_t min,
                              int64_t max) {
  if (!value.IsNumber()) {
    ThrowType(env, what + " must be a number");
    return std::nullopt;
  }
  double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(min) ||
      d > static_cast<double>(max)) {
    ThrowType(env, what + " must be an integer in " + std::to_string(min) + ".." + std::to_string(max));
    return std::nullopt;
  }
  return static_cast<int64_t>(d);
}

std::optional<int64_t> IntField(Napi::Env env, Napi::Object obj, const char *key, int64_t min,
                                int64_t max, int64_t fallback) {
  Napi::Value value = obj.Get(key);
  if (value.IsUndefined()) return fallback;
  return IntArg(env, value, key, min, max);
}

}  // namespace ktnative
