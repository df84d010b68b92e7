// libFuzzer target: the inbound ESP path (RFC 4303 §3.4) as the pipeline's inbound lane runs it
// for one batch: espPrecheck (header, replay check) -> espOpen (ICV, decryption, trailer) ->
// espCommit (replay update) -> tunnelCheck (inner packet, selectors) -> coalesce (TCP
// segments merged for one TUN write).
//
// Input: byte 0 picks the SA (bit 0 CBC+HMAC instead of GCM, bit 1 ESN, bits 2-5 selector
// shape), byte 1 the replay window; then records [flags u8][length u16][bytes]. A record with
// flags bit 0 clear is a raw datagram off the wire (it almost never passes the ICV: this covers
// the checks before it). With bit 0 set, its bytes are [seq u32][plaintext] and the target
// seals the plaintext with the SA's keys, as an authenticated peer would, so padding, trailer,
// inner-packet and selector checks see arbitrary decrypted bytes.
//
// Invariants: every span handed on lies inside its packet; a sequence number committed once is
// a replay the second time; a coalesced write never exceeds 65535 bytes of IP packet.
#include <sys/uio.h>

#include <cstring>
#include <vector>

#include "common.h"
#include "esp/offload.h"

using namespace segw::esp;
using namespace segw::esp::fuzz;

namespace {

constexpr size_t kMaxPackets = 32;
const uint32_t kWindows[] = {0, 32, 64, 128, 1024, 4096, 1, 63};

// An authenticated packet: header, IV, the plaintext (trimmed to the cipher's alignment), ICV.
std::vector<uint8_t> sealed(Sa& in, Sa& out, const uint8_t* d, size_t n) {
  Input r(d, n);
  uint32_t seql = r.u32();
  size_t ivLen = in.crypto->ivLen(), icv = in.crypto->icvLen(), align = in.crypto->align();
  size_t plain = r.left();
  if (align == spec::kAesBlock) plain -= plain % align;
  if (plain < spec::kTrailerLen) return {};
  std::vector<uint8_t> pkt(spec::kEspHeaderLen + ivLen + plain + icv);
  uint8_t* p = pkt.data();
  p[0] = uint8_t(kSpi >> 24), p[1] = uint8_t(kSpi >> 16), p[2] = uint8_t(kSpi >> 8), p[3] = uint8_t(kSpi);
  p[4] = uint8_t(seql >> 24), p[5] = uint8_t(seql >> 16), p[6] = uint8_t(seql >> 8), p[7] = uint8_t(seql);
  for (size_t i = 0; i < ivLen; i++) p[8 + i] = uint8_t(seql + i);
  memcpy(p + spec::kEspHeaderLen + ivLen, r.rest(), plain);
  uint32_t hi = in.esn ? in.replay.inferHigh(seql) : 0;
  FUZZ_CHECK(out.crypto->seal(0, p, plain, in.esn, hi), "seal of an aligned plaintext failed");
  return pkt;
}

struct Item {
  std::vector<uint8_t> data;
  Verdict v = Verdict::Ok;
  Opened o;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input r(data, size);
  uint8_t cfg = r.u8();
  bool cbc = cfg & 1, esn = cfg & 2;
  auto in = makeSa(true, cbc, esn, kWindows[r.u8() & 7], uint8_t(cfg >> 2));
  auto out = makeSa(false, cbc, esn, 0, 0);

  std::vector<Item> items;
  while (r.left() >= 3 && items.size() < kMaxPackets) {
    uint8_t flags = r.u8();
    const uint8_t* d;
    size_t n = r.take(r.u16() % 4096, &d);
    Item it;
    it.data = (flags & 1) ? sealed(*in, *out, d, n) : std::vector<uint8_t>(d, d + n);
    // The lane's own checks before precheck: length, SPI (datagram() in inbound.cc).
    if (it.data.size() < spec::kEspHeaderLen) continue;
    it.v = espPrecheck(*in, it.data.data(), it.data.size(), it.o);
    if (it.v == Verdict::Ok) it.v = espOpen(*in, 0, it.data.data(), it.data.size(), it.o);
    items.push_back(std::move(it));
  }

  std::vector<Span> spans;
  for (Item& it : items) {
    if (it.v != Verdict::Ok) continue;
    FUZZ_CHECK(it.o.payloadOff + it.o.payloadLen <= it.data.size(), "opened payload outside the packet");
    if (espCommit(*in, it.o) != Verdict::Ok) continue;
    if (in->replay.window() > 0)
      FUZZ_CHECK(!in->replay.check(it.o.seq), "a committed sequence number passed the replay check again");
    size_t ipLen = it.o.payloadLen;
    uint8_t* ip = it.data.data() + it.o.payloadOff;
    if (tunnelCheck(*in, it.o.nextHeader, ip, ipLen) != Verdict::Ok) continue;
    FUZZ_CHECK(ipLen <= it.o.payloadLen, "tunnelCheck grew the inner packet");
    spans.push_back({ip, ipLen});
  }

  iovec iov[1024];
  for (size_t i = 0; i < spans.size();) {
    VnetHdr h{};
    size_t iovs = 0;
    size_t merged = coalesce(spans.data(), spans.size(), i, h, iov, 1024, iovs);
    FUZZ_CHECK(merged >= 1 && i + merged <= spans.size(), "coalesce merged past the batch");
    size_t total = 0;
    for (size_t v = 1; v < iovs; v++) {
      auto* b = static_cast<const uint8_t*>(iov[v].iov_base);
      bool inside = false;
      for (size_t s = i; s < i + merged && !inside; s++)
        inside = b >= spans[s].data && b + iov[v].iov_len <= spans[s].data + spans[s].len;
      FUZZ_CHECK(inside, "coalesce iovec outside the packets it merged");
      total += iov[v].iov_len;
    }
    if (merged > 1) FUZZ_CHECK(total <= 65535, "coalesced super-packet longer than an IP packet");
    i += merged;
  }
  return 0;
}
