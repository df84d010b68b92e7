#include "esp/packet.h"

#include <cstring>

namespace segw::esp {

const char* verdictName(Verdict v) {
  static const char* const names[] = {
      "ok",           "dummy",      "no-sa",       "replay",          "integrity",     "truncated",
      "malformed",    "bad-padding", "bad-next-header", "bad-inner", "policy-mismatch", "sa-dead",
      "seq-overflow", "no-policy",  "too-big",     "crypto-error"};
  static_assert(sizeof names / sizeof names[0] == size_t(Verdict::Count));
  return names[size_t(v)];
}

uint64_t allocSeq(Sa& sa, uint32_t n) {
  uint64_t limit = sa.seqLimit();
  uint64_t cur = sa.seqOut.load(std::memory_order_relaxed);
  do {
    if (limit - cur < n) return 0;
  } while (!sa.seqOut.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
  return cur + 1;
}

static size_t paddedLen(const Sa& sa, size_t innerLen) {
  size_t a = sa.crypto->align();
  return (innerLen + spec::kTrailerLen + a - 1) / a * a;
}

size_t espLength(const Sa& sa, size_t innerLen) {
  return espPayloadOffset(sa) + paddedLen(sa, innerLen) + sa.crypto->icvLen();
}

static void put32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24); p[1] = uint8_t(v >> 16); p[2] = uint8_t(v >> 8); p[3] = uint8_t(v);
}

Verdict espSeal(Sa& sa, int slot, uint8_t* pkt, size_t innerLen, uint8_t nextHeader, uint64_t seq) {
  put32(pkt, sa.spi);
  put32(pkt + 4, uint32_t(seq));
  if (sa.crypto->ivLen() == spec::kGcmIvLen) {
    // RFC 4106 §3.1: the IV must not repeat under a key; the 64-bit sequence number never does.
    put32(pkt + 8, uint32_t(seq >> 32));
    put32(pkt + 12, uint32_t(seq));
  }
  size_t off = espPayloadOffset(sa);
  size_t plain = paddedLen(sa, innerLen);
  size_t pad = plain - innerLen - spec::kTrailerLen;
  uint8_t* t = pkt + off + innerLen;
  for (size_t i = 0; i < pad; i++) t[i] = uint8_t(i + 1);  // RFC 4303 §2.4 default padding
  t[pad] = uint8_t(pad);
  t[pad + 1] = nextHeader;
  if (!sa.crypto->seal(slot, pkt, plain, sa.esn, uint32_t(seq >> 32))) return Verdict::CryptoError;
  return Verdict::Ok;
}

Verdict espPrecheck(Sa& sa, const uint8_t* pkt, size_t len, Opened& o) {
  size_t min = espPayloadOffset(sa) + spec::kTrailerLen + sa.crypto->icvLen();
  if (len < min) return Verdict::Truncated;
  uint32_t seql = uint32_t(pkt[4]) << 24 | uint32_t(pkt[5]) << 16 | uint32_t(pkt[6]) << 8 | pkt[7];
  uint64_t hi = sa.esn ? sa.replay.inferHigh(seql) : 0;
  o.seq = hi << 32 | seql;
  if (!sa.replay.check(o.seq)) return Verdict::Replay;
  return Verdict::Ok;
}

Verdict espOpen(Sa& sa, int slot, uint8_t* pkt, size_t len, Opened& o) {
  size_t off = espPayloadOffset(sa);
  size_t icv = sa.crypto->icvLen();
  size_t cipherLen = len - off - icv;
  if (sa.crypto->align() == spec::kAesBlock && cipherLen % spec::kAesBlock) return Verdict::Malformed;
  if (!sa.crypto->open(slot, pkt, len, sa.esn, uint32_t(o.seq >> 32))) return Verdict::Integrity;
  const uint8_t* plain = pkt + off;
  size_t padLen = plain[cipherLen - 2];
  if (padLen + spec::kTrailerLen > cipherLen) return Verdict::BadPadding;
  const uint8_t* padding = plain + cipherLen - spec::kTrailerLen - padLen;
  for (size_t i = 0; i < padLen; i++)
    if (padding[i] != uint8_t(i + 1)) return Verdict::BadPadding;
  o.nextHeader = plain[cipherLen - 1];
  o.payloadOff = off;
  o.payloadLen = cipherLen - spec::kTrailerLen - padLen;
  return Verdict::Ok;
}

Verdict espCommit(Sa& sa, const Opened& o) {
  std::lock_guard<std::mutex> g(sa.replayMu);
  return espCommitLocked(sa, o);
}

Verdict espCommitLocked(Sa& sa, const Opened& o) { return sa.replay.update(o.seq) ? Verdict::Ok : Verdict::Replay; }

Verdict tunnelCheck(const Sa& sa, uint8_t nextHeader, const uint8_t* ip, size_t& len) {
  if (nextHeader == spec::kNextHeaderNone) return Verdict::Dummy;
  if (nextHeader != spec::kNextHeaderIpv4 && nextHeader != spec::kNextHeaderIpv6) return Verdict::BadNextHeader;
  FlowKey k;
  if (!parseFlow(ip, len, k)) return Verdict::BadInner;
  if ((k.family == 4) != (nextHeader == spec::kNextHeaderIpv4)) return Verdict::BadInner;
  len = k.family == 4 ? size_t(ip[2] << 8 | ip[3]) : 40 + size_t(ip[4] << 8 | ip[5]);  // drop TFC padding
  if (!innerAllowed(sa, k)) return Verdict::PolicyMismatch;
  return Verdict::Ok;
}

}  // namespace segw::esp
