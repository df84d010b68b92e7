// Shared pieces of the libFuzzer targets in native/fuzz: SAs built the way the engine builds
// them (fixed keys, selectors from the input), and a cursor that takes bytes off the input.
// The targets call the engine's own stage functions (packet.h, offload.h) directly, so what is
// fuzzed is the code the pipeline runs, minus sockets and threads.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <memory>

#include "esp/packet.h"

namespace segw::esp::fuzz {

// Aborts with a message: libFuzzer reports it as a crash with the input that caused it.
#define FUZZ_CHECK(cond, what)                                            \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", what, __FILE__, __LINE__); \
      abort();                                                            \
    }                                                                     \
  } while (0)

class Input {
 public:
  Input(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  uint8_t u8() { return n_ ? (n_--, *d_++) : 0; }
  uint16_t u16() { return uint16_t(u8() << 8 | u8()); }
  uint32_t u32() { return uint32_t(u16()) << 16 | u16(); }
  const uint8_t* rest() const { return d_; }
  size_t left() const { return n_; }
  // Takes up to `n` bytes; returns how many were taken.
  size_t take(size_t n, const uint8_t** out) {
    if (n > n_) n = n_;
    *out = d_;
    d_ += n, n_ -= n;
    return n;
  }

 private:
  const uint8_t* d_;
  size_t n_;
};

// Suites the engine supports: AES-GCM-16 (RFC 4106) and AES-CBC + HMAC-SHA-256-128 (RFC 3602,
// RFC 4868). Keys are fixed: what is fuzzed is the packet, not the key schedule.
inline SuiteKeys suite(bool cbc) {
  SuiteKeys k;
  if (cbc) {
    k.enc = EncAlg::AesCbc;
    k.integ = IntegAlg::HmacSha256_128;
    k.encKey.assign(16, 0x42);
    k.integKey.assign(32, 0x24);
  } else {
    k.enc = EncAlg::AesGcm16;
    k.encKey.assign(16, 0x42);
    for (size_t i = 0; i < spec::kGcmSaltLen; i++) k.salt[i] = uint8_t(0xa0 + i);
  }
  return k;
}

constexpr uint32_t kSpi = 0xc0ffee01;

// Selectors: "any" of both families, or one /24 (IPv4) or /48 (IPv6) per side, chosen by `shape`.
inline void selectors(Sa& sa, uint8_t shape) {
  auto any = [](uint8_t fam) {
    Selector s;
    s.family = fam;
    s.start = Addr{};
    s.end = fam == 4 ? Addr{0, 0xffffffffull} : Addr{~0ull, ~0ull};
    return s;
  };
  if ((shape & 3) == 0) {
    sa.localTs = {any(4), any(6)};
    sa.remoteTs = {any(4), any(6)};
    return;
  }
  Selector l4, r4, l6, r6;
  l4.start = Addr{0, 0xcb007100}, l4.end = Addr{0, 0xcb0071ff};   // 203.0.113.0/24
  r4.start = Addr{0, 0xc6336400}, r4.end = Addr{0, 0xc63364ff};   // 198.51.100.0/24
  l6.family = r6.family = 6;
  l6.start = Addr{0x20010db800200000ull, 0}, l6.end = Addr{0x20010db80020ffffull, ~0ull};
  r6.start = Addr{0x20010db800100000ull, 0}, r6.end = Addr{0x20010db80010ffffull, ~0ull};
  if (shape & 4) l4.proto = r4.proto = l6.proto = r6.proto = spec::kProtoUdp;
  if (shape & 8) l4.portStart = l4.portEnd = r6.portStart = r6.portEnd = 2152;  // GTP-U
  sa.localTs = {l4, l6};
  sa.remoteTs = {r4, r6};
}

inline std::unique_ptr<Sa> makeSa(bool inbound, bool cbc, bool esn, uint32_t window, uint8_t shape) {
  auto sa = std::make_unique<Sa>();
  sa->id = inbound ? 1 : 2;
  sa->spi = kSpi;
  sa->inbound = inbound;
  sa->esn = esn;
  sa->crypto = std::make_unique<SaCrypto>(suite(cbc), !inbound);
  sa->replay.init(window);
  selectors(*sa, shape);
  return sa;
}

}  // namespace segw::esp::fuzz
