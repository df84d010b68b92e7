// JavaScript <-> engine conversions for binding.cc: SA, policy and selector objects as the
// TypeScript wrapper (src/kernel/userspace/native.ts) builds them.
#pragma once
#include <napi.h>

#include <string>

#include "esp/engine.h"

namespace segw::esp::js {

bool toSaSpec(const Napi::Object& o, SaSpec& out, std::string& err);
bool toPath(const Napi::Object& o, SaPath& out, std::string& err);
bool toPolicySpec(const Napi::Object& o, PolicySpec& out, std::string& err);
bool toSelector(const Napi::Object& o, Selector& out, std::string& err);
uint64_t toU64(const Napi::Value& v);
Napi::Value endpointToJs(Napi::Env env, const Endpoint& e);

}  // namespace segw::esp::js
