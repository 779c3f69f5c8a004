// socket.h - JS bindings of a netlink socket: open, send, recv (AsyncWorker: off the event loop), close.
#pragma once
#include <napi.h>

namespace ktnative {

void InitSocket(Napi::Env env, Napi::Object exports);

}  // namespace ktnative
