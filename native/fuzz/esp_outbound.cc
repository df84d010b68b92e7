// libFuzzer target: the outbound ESP path as the pipeline's outbound lane runs it for one TUN
// read: virtio-net header + IP packet (maybe a TCP super-packet) -> segmentCount / parseFlow ->
// tsoHeaderLen (the size admit() checks against the slot) -> segmentTo each segment ->
// allocSeq / espSeal -> and back through espPrecheck / espOpen / tunnelCheck of a peer SA.
//
// Input: byte 0 picks the SA (bit 0 CBC+HMAC, bit 1 ESN, bit 2 virtio-net header present,
// bit 3 sequence counter near its limit),
// then the 10-byte virtio-net header (if present) and the packet, as a TUN read delivers them.
//
// Invariants: a segment never exceeds the size admit() reserved for it (each segment is written
// into a buffer of exactly espLength(maxInner) bytes, so AddressSanitizer sees any overflow);
// every sealed packet opens with the peer's SA to the same inner bytes.
#include <cstring>
#include <vector>

#include "common.h"
#include "esp/offload.h"

using namespace segw::esp;
using namespace segw::esp::fuzz;

namespace {
constexpr size_t kOutItems = 256;  // pipeline.h: ESP packets per outbound batch
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input r(data, size);
  uint8_t cfg = r.u8();
  bool cbc = cfg & 1, esn = cfg & 2, vnet = cfg & 4;
  VnetHdr h{};
  if (vnet) {
    const uint8_t* hb;
    if (r.take(sizeof h, &hb) < sizeof h) return 0;
    memcpy(&h, hb, sizeof h);
  }
  // classify() in outbound.cc, with the TUN read copied so ASan sees its exact bounds.
  std::vector<uint8_t> pkt(r.rest(), r.rest() + r.left());
  size_t len = pkt.size();
  size_t segs = segmentCount(h, pkt.data(), len);
  FlowKey k;
  if (segs == 0 || !parseFlow(pkt.data(), len, k)) return 0;
  if (segs > kOutItems) return 0;  // dropped TooBig
  size_t maxInner = len, hdr = vnet ? tsoHeaderLen(h, pkt.data(), len) : 0;
  if (hdr) maxInner = hdr + h.gsoSize < len ? hdr + h.gsoSize : len;

  auto out = makeSa(false, cbc, esn, 0, 0);
  auto in = makeSa(true, cbc, esn, 64, 0);
  out->seqOut.store(cfg & 8 ? 0xfffffff0u : 0);  // near the 32-bit limit: SeqOverflow paths
  uint64_t seq = allocSeq(*out, uint32_t(segs));
  if (seq == 0) return 0;
  uint8_t nh = k.family == 4 ? spec::kNextHeaderIpv4 : spec::kNextHeaderIpv6;
  size_t off = espPayloadOffset(*out);
  for (size_t i = 0; i < segs; i++) {
    std::vector<uint8_t> slot(espLength(*out, maxInner));
    size_t inner = segmentTo(h, pkt.data(), len, i, slot.data() + off);
    FUZZ_CHECK(inner <= maxInner, "segment longer than the size admit() checked against the slot");
    std::vector<uint8_t> plain(slot.begin() + off, slot.begin() + off + inner);
    FUZZ_CHECK(espSeal(*out, 0, slot.data(), inner, nh, seq + i) == Verdict::Ok, "espSeal failed");
    size_t espLen = espLength(*out, inner);
    Opened o;
    Verdict v = espPrecheck(*in, slot.data(), espLen, o);
    if (v == Verdict::Ok) v = espOpen(*in, 0, slot.data(), espLen, o);
    FUZZ_CHECK(v == Verdict::Ok, "a packet sealed by the engine did not open");
    FUZZ_CHECK(o.nextHeader == nh && o.payloadLen == inner, "opened packet differs in length or next header");
    FUZZ_CHECK(memcmp(slot.data() + o.payloadOff, plain.data(), inner) == 0, "opened payload differs");
    FUZZ_CHECK(espCommit(*in, o) == Verdict::Ok, "first commit of a sequence number failed");
    size_t ipLen = o.payloadLen;
    tunnelCheck(*in, o.nextHeader, slot.data() + o.payloadOff, ipLen);
    FUZZ_CHECK(ipLen <= o.payloadLen, "tunnelCheck grew the inner packet");
  }
  return 0;
}
