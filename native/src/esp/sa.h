// One ESP security association as the packet path sees it: keys and transforms (immutable),
// the path (outer addresses and socket, swapped atomically by updateSa), sequence counter or
// replay window, lifetimes, and per-SA counters the control plane reads in batches.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "esp/crypto.h"
#include "esp/replay.h"

namespace segw::esp {

// An address as two host-order 64-bit halves (IPv4 in the low 32 bits of lo), so ranges and
// prefixes compare as integers.
struct Addr {
  uint64_t hi = 0, lo = 0;
  bool operator<(const Addr& o) const { return hi < o.hi || (hi == o.hi && lo < o.lo); }
  bool operator<=(const Addr& o) const { return !(o < *this); }
  bool operator==(const Addr& o) const { return hi == o.hi && lo == o.lo; }
};
Addr addrFromBytes(const uint8_t* b, int family);
void addrToBytes(const Addr& a, int family, uint8_t* out);

// A traffic selector (RFC 4301 §4.4.1): address range, protocol (0 any), port range; for ICMP
// the port is type << 8 | code (RFC 7296 §3.13.1).
struct Selector {
  uint8_t family = 4;
  uint8_t proto = 0;
  Addr start, end;
  uint16_t portStart = 0, portEnd = 65535;
};

// The fields of an inner packet that selectors look at.
struct FlowKey {
  uint8_t family = 4;
  uint8_t proto = 0;
  Addr src, dst;
  uint16_t sport = 0, dport = 0;
  bool hasPorts = false;  // false for non-first fragments (RFC 4301 §4.4.1.3 OPAQUE)
};
bool selectorMatches(const Selector& s, const Addr& a, uint16_t port, const FlowKey& k);
// Parses the inner IP packet's addresses, protocol and ports; false if malformed.
bool parseFlow(const uint8_t* ip, size_t len, FlowKey& k);

struct SaPath {
  uint8_t family = 4;
  uint8_t src[16] = {}, dst[16] = {};
  uint16_t sport = 0, dport = 0;  // RFC 3948 ports, 0 for raw ESP
  bool encap = false;
  int socket = -1;                // engine socket index that sends this SA's packets
};

struct Lifetime {
  uint64_t softBytes = 0, hardBytes = 0, softPackets = 0, hardPackets = 0;  // 0: unlimited
};

enum class ExpireReason : uint8_t { Bytes, Packets, Sequence };

// The per-SA counters the control plane reads, declared once: the binding hands them out in
// this order and exports the names (espSaCounterFields), which the JavaScript side reads
// instead of assuming positions.
enum class SaCounterField : uint8_t { Packets, Bytes, ReplayDrops, IntegrityFailures, Errors, LastUsedMs, Count };
constexpr size_t kSaCounterFields = size_t(SaCounterField::Count);
inline const char* saCounterName(SaCounterField f) {
  static const char* const names[kSaCounterFields] = {"packets",           "bytes",  "replayDrops",
                                                      "integrityFailures", "errors", "lastUsedMs"};
  return names[size_t(f)];
}

struct SaCounters {
  std::atomic<uint64_t> packets{0}, bytes{0}, replayDrops{0}, integrityFailures{0}, errors{0};
  std::atomic<int64_t> lastUsedMs{0};
};

struct Sa {
  uint32_t id = 0;        // handle for JavaScript
  uint32_t spi = 0;
  bool inbound = true;
  bool esn = false;
  uint32_t reqid = 0;
  std::unique_ptr<SaCrypto> crypto;
  std::atomic<SaPath*> path{nullptr};
  // Outbound: last sequence number used. Inbound: the replay window, updated under replayMu.
  std::atomic<uint64_t> seqOut{0};
  ReplayWindow replay;
  std::mutex replayMu;
  Lifetime lifetime;
  std::atomic<bool> softFired{false}, hardFired{false};
  std::atomic<bool> dead{false};  // hard limit reached: drops packets until removed
  // Inbound ESP-in-UDP: the peer endpoint last reported as a new NAT mapping (hash of address
  // and port; 0 = none), so a burst from a new source raises one event, not one per packet.
  std::atomic<uint64_t> mappingReported{0};
  std::vector<Selector> localTs, remoteTs;
  SaCounters counters;
  std::atomic<Sa*> nextInSpi{nullptr};  // SPI hash chain (inbound)

  ~Sa() { delete path.load(); }
  uint64_t seqLimit() const { return esn ? spec::kSeqMax64 : spec::kSeqMax32; }
};

// Inner packet check for an inbound SA (RFC 4301 §5.2 step 4): the decapsulated packet must
// fall within the SA's selectors, remote side as source, local side as destination.
bool innerAllowed(const Sa& sa, const FlowKey& k);

}  // namespace segw::esp
