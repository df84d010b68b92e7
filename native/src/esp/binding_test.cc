// Test entry points, kept off the production EspEngine class (STYLE habit 11): exports.espTest
// runs single packets through the pipeline's own stage functions on the JavaScript thread
// (crypto slot 0, its own epoch pin) for known-answer tests, capture decryption, replay and
// malformed-packet tests; sets sequence counters; runs the receive-side TCP coalescing alone.
// Each takes the EspEngine as its first argument. Plus the crypto loop bench and the KATs.
#include <napi.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "esp/convert.h"
#include "esp/engine.h"
#include "esp/offload.h"

namespace segw::esp {

Engine* engineOf(Napi::Value v);  // binding.cc

static Napi::Object result(Napi::Env env, Verdict v) {
  auto o = Napi::Object::New(env);
  o.Set("verdict", verdictName(v));
  return o;
}

static Napi::Value espSealOne(Engine& e, Napi::Env env, uint32_t id, const uint8_t* payload, size_t len, uint8_t nh) {
  EpochGuard pin(e.epochs(), e.jsPin());
  Sa* sa = e.saById(id);
  if (!sa || sa->inbound) return result(env, Verdict::NoSa);
  if (sa->dead.load()) return result(env, Verdict::SaDead);
  uint64_t seq = allocSeq(*sa, 1);
  if (!seq) {
    e.expire(*sa, true, ExpireReason::Sequence);
    return result(env, Verdict::SeqOverflow);
  }
  if (seq + 1 > sa->seqLimit() - kSeqSoftMargin) e.expire(*sa, false, ExpireReason::Sequence);
  std::vector<uint8_t> buf(espLength(*sa, len));
  memcpy(buf.data() + espPayloadOffset(*sa), payload, len);
  Verdict v = espSeal(*sa, 0, buf.data(), len, nh, seq);
  auto o = result(env, v);
  if (v == Verdict::Ok) {
    e.account(*sa, 1, len);
    o.Set("packet", Napi::Buffer<uint8_t>::Copy(env, buf.data(), buf.size()));
  }
  return o;
}

// Precheck, open and commit: the inbound stages without the tunnel-mode checks.
static Verdict openStages(Engine& e, Sa& sa, uint8_t* p, size_t len, Opened& o) {
  if (sa.dead.load()) return Verdict::SaDead;
  Verdict v = espPrecheck(sa, p, len, o);
  if (v == Verdict::Ok) v = espOpen(sa, 0, p, len, o);
  if (v == Verdict::Ok) v = espCommit(sa, o);
  return v;
}

static Napi::Value espOpenOne(Engine& e, Napi::Env env, uint32_t id, const uint8_t* pkt, size_t len) {
  EpochGuard pin(e.epochs(), e.jsPin());
  Sa* sa = e.saById(id);
  if (!sa || !sa->inbound) return result(env, Verdict::NoSa);
  std::vector<uint8_t> buf(pkt, pkt + len);
  Opened o;
  Verdict v = openStages(e, *sa, buf.data(), len, o);
  auto r = result(env, v);
  if (v != Verdict::Ok) {
    countDrop(e, *sa, v);
    return r;
  }
  e.account(*sa, 1, o.payloadLen);
  r.Set("seq", Napi::BigInt::New(env, o.seq));
  r.Set("nextHeader", o.nextHeader);
  r.Set("payload", Napi::Buffer<uint8_t>::Copy(env, buf.data() + o.payloadOff, o.payloadLen));
  return r;
}

static Napi::Value decapsulateOne(Engine& e, Napi::Env env, const uint8_t* pkt, size_t len) {
  EpochGuard pin(e.epochs(), e.jsPin());
  if (len < spec::kEspHeaderLen) return result(env, Verdict::Truncated);
  uint32_t spi = uint32_t(pkt[0]) << 24 | uint32_t(pkt[1]) << 16 | uint32_t(pkt[2]) << 8 | pkt[3];
  Sa* sa = e.inboundSa(spi);
  if (!sa) return result(env, Verdict::NoSa);
  std::vector<uint8_t> buf(pkt, pkt + len);
  Opened o;
  Verdict v = openStages(e, *sa, buf.data(), len, o);
  size_t ipLen = o.payloadLen;
  if (v == Verdict::Ok) v = tunnelCheck(*sa, o.nextHeader, buf.data() + o.payloadOff, ipLen);
  auto r = result(env, v);
  r.Set("sa", sa->id);
  if (v != Verdict::Ok) {
    countDrop(e, *sa, v);
    return r;
  }
  e.account(*sa, 1, ipLen);
  r.Set("seq", Napi::BigInt::New(env, o.seq));
  r.Set("inner", Napi::Buffer<uint8_t>::Copy(env, buf.data() + o.payloadOff, ipLen));
  return r;
}

static Napi::Value encapsulateOne(Engine& e, Napi::Env env, const uint8_t* ip, size_t len) {
  FlowKey k;
  if (!parseFlow(ip, len, k)) return result(env, Verdict::BadInner);
  Sa* sa;
  {
    EpochGuard pin(e.epochs(), e.jsPin());
    sa = e.outboundSa(k);
    if (!sa) return result(env, Verdict::NoPolicy);
    if (sa->dead.load()) return result(env, Verdict::SaDead);
  }
  Napi::Value v = espSealOne(e, env, sa->id, ip, len, k.family == 4 ? spec::kNextHeaderIpv4 : spec::kNextHeaderIpv6);
  v.As<Napi::Object>().Set("sa", sa->id);
  return v;
}

// Sets an SA's counter: outbound, the last sequence number used; inbound, restarts the replay
// window at `seq` (in place: the packet path may be reading it, see ReplayWindow::reset).
static bool setSeq(Engine& e, uint32_t id, uint64_t seq) {
  Sa* sa = e.saById(id);
  if (!sa) return false;
  if (sa->inbound) {
    std::lock_guard<std::mutex> g(sa->replayMu);
    sa->replay.reset(seq);
  } else {
    sa->seqOut.store(seq);
  }
  return true;
}

namespace {

Napi::Value HookSetSeq(const Napi::CallbackInfo& info) {
  Engine* e = engineOf(info[0]);
  if (!e) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), setSeq(*e, info[1].As<Napi::Number>().Uint32Value(), js::toU64(info[2])));
}

