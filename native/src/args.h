// args.h - argument checks at the JS boundary: integers in range, Buffers; they throw TypeError.
#pragma once
#include <napi.h>

#include <cstdint>
#include <optional>
#include <string>

namespace ktnative {

// value as an integer in [min, max], or nullopt after throwing a TypeError naming `what`.
std::optional<int64_t> IntArg(Napi::Env env, Napi::Value value, const std::string &what, int64_t min,
                              int64_t max);

// obj[key] as an integer in [min, max]; `fallback` when undefined.
std::optional<int64_t> IntField(Napi::Env env, Napi::Object obj, const char *key, int64_t min,
                                int64_t max, int64_t fallback);

}  // namespace ktnative
