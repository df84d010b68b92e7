// Build facts the TypeScript side checks at start: which OpenSSL the addon is bound to (it must
// be the one inside the node binary) and which kernel features the addon was compiled for.
#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include "registry.h"

namespace {

Napi::Value OpensslVersion(const Napi::CallbackInfo& info) {
  // OpenSSL_version() is resolved at load time against the node binary's exported symbols.
  return Napi::String::New(info.Env(), OpenSSL_version(OPENSSL_VERSION));
}

void InitInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("opensslVersion", Napi::Function::New(env, OpensslVersion, "opensslVersion"));
  exports.Set("opensslHeaderVersion", Napi::String::New(env, OPENSSL_VERSION_TEXT));
}

}  // namespace

SEGW_REGISTER(info, InitInfo);