Napi::Value HookSeal(const Napi::CallbackInfo& info) {
  Engine* e = engineOf(info[0]);
  if (!e) return info.Env().Undefined();
  auto p = info[2].As<Napi::Buffer<uint8_t>>();
  return espSealOne(*e, info.Env(), info[1].As<Napi::Number>().Uint32Value(), p.Data(), p.Length(),
                    uint8_t(info[3].As<Napi::Number>().Uint32Value()));
}

Napi::Value HookOpen(const Napi::CallbackInfo& info) {
  Engine* e = engineOf(info[0]);
  if (!e) return info.Env().Undefined();
  auto p = info[2].As<Napi::Buffer<uint8_t>>();
  return espOpenOne(*e, info.Env(), info[1].As<Napi::Number>().Uint32Value(), p.Data(), p.Length());
}

Napi::Value HookDecapsulate(const Napi::CallbackInfo& info) {
  Engine* e = engineOf(info[0]);
  if (!e) return info.Env().Undefined();
  auto p = info[1].As<Napi::Buffer<uint8_t>>();
  return decapsulateOne(*e, info.Env(), p.Data(), p.Length());
}

Napi::Value HookEncapsulate(const Napi::CallbackInfo& info) {
  Engine* e = engineOf(info[0]);
  if (!e) return info.Env().Undefined();
  auto p = info[1].As<Napi::Buffer<uint8_t>>();
  return encapsulateOne(*e, info.Env(), p.Data(), p.Length());
}

// espTest.coalesce(packets: Buffer[]): the receive side's TCP coalescing (offload.h coalesce)
// over decrypted inner packets, as the inbound lane runs it before writing to the TUN device.
// Returns one { merged, flags, gsoType, gsoSize, packet } per write (packet: the bytes written
// after the virtio header).
Napi::Value HookCoalesce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto arr = info[0].As<Napi::Array>();
  std::vector<std::vector<uint8_t>> bufs;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    auto b = arr.Get(i).As<Napi::Buffer<uint8_t>>();
    bufs.emplace_back(b.Data(), b.Data() + b.Length());
  }
  std::vector<Span> spans;
  for (auto& b : bufs) spans.push_back({b.data(), b.size()});
  auto out = Napi::Array::New(env);
  constexpr size_t kMaxIov = 64;
  iovec iov[kMaxIov];
  for (size_t i = 0; i < spans.size();) {
    VnetHdr h;
    size_t used = 0;
    size_t merged = coalesce(spans.data(), spans.size(), i, h, iov, kMaxIov, used);
    std::vector<uint8_t> bytes;
    for (size_t k = 1; k < used; k++) {
      auto* p = static_cast<uint8_t*>(iov[k].iov_base);
      bytes.insert(bytes.end(), p, p + iov[k].iov_len);
    }
    auto w = Napi::Object::New(env);
    w.Set("merged", double(merged));
    w.Set("flags", h.flags);
    w.Set("gsoType", h.gsoType);
    w.Set("gsoSize", h.gsoSize);
    w.Set("packet", Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size()));
    out.Set(out.Length(), w);
    i += merged;
  }
  return out;
}

