// addon.cc - the ktest_native module: codec, socket and transaction bindings plus the protocol constants.
#include <napi.h>

#include "codec.h"
#include "ktest_uapi.h"
#include "ktnl.h"
#include "socket.h"
#include "transact.h"

namespace {

// Constants from kmod/ktest_uapi.h and the netlink ABI, so TypeScript never copies them.
Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  c.Set("KTEST_NETLINK_PROTO", KTEST_NETLINK_PROTO);
  c.Set("KTEST_MSG_HELLO", KTEST_MSG_HELLO);
  c.Set("KTEST_MSG_ECHO", KTEST_MSG_ECHO);
  c.Set("KTEST_MSG_SILENT", KTEST_MSG_SILENT);
  c.Set("KTEST_MAX_PAYLOAD", KTEST_MAX_PAYLOAD);
  c.Set("KTEST_HELLO_REPLY", KTEST_HELLO_REPLY);
  c.Set("NLM_F_REQUEST", NLM_F_REQUEST);
  c.Set("NLM_F_MULTI", NLM_F_MULTI);
  c.Set("NLM_F_ACK", NLM_F_ACK);
  c.Set("NLM_F_ECHO", NLM_F_ECHO);
  c.Set("NLM_F_DUMP", NLM_F_DUMP);
  c.Set("NLMSG_NOOP", NLMSG_NOOP);
  c.Set("NLMSG_ERROR", NLMSG_ERROR);
  c.Set("NLMSG_DONE", NLMSG_DONE);
  c.Set("NLMSG_HDRLEN", KTNL_HDRLEN);
  c.Set("RECV_BUF", KTNL_RECV_BUF);
  c.Set("MAX_PAYLOAD", KTNL_MAX_PAYLOAD);
  c.Set("DEFAULT_TIMEOUT_MS", KTNL_DEFAULT_TIMEOUT_MS);
  return c;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ktnative::InitCodec(env, exports);
  ktnative::InitSocket(env, exports);
  ktnative::InitTransact(env, exports);
  exports.Set("constants", Constants(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(ktest_native, Init)
