// Component registry for the segw addon: each component (tun, socket, esp, ...) adds its exports
// with SEGW_REGISTER(name, InitFn) in its own .cc file, so components never edit a shared file.
#pragma once
#include <napi.h>
#include <vector>

namespace segw {

using InitFn = void (*)(Napi::Env env, Napi::Object exports);

struct Registration {
  const char* name;
  InitFn init;
};

inline std::vector<Registration>& registry() {
  static std::vector<Registration> r;
  return r;
}

struct Registrar {
  Registrar(const char* name, InitFn fn) { registry().push_back({name, fn}); }
};

}  // namespace segw

#define SEGW_REGISTER(name, fn) static ::segw::Registrar segw_registrar_##name(#name, fn)
