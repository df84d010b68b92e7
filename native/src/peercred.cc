// The credentials of the process at the other end of a connected UNIX socket (SO_PEERCRED,
// unix(7)): the control socket admits only root and the daemon's own user, whatever the
// socket file's mode or directory says. A thin wrapper: one getsockopt, no state.
#include <sys/socket.h>
#include <sys/types.h>
#include <cerrno>
#include <cstring>
#include <string>

#include "registry.h"

namespace {

// peerCredentials(fd) -> { pid, uid, gid }; throws with the errno text if the descriptor is
// not a connected UNIX socket.
Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "peerCredentials(fd: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct ucred cred {};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
    int e = errno;
    Napi::Error err = Napi::Error::New(env, std::string("getsockopt(SO_PEERCRED): ") + std::strerror(e));
    err.Set("errno", Napi::Number::New(env, e));
    err.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  return out;
}

void InitPeerCred(Napi::Env env, Napi::Object exports) {
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials, "peerCredentials"));
}

}  // namespace

SEGW_REGISTER(peercred, InitPeerCred);