// espTest.segment(read: Buffer): the outbound lane's split of one TUN read (10-byte virtio-net
// header + packet) into IP packets (offload.h segmentCount/tsoHeaderLen/segmentTo). Returns
// { headerLen, packets } with packets empty when the read is refused as malformed.
Napi::Value HookSegment(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto b = info[0].As<Napi::Buffer<uint8_t>>();
  auto out = Napi::Object::New(env);
  auto pkts = Napi::Array::New(env);
  out.Set("packets", pkts);
  out.Set("headerLen", 0);
  if (b.Length() < sizeof(VnetHdr)) return out;
  VnetHdr h;
  memcpy(&h, b.Data(), sizeof h);
  std::vector<uint8_t> pkt(b.Data() + sizeof h, b.Data() + b.Length());
  size_t segs = segmentCount(h, pkt.data(), pkt.size());
  size_t hdr = tsoHeaderLen(h, pkt.data(), pkt.size());
  out.Set("headerLen", double(hdr));
  if (segs > 4096) return out;
  for (size_t i = 0; i < segs; i++) {
    std::vector<uint8_t> seg(hdr && hdr + h.gsoSize < pkt.size() ? hdr + h.gsoSize : pkt.size());
    size_t n = segmentTo(h, pkt.data(), pkt.size(), i, seg.data());
    pkts.Set(uint32_t(i), Napi::Buffer<uint8_t>::Copy(env, seg.data(), n));
  }
  return out;
}

}  // namespace

