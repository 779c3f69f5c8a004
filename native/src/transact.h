// transact.h - JS binding of the C library's client transaction (nlclient's semantics), in a worker thread.
#pragma once
#include <napi.h>

namespace ktnative {

void InitTransact(Napi::Env env, Napi::Object exports);

}  // namespace ktnative
