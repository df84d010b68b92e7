// Module entry point: runs every registered component's init (see registry.h).
#include "registry.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Array components = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& r : segw::registry()) {
    r.init(env, exports);
    components.Set(i++, Napi::String::New(env, r.name));
  }
  exports.Set("components", components);
  return exports;
}

}  // namespace

NODE_API_MODULE(segw, Init)
