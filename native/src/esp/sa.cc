#include "esp/sa.h"

#include <cstring>

namespace segw::esp {

static uint64_t be64(const uint8_t* b) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | b[i];
  return v;
}

Addr addrFromBytes(const uint8_t* b, int family) {
  Addr a;
  if (family == 4) {
    a.lo = (uint64_t(b[0]) << 24) | (uint64_t(b[1]) << 16) | (uint64_t(b[2]) << 8) | b[3];
  } else {
    a.hi = be64(b);
    a.lo = be64(b + 8);
  }
  return a;
}

void addrToBytes(const Addr& a, int family, uint8_t* out) {
  if (family == 4) {
    for (int i = 0; i < 4; i++) out[i] = uint8_t(a.lo >> (24 - 8 * i));
    return;
  }
  for (int i = 0; i < 8; i++) {
    out[i] = uint8_t(a.hi >> (56 - 8 * i));
    out[8 + i] = uint8_t(a.lo >> (56 - 8 * i));
  }
}

bool selectorMatches(const Selector& s, const Addr& a, uint16_t port, const FlowKey& k) {
  if (s.family != k.family) return false;
  if (a < s.start || s.end < a) return false;
  if (s.proto && s.proto != k.proto) return false;
  if (s.portStart == 0 && s.portEnd == 65535) return true;
  if (!k.hasPorts) return false;  // OPAQUE ports match only "any"
  return port >= s.portStart && port <= s.portEnd;
}

static void portsOf(const uint8_t* l4, size_t len, FlowKey& k) {
  switch (k.proto) {
    case spec::kProtoTcp:
    case spec::kProtoUdp:
    case spec::kProtoSctp:
      if (len < 4) return;
      k.sport = uint16_t(l4[0] << 8 | l4[1]);
      k.dport = uint16_t(l4[2] << 8 | l4[3]);
      k.hasPorts = true;
      return;
    case spec::kProtoIcmp:
    case spec::kProtoIcmpv6:
      if (len < 2) return;
      k.sport = k.dport = uint16_t(l4[0] << 8 | l4[1]);  // type << 8 | code
      k.hasPorts = true;
      return;
    default:
      return;
  }
}

bool parseFlow(const uint8_t* ip, size_t len, FlowKey& k) {
  if (len < 1) return false;
  k.hasPorts = false;
  if ((ip[0] >> 4) == 4) {
    if (len < 20) return false;
    size_t ihl = size_t(ip[0] & 0x0f) * 4;
    size_t tot = size_t(ip[2] << 8 | ip[3]);
    if (ihl < 20 || tot < ihl || tot > len) return false;
    k.family = 4;
    k.proto = ip[9];
    k.src = addrFromBytes(ip + 12, 4);
    k.dst = addrFromBytes(ip + 16, 4);
    bool firstFragment = ((ip[6] & 0x1f) | ip[7]) == 0;
    if (firstFragment) portsOf(ip + ihl, tot - ihl, k);
    return true;
  }
  if ((ip[0] >> 4) == 6) {
    if (len < 40) return false;
    size_t plen = size_t(ip[4] << 8 | ip[5]);
    if (40 + plen > len) return false;
    k.family = 6;
    k.proto = ip[6];  // extension headers are not walked: their selectors see them as protocol
    k.src = addrFromBytes(ip + 8, 6);
    k.dst = addrFromBytes(ip + 24, 6);
    portsOf(ip + 40, plen, k);
    return true;
  }
  return false;
}

bool innerAllowed(const Sa& sa, const FlowKey& k) {
  if (sa.localTs.empty() && sa.remoteTs.empty()) return true;
  bool srcOk = false, dstOk = false;
  for (const auto& s : sa.remoteTs)
    if (selectorMatches(s, k.src, k.sport, k)) { srcOk = true; break; }
  for (const auto& s : sa.localTs)
    if (selectorMatches(s, k.dst, k.dport, k)) { dstOk = true; break; }
  return srcOk && dstOk;
}

}  // namespace segw::esp
