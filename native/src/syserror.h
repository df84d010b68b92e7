// An errno from a system call as a JavaScript Error with the stable fields the TypeScript side
// reads (code "ENOENT", errno, syscall), for every component of the addon.
#pragma once
#include <napi.h>

#include <cstring>
#include <string>

namespace segw {

inline Napi::Error SysError(Napi::Env env, const char* syscall, int err) {
  const char* name = strerrorname_np(err);
  std::string code = name ? name : "E" + std::to_string(err);
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + " failed: " + code + " (" + strerror(err) + ")");
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

/** Throws SysError and returns undefined (for `return Throw(env, "bind", errno);`). */
inline Napi::Value Throw(Napi::Env env, const char* syscall, int err) {
  SysError(env, syscall, err).ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace segw
