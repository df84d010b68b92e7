// libFuzzer target: the inner-packet parsers alone, fast enough to reach deep IPv4/IPv6
// header shapes: parseFlow (addresses, protocol, ports, fragments, IPv6 extension headers),
// selector matching (innerAllowed) and tunnelCheck (RFC 4303 §3.1.2, TFC padding trim),
// plus the RFC 1071 checksum helpers over the same bytes.
//
// Input: byte 0 = next header to claim (low bit: 4 or 41) and selector shape; the rest is the
// decrypted payload.
#include <cstring>
#include <vector>

#include "common.h"
#include "esp/offload.h"

using namespace segw::esp;
using namespace segw::esp::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input r(data, size);
  uint8_t cfg = r.u8();
  if (r.left() == 0) return 0;  // the engine never parses an empty buffer (nor passes a null one)
  std::vector<uint8_t> ip(r.rest(), r.rest() + r.left());
  static auto sas = [] {
    std::vector<std::unique_ptr<Sa>> v;
    for (uint8_t shape = 0; shape < 16; shape++) v.push_back(makeSa(true, false, false, 64, shape));
    return v;
  }();
  const Sa& sa = *sas[(cfg >> 1) & 15];
  FlowKey k;
  if (parseFlow(ip.data(), ip.size(), k)) {
    FUZZ_CHECK(k.family == 4 || k.family == 6, "parseFlow returned an unknown family");
    (void)innerAllowed(sa, k);
  }
  uint8_t nh = cfg & 1 ? spec::kNextHeaderIpv6 : spec::kNextHeaderIpv4;
  if (cfg & 0x20) nh = cfg;  // any next header value
  size_t len = ip.size();
  Verdict v = tunnelCheck(sa, nh, ip.data(), len);
  if (v == Verdict::Ok || v == Verdict::PolicyMismatch) FUZZ_CHECK(len <= ip.size(), "tunnelCheck grew the packet");
  uint64_t s = csumAdd(ip.data(), ip.size(), 0);
  std::vector<uint8_t> copy(ip.size());
  FUZZ_CHECK(csumFold(csumCopy(copy.data(), ip.data(), ip.size(), 0)) == csumFold(s), "csumCopy and csumAdd disagree");
  return 0;
}
