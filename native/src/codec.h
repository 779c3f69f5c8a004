// codec.h - JS bindings of the C library's framing: encode, decode, errno names.
#pragma once
#include <napi.h>

#include <cstdint>
#include <vector>

#include "ktnl.h"

namespace ktnative {

// Reads {type, flags, seq, pid, len?, payload?: Buffer} into spec; the payload is copied into storage.
// Returns false after throwing a TypeError.
bool SpecFromObject(Napi::Env env, Napi::Value value, ktnl_spec &spec, std::vector<uint8_t> &storage);

void InitCodec(Napi::Env env, Napi::Object exports);

}  // namespace ktnative
