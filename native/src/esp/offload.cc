#include "esp/offload.h"

#include <immintrin.h>

#include <cstring>

#include "esp/spec.h"

namespace segw::esp {

namespace {

uint64_t csumAddScalar(const uint8_t* p, size_t len, uint64_t sum) {
  uint64_t s2 = 0;
  while (len >= 16) {
    uint32_t w[4];
    memcpy(w, p, 16);
    sum += uint64_t(w[0]) + w[1];
    s2 += uint64_t(w[2]) + w[3];
    p += 16;
    len -= 16;
  }
  sum += s2;
  while (len >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    sum += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    sum += w;
    p += 2;
    len -= 2;
  }
  if (len) sum += *p;  // little-endian host: the odd byte is the low half of its word
  return sum;
}

// 16-bit words summed in 32-bit lanes, 32 bytes per step: a 32-bit word is congruent to the
// sum of its halves modulo 2^16 - 1, so this folds to the same checksum as the scalar loop.
__attribute__((target("avx2"))) uint64_t csumAddAvx2(const uint8_t* p, size_t len, uint64_t sum) {
  const __m256i low = _mm256_set1_epi32(0xffff);
  while (len >= 32) {
    __m256i acc = _mm256_setzero_si256();
    // At most 2 * 0xffff per lane and step: 16384 steps (512 KiB) stay below 2^32.
    for (size_t steps = 0; len >= 32 && steps < 16384; steps++, p += 32, len -= 32) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
      acc = _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_and_si256(v, low), _mm256_srli_epi32(v, 16)));
    }
    alignas(32) uint32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc);
    for (uint32_t l : lanes) sum += l;
  }
  return csumAddScalar(p, len, sum);
}

const bool kAvx2 = __builtin_cpu_supports("avx2");

}  // namespace

uint64_t csumAdd(const uint8_t* p, size_t len, uint64_t sum) {
  return len >= 64 && kAvx2 ? csumAddAvx2(p, len, sum) : csumAddScalar(p, len, sum);
}

uint64_t csumCopy(uint8_t* dst, const uint8_t* src, size_t len, uint64_t sum) {
  uint64_t s2 = 0;
  while (len >= 16) {
    uint32_t w[4];
    memcpy(w, src, 16);
    memcpy(dst, w, 16);
    sum += uint64_t(w[0]) + w[1];
    s2 += uint64_t(w[2]) + w[3];
    src += 16, dst += 16, len -= 16;
  }
  memcpy(dst, src, len);
  return csumAdd(src, len, sum + s2);
}

uint16_t csumFold(uint64_t sum) {
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}

uint64_t pseudoHeaderSum(const uint8_t* ip, uint8_t proto, uint32_t l4Len) {
  uint8_t tail[8] = {0, 0, uint8_t(l4Len >> 24), uint8_t(l4Len >> 16), uint8_t(l4Len >> 8), uint8_t(l4Len), 0, proto};
  if ((ip[0] >> 4) == 4) {
    uint8_t ph[12];
    memcpy(ph, ip + 12, 8);
    ph[8] = 0, ph[9] = proto, ph[10] = uint8_t(l4Len >> 8), ph[11] = uint8_t(l4Len);
    return csumAdd(ph, 12, 0);
  }
  return csumAdd(tail, 8, csumAdd(ip + 8, 32, 0));
}

static void ipv4HeaderChecksum(uint8_t* ip) {
  size_t ihl = size_t(ip[0] & 0x0f) * 4;
  ip[10] = ip[11] = 0;
  uint16_t c = uint16_t(~csumFold(csumAdd(ip, ihl, 0)));
  memcpy(ip + 10, &c, 2);
}

static void setIpLength(uint8_t* ip, size_t total) {
  if ((ip[0] >> 4) == 4) {
    ip[2] = uint8_t(total >> 8), ip[3] = uint8_t(total);
    ipv4HeaderChecksum(ip);
  } else {
    size_t pl = total - 40;
    ip[4] = uint8_t(pl >> 8), ip[5] = uint8_t(pl);
  }
}

// The length of a TCP super-packet's headers (IP + TCP), or 0 when the virtio-net header does
// not describe a TCP segmentation of this packet. The kernel fills the header from the skb
// (virtio_net_hdr_from_skb): the GSO type names the packet's IP version and csum_start is the TCP
// header's offset, past the whole IP header. segmentTo/finishTcpSegment rewrite the IP header
// below csum_start and read the pseudo-header from it, so a header that breaks that layout (as a
// bug or a hostile writer of the TUN could produce) is refused here rather than trusted.
size_t tsoHeaderLen(const VnetHdr& h, const uint8_t* pkt, size_t len) {
  uint8_t t = h.gsoType & ~kGsoEcn;
  if ((t != kGsoTcpv4 && t != kGsoTcpv6) || h.gsoSize == 0 || len < 20) return 0;
  uint8_t version = pkt[0] >> 4;
  if (version != (t == kGsoTcpv4 ? 4 : 6)) return 0;
  size_t ipHdr = version == 4 ? size_t(pkt[0] & 0x0f) * 4 : 40;
  size_t l4 = h.csumStart;
  if (ipHdr < 20 || l4 < ipHdr || l4 + 20 > len) return 0;
  size_t hdr = l4 + size_t(pkt[l4 + 12] >> 4) * 4;
  return hdr - l4 >= 20 && hdr <= len ? hdr : 0;
}

