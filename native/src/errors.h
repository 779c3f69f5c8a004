// errors.h - JS errors the addon throws: TypeError for bad arguments, Error with errno/code for system errors.
#pragma once
#include <napi.h>

#include <string>

namespace ktnative {

// An Error whose `errno` is the errno name and `code` the positive errno number (rig/netlink.ts wraps it).
Napi::Error SystemError(Napi::Env env, int err, const std::string &what);

// Throws a TypeError (exceptions are disabled: the caller returns right after).
void ThrowType(Napi::Env env, const std::string &message);

}  // namespace ktnative
