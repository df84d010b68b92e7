#include "esp/convert.h"

#include <arpa/inet.h>

#include <cstring>

namespace segw::esp::js {

uint64_t toU64(const Napi::Value& v) {
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  if (v.IsNumber()) return uint64_t(v.As<Napi::Number>().Int64Value());
  return 0;
}

static uint32_t u32(const Napi::Object& o, const char* k, uint32_t def = 0) {
  Napi::Value v = o.Get(k);
  return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : def;
}

static bool flag(const Napi::Object& o, const char* k) {
  Napi::Value v = o.Get(k);
  return v.IsBoolean() && v.As<Napi::Boolean>().Value();
}

static bool addr(const Napi::Value& v, uint8_t family, uint8_t* out, std::string& err) {
  if (!v.IsString()) return err = "address must be a string", false;
  std::string s = v.As<Napi::String>();
  if (inet_pton(family == 4 ? AF_INET : AF_INET6, s.c_str(), out) != 1)
    return err = "bad IPv" + std::to_string(family) + " address: " + s, false;
  return true;
}

static uint8_t familyOf(const Napi::Value& v) {
  if (!v.IsString()) return 0;
  std::string s = v.As<Napi::String>();
  uint8_t b[16];
  if (inet_pton(AF_INET, s.c_str(), b) == 1) return 4;
  if (inet_pton(AF_INET6, s.c_str(), b) == 1) return 6;
  return 0;
}

bool toSelector(const Napi::Object& o, Selector& out, std::string& err) {
  out.family = uint8_t(u32(o, "family", 4));
  out.proto = uint8_t(u32(o, "protocol"));
  uint8_t b[16];
  if (!addr(o.Get("startAddr"), out.family, b, err)) return false;
  out.start = addrFromBytes(b, out.family);
  if (!addr(o.Get("endAddr"), out.family, b, err)) return false;
  out.end = addrFromBytes(b, out.family);
  out.portStart = uint16_t(u32(o, "startPort", 0));
  out.portEnd = uint16_t(u32(o, "endPort", 65535));
  return true;
}

static bool selectors(const Napi::Value& v, std::vector<Selector>& out, std::string& err) {
  if (!v.IsArray()) return true;
  auto a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Selector s;
    if (!toSelector(a.Get(i).As<Napi::Object>(), s, err)) return false;
    out.push_back(s);
  }
  return true;
}

bool toPath(const Napi::Object& o, SaPath& out, std::string& err) {
  out.family = familyOf(o.Get("src"));
  if (!out.family || familyOf(o.Get("dst")) != out.family) return err = "src and dst must be addresses of one family", false;
  if (!addr(o.Get("src"), out.family, out.src, err) || !addr(o.Get("dst"), out.family, out.dst, err)) return false;
  out.encap = flag(o, "encap");
  out.sport = uint16_t(u32(o, "sport"));
  out.dport = uint16_t(u32(o, "dport"));
  return true;
}

static bool keys(const Napi::Object& o, SuiteKeys& k, std::string& err) {
  std::string enc = o.Get("encryption").IsString() ? o.Get("encryption").As<Napi::String>().Utf8Value() : "";
  std::string integ = o.Get("integrity").IsString() ? o.Get("integrity").As<Napi::String>().Utf8Value() : "none";
  if (!o.Get("encryptionKey").IsBuffer()) return err = "encryptionKey must be a Buffer", false;
  auto ek = o.Get("encryptionKey").As<Napi::Buffer<uint8_t>>();
  if (enc == "aes-gcm-16") {
    if (ek.Length() < spec::kGcmSaltLen + 16) return err = "AES-GCM key must be key || 4-byte salt (RFC 4106 §8.1)", false;
    k.enc = EncAlg::AesGcm16;
    k.encKey.assign(ek.Data(), ek.Data() + ek.Length() - spec::kGcmSaltLen);
    memcpy(k.salt, ek.Data() + ek.Length() - spec::kGcmSaltLen, spec::kGcmSaltLen);
  } else if (enc == "aes-cbc") {
    k.enc = EncAlg::AesCbc;
    k.encKey.assign(ek.Data(), ek.Data() + ek.Length());
  } else {
    return err = "unknown encryption '" + enc + "'", false;
  }
  if (integ == "none") k.integ = IntegAlg::None;
  else if (integ == "hmac-sha2-256-128") k.integ = IntegAlg::HmacSha256_128;
  else if (integ == "hmac-sha2-384-192") k.integ = IntegAlg::HmacSha384_192;
  else if (integ == "hmac-sha2-512-256") k.integ = IntegAlg::HmacSha512_256;
  else return err = "unknown integrity '" + integ + "'", false;
  if (k.integ != IntegAlg::None) {
    if (!o.Get("integrityKey").IsBuffer()) return err = "integrityKey must be a Buffer", false;
    auto ik = o.Get("integrityKey").As<Napi::Buffer<uint8_t>>();
    k.integKey.assign(ik.Data(), ik.Data() + ik.Length());
  }
  return true;
}

bool toSaSpec(const Napi::Object& o, SaSpec& out, std::string& err) {
  out.spi = u32(o, "spi");
  Napi::Value dir = o.Get("direction");
  out.inbound = dir.IsString() && dir.As<Napi::String>().Utf8Value() == "in";
  if (!keys(o, out.keys, err)) return false;
  out.esn = flag(o, "esn");
  out.replayWindow = u32(o, "replayWindow");
  out.reqid = u32(o, "reqid");
  out.seq = toU64(o.Get("seq"));
  if (o.Get("lifetime").IsObject()) {
    auto l = o.Get("lifetime").As<Napi::Object>();
    out.lifetime = {toU64(l.Get("softBytes")), toU64(l.Get("hardBytes")), toU64(l.Get("softPackets")),
                    toU64(l.Get("hardPackets"))};
  }
  if (!selectors(o.Get("localTs"), out.localTs, err) || !selectors(o.Get("remoteTs"), out.remoteTs, err)) return false;
  if (o.Get("path").IsObject()) return toPath(o.Get("path").As<Napi::Object>(), out.path, err);
  return true;
}

bool toPolicySpec(const Napi::Object& o, PolicySpec& out, std::string& err) {
  if (!o.Get("src").IsObject() || !o.Get("dst").IsObject()) return err = "policy needs src and dst selectors", false;
  if (!toSelector(o.Get("src").As<Napi::Object>(), out.src, err)) return false;
  if (!toSelector(o.Get("dst").As<Napi::Object>(), out.dst, err)) return false;
  out.priority = u32(o, "priority");
  out.reqid = u32(o, "reqid");
  if (!o.Get("prefixes").IsArray()) return err = "policy needs destination prefixes", false;
  auto a = o.Get("prefixes").As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    auto p = a.Get(i).As<Napi::Object>();
    uint8_t b[16];
    if (!addr(p.Get("address"), out.dst.family, b, err)) return false;
    uint8_t len = uint8_t(u32(p, "length"));
    out.prefixes.push_back({maskAddr(addrFromBytes(b, out.dst.family), out.dst.family, len), len});
  }
  return true;
}

Napi::Value endpointToJs(Napi::Env env, const Endpoint& e) {
  auto o = Napi::Object::New(env);
  o.Set("address", endpointAddress(e));
  o.Set("port", endpointPort(e));
  return o;
}

}  // namespace segw::esp::js