size_t segmentCount(const VnetHdr& h, const uint8_t* pkt, size_t len) {
  if (len < 20) return 0;
  if ((h.gsoType & ~kGsoEcn) == kGsoNone) return 1;
  size_t hdr = tsoHeaderLen(h, pkt, len);
  if (hdr == 0) return 0;
  if (hdr == len) return 1;
  return (len - hdr + h.gsoSize - 1) / h.gsoSize;
}

size_t segmentTo(const VnetHdr& h, const uint8_t* pkt, size_t len, size_t i, uint8_t* out) {
  if ((h.gsoType & ~kGsoEcn) == kGsoNone) {
    memcpy(out, pkt, len);
    if (h.flags & kVnetNeedsCsum && size_t(h.csumStart) + h.csumOffset + 2 <= len) {
      // The field holds the pseudo-header sum; finish it over the transport segment.
      uint8_t* field = out + h.csumStart + h.csumOffset;
      uint16_t c = uint16_t(~csumFold(csumAdd(out + h.csumStart, len - h.csumStart, 0)));
      uint8_t proto = (out[0] >> 4) == 4 ? out[9] : out[6];
      if (c == 0 && proto == spec::kProtoUdp) c = 0xffff;  // RFC 768: 0 would mean no checksum
      memcpy(field, &c, 2);
    }
    return len;
  }
  size_t hdr = size_t(h.csumStart) + size_t(pkt[h.csumStart + 12] >> 4) * 4;
  size_t dataOff = hdr + i * h.gsoSize;
  size_t dlen = len - dataOff < h.gsoSize ? len - dataOff : h.gsoSize;
  memcpy(out, pkt, hdr);
  uint64_t dataSum = csumCopy(out + hdr, pkt + dataOff, dlen, 0);
  return finishTcpSegment(h, out, hdr, i, dlen, dataOff + dlen == len, dataSum);
}

size_t finishTcpSegment(const VnetHdr& h, uint8_t* out, size_t hdr, size_t i, size_t dlen, bool last, uint64_t dataSum) {
  size_t l4 = h.csumStart;
  size_t thl = hdr - l4;
  if ((out[0] >> 4) == 4) {
    uint16_t id = uint16_t((out[4] << 8 | out[5]) + i);
    out[4] = uint8_t(id >> 8), out[5] = uint8_t(id);
  }
  setIpLength(out, hdr + dlen);
  uint8_t* tcp = out + l4;
  uint32_t seq = (uint32_t(tcp[4]) << 24 | uint32_t(tcp[5]) << 16 | uint32_t(tcp[6]) << 8 | tcp[7]) + uint32_t(i * h.gsoSize);
  tcp[4] = uint8_t(seq >> 24), tcp[5] = uint8_t(seq >> 16), tcp[6] = uint8_t(seq >> 8), tcp[7] = uint8_t(seq);
  if (!last) tcp[13] &= uint8_t(~0x09);  // FIN and PSH only on the last segment
  if (i > 0) tcp[13] &= uint8_t(~0x80);  // CWR only on the first
  tcp[16] = tcp[17] = 0;
  // Header and data sums add up because the data starts at an even offset (thl % 4 == 0).
  uint64_t sum = pseudoHeaderSum(out, spec::kProtoTcp, uint32_t(thl + dlen)) + dataSum;
  sum = csumAdd(tcp, thl, sum);
  uint16_t c = uint16_t(~csumFold(sum));
  memcpy(tcp + 16, &c, 2);
  return hdr + dlen;
}