namespace {

// espCryptoBench({ encryption, keyBytes, size, count, threads }): the engine's seal stage on
// `threads` threads, each with its own SA (as separate tunnels would), `count` packets of `size`
// inner bytes each. Returns { seconds, packets, bytes } with bytes = inner bytes encrypted.
Napi::Value CryptoBench(const Napi::CallbackInfo& info) {
  auto o = info[0].As<Napi::Object>();
  size_t size = o.Get("size").As<Napi::Number>().Uint32Value();
  uint64_t count = uint64_t(o.Get("count").As<Napi::Number>().Int64Value());
  int threads = o.Get("threads").As<Napi::Number>().Int32Value();
  size_t keyBytes = o.Get("keyBytes").IsNumber() ? o.Get("keyBytes").As<Napi::Number>().Uint32Value() : 16;
  bool gcm = !o.Get("encryption").IsString() || o.Get("encryption").As<Napi::String>().Utf8Value() == "aes-gcm-16";
  if (threads < 1 || threads >= kMaxCryptoSlots || size > 9000) {
    Napi::Error::New(info.Env(), "espCryptoBench: threads 1..15, size <= 9000").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  std::vector<std::unique_ptr<Sa>> sas;
  for (int t = 0; t < threads; t++) {
    SuiteKeys k;
    k.enc = gcm ? EncAlg::AesGcm16 : EncAlg::AesCbc;
    k.encKey.assign(keyBytes, uint8_t(0x40 + t));
    if (!gcm) k.integ = IntegAlg::HmacSha256_128, k.integKey.assign(32, 0x11);
    auto sa = std::make_unique<Sa>();
    sa->spi = 0x1000 + t;
    sa->inbound = false;
    sa->crypto = std::make_unique<SaCrypto>(k, true);
    sas.push_back(std::move(sa));
  }
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++) {
    ts.emplace_back([&, t] {
      Sa& sa = *sas[t];
      std::vector<uint8_t> buf(espLength(sa, size) + 64, 0x45);
      for (uint64_t i = 0; i < count; i++) espSeal(sa, t + 1, buf.data(), size, spec::kNextHeaderIpv4, allocSeq(sa, 1));
    });
  }
  for (auto& t : ts) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto r = Napi::Object::New(info.Env());
  r.Set("seconds", secs);
  r.Set("packets", double(count) * threads);
  r.Set("bytes", double(count) * threads * double(size));
  r.Set("implementation", sas[0]->crypto->implementation());
  return r;
}

// espIntegrityKat(alg, key, data): the engine's truncated HMAC, for RFC 4868's test cases.
Napi::Value IntegrityKat(const Napi::CallbackInfo& info) {
  std::string alg = info[0].As<Napi::String>();
  auto key = info[1].As<Napi::Buffer<uint8_t>>();
  auto data = info[2].As<Napi::Buffer<uint8_t>>();
  IntegAlg a = alg == "hmac-sha2-256-128" ? IntegAlg::HmacSha256_128
               : alg == "hmac-sha2-384-192" ? IntegAlg::HmacSha384_192
                                            : IntegAlg::HmacSha512_256;
  auto out = integrityKat(a, std::vector<uint8_t>(key.Data(), key.Data() + key.Length()), data.Data(), data.Length());
  return Napi::Buffer<uint8_t>::Copy(info.Env(), out.data(), out.size());
}

// espGcm({ impl: 'vaes' | 'openssl', key, nonce, aad, data, tag? }): AES-GCM alone through
// gcm.h or through EVP. Without `tag`: encrypts, returns { data, tag }. With: decrypts,
// returns { ok, data } (data is unauthenticated garbage when ok is false).
Napi::Value Gcm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = info[0].As<Napi::Object>();
  auto buf = [&](const char* k) { return o.Get(k).As<Napi::Buffer<uint8_t>>(); };
  bool vaes = o.Get("impl").As<Napi::String>().Utf8Value() == "vaes";
  auto key = buf("key"), nonce = buf("nonce"), aad = buf("aad"), data = buf("data");
  bool decrypt = o.Get("tag").IsBuffer();
  if (nonce.Length() != 12 || (vaes && !gcm::cpuSupported())) {
    Napi::Error::New(env, "espGcm: 12-byte nonce; impl 'vaes' needs a CPU with VAES").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<uint8_t> d(data.Data(), data.Data() + data.Length());
  std::vector<uint8_t> k(key.Data(), key.Data() + key.Length());
  std::vector<uint8_t> tag(16);
  if (decrypt) tag.assign(buf("tag").Data(), buf("tag").Data() + buf("tag").Length());
  bool ok;
  if (vaes) {
    auto gk = std::make_unique<gcm::Key>();
    if (!gcm::init(*gk, k.data(), k.size())) {
      Napi::Error::New(env, "espGcm: the vector code takes 16- or 32-byte keys").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (decrypt) ok = gcm::open(*gk, nonce.Data(), aad.Data(), aad.Length(), d.data(), d.size(), tag.data(), tag.size());
    else gcm::seal(*gk, nonce.Data(), aad.Data(), aad.Length(), d.data(), d.size(), tag.data()), ok = true;
  } else {
    ok = gcmEvp(!decrypt, k, nonce.Data(), aad.Data(), aad.Length(), d.data(), d.size(), tag.data(), tag.size());
  }
  auto r = Napi::Object::New(env);
  r.Set("ok", ok);
  r.Set("data", Napi::Buffer<uint8_t>::Copy(env, d.data(), d.size()));
  if (!decrypt) r.Set("tag", Napi::Buffer<uint8_t>::Copy(env, tag.data(), tag.size()));
  return r;
}

// espGcmSelect(impl?: 'openssl' | 'vaes'): the AES-GCM implementation of SAs added from now on
// (gcm.h); returns the selection in force. Throws if 'vaes' is asked for on a CPU without it.
Napi::Value GcmSelect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    std::string impl = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    if (impl != "openssl" && impl != "vaes") {
      Napi::TypeError::New(env, "espGcmSelect: 'openssl' or 'vaes'").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!gcm::select(impl == "vaes")) {
      Napi::Error::New(env, "espGcmSelect: this CPU lacks VAES/VPCLMULQDQ/AVX-512").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  return Napi::String::New(env, gcm::enabled() ? "vaes" : "openssl");
}

}  // namespace

void initTestHooks(Napi::Env env, Napi::Object exports) {
  auto t = Napi::Object::New(env);
  t.Set("setSeq", Napi::Function::New(env, HookSetSeq, "setSeq"));
  t.Set("seal", Napi::Function::New(env, HookSeal, "seal"));
  t.Set("open", Napi::Function::New(env, HookOpen, "open"));
  t.Set("decapsulate", Napi::Function::New(env, HookDecapsulate, "decapsulate"));
  t.Set("encapsulate", Napi::Function::New(env, HookEncapsulate, "encapsulate"));
  t.Set("coalesce", Napi::Function::New(env, HookCoalesce, "coalesce"));
  t.Set("segment", Napi::Function::New(env, HookSegment, "segment"));
  exports.Set("espTest", t);
  exports.Set("espGcm", Napi::Function::New(env, Gcm, "espGcm"));
  exports.Set("espGcmVectorSupported", Napi::Boolean::New(env, gcm::cpuSupported()));
  exports.Set("espGcmSelect", Napi::Function::New(env, GcmSelect, "espGcmSelect"));
  exports.Set("espCryptoBench", Napi::Function::New(env, CryptoBench, "espCryptoBench"));
  exports.Set("espIntegrityKat", Napi::Function::New(env, IntegrityKat, "espIntegrityKat"));
}

}  // namespace segw::esp