namespace {

struct TcpView {
  size_t l4 = 0, thl = 0, payload = 0;
  uint32_t seq = 0;
  uint8_t flags = 0;
};

// True if the TCP checksum of segment `ip` (transport at `l4`, `len` bytes in all) verifies
// (RFC 793 §3.1: the one's-complement sum over pseudo-header, header and data is all ones).
bool tcpChecksumValid(const uint8_t* ip, size_t l4, size_t len) {
  uint64_t sum = pseudoHeaderSum(ip, spec::kProtoTcp, uint32_t(len - l4));
  return csumFold(csumAdd(ip + l4, len - l4, sum)) == 0xffff;
}

// A plain TCP segment (no IP options, not a fragment, only ACK/PSH set) whose checksum verifies.
// The ICV only proves the packet is what the peer's IPsec stack encrypted, not that it left its
// origin intact: a segment damaged before encryption must reach the TCP stack with its bad
// checksum (to be dropped there), never inside a super-packet that gets a fresh one. So the
// checksum is verified here, one pass over the segment, before it is marked valid or merged;
// a segment that fails is written alone, as received, for the kernel to check and drop.
bool tcpCandidate(const Span& p, TcpView& v) {
  const uint8_t* ip = p.data;
  if (p.len < 40) return false;
  if ((ip[0] >> 4) == 4) {
    if ((ip[0] & 0x0f) != 5 || ip[9] != spec::kProtoTcp || ((ip[6] & 0x3f) | ip[7])) return false;
    v.l4 = 20;
  } else {
    if (p.len < 60 || ip[6] != spec::kProtoTcp) return false;
    v.l4 = 40;
  }
  const uint8_t* tcp = ip + v.l4;
  v.thl = size_t(tcp[12] >> 4) * 4;
  if (v.thl < 20 || v.l4 + v.thl > p.len) return false;
  v.flags = tcp[13];
  if ((v.flags & ~0x18) != 0 || !(v.flags & 0x10)) return false;  // ACK, optionally PSH
  if (!tcpChecksumValid(ip, v.l4, p.len)) return false;
  v.payload = p.len - v.l4 - v.thl;
  v.seq = uint32_t(tcp[4]) << 24 | uint32_t(tcp[5]) << 16 | uint32_t(tcp[6]) << 8 | tcp[7];
  return true;
}

// Same flow and same headers apart from length, id, checksum, sequence and PSH.
bool sameFlow(const Span& a, const TcpView& va, const Span& b, const TcpView& vb) {
  if (va.l4 != vb.l4 || va.thl != vb.thl) return false;
  const uint8_t *x = a.data, *y = b.data;
  if (va.l4 == 20) {
    if (x[1] != y[1] || x[8] != y[8] || (x[6] & 0x40) != (y[6] & 0x40) || memcmp(x + 12, y + 12, 8)) return false;
  } else {
    if (memcmp(x, y, 4) || x[7] != y[7] || memcmp(x + 8, y + 8, 32)) return false;
  }
  const uint8_t *tx = x + va.l4, *ty = y + vb.l4;
  if (memcmp(tx, ty, 4) || memcmp(tx + 8, ty + 8, 4) || memcmp(tx + 14, ty + 14, 2)) return false;  // ports, ack, window
  return memcmp(tx + 20, ty + 20, va.thl - 20) == 0;  // options (timestamps) identical
}

}  // namespace

size_t coalesce(Span* pkts, size_t n, size_t i, VnetHdr& hdr, iovec* iov, size_t maxIov, size_t& iovCount) {
  hdr = VnetHdr{};
  iov[1] = {pkts[i].data, pkts[i].len};
  iovCount = 2;
  TcpView v0;
  if (!tcpCandidate(pkts[i], v0)) return 1;
  hdr.flags = kVnetDataValid;  // checksum verified (tcpCandidate)
  if (v0.payload == 0 || (v0.flags & 0x08)) return 1;
  size_t total = pkts[i].len, gso = v0.payload, prevPayload = v0.payload;
  uint32_t nextSeq = v0.seq + uint32_t(v0.payload);
  uint8_t lastFlags = v0.flags;
  size_t j = i + 1;
  for (; j < n && iovCount < maxIov; j++) {
    TcpView vj;
    if (prevPayload != gso || (lastFlags & 0x08)) break;  // a short segment or PSH ends the run
    if (!tcpCandidate(pkts[j], vj) || vj.seq != nextSeq || vj.payload == 0 || vj.payload > gso) break;
    if (!sameFlow(pkts[i], v0, pkts[j], vj) || total + vj.payload > 65535) break;
    iov[iovCount++] = {pkts[j].data + vj.l4 + vj.thl, vj.payload};
    total += vj.payload;
    nextSeq += uint32_t(vj.payload);
    prevPayload = vj.payload;
    lastFlags = vj.flags;
  }
  size_t merged = j - i;
  if (merged == 1) return 1;
  uint8_t* ip = pkts[i].data;
  setIpLength(ip, total);
  uint8_t* tcp = ip + v0.l4;
  tcp[13] |= lastFlags & 0x08;
  // CHECKSUM_PARTIAL: the field carries the pseudo-header sum, the kernel adds the rest.
  uint16_t c = csumFold(pseudoHeaderSum(ip, spec::kProtoTcp, uint32_t(total - v0.l4)));
  memcpy(tcp + 16, &c, 2);
  hdr.flags = kVnetNeedsCsum;
  hdr.gsoType = v0.l4 == 20 ? kGsoTcpv4 : kGsoTcpv6;
  hdr.hdrLen = uint16_t(v0.l4 + v0.thl);
  hdr.gsoSize = uint16_t(gso);
  hdr.csumStart = uint16_t(v0.l4);
  hdr.csumOffset = 16;
  return merged;
}

}  // namespace segw::esp
