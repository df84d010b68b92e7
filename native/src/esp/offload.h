// TCP offload across the TUN device, the userspace counterpart of the kernel's TSO and GRO:
// with IFF_VNET_HDR one TUN read carries a TCP super-packet (up to 64 KB) that is cut here into
// MTU-sized segments, each with complete checksums, before encryption; after decryption,
// consecutive in-order segments of one TCP flow are merged back into one super-packet and
// written with one writev, the checksum left to the kernel (CHECKSUM_PARTIAL). Received TCP
// segments are checksummed before they are merged (see tcpCandidate): the ICV does not vouch for them.
// Header layout is Linux's struct virtio_net_hdr (include/uapi/linux/virtio_net.h).
#pragma once
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

namespace segw::esp {

struct VnetHdr {
  uint8_t flags;
  uint8_t gsoType;
  uint16_t hdrLen, gsoSize, csumStart, csumOffset;
};
static_assert(sizeof(VnetHdr) == 10);
constexpr uint8_t kVnetNeedsCsum = 1, kVnetDataValid = 2;
constexpr uint8_t kGsoNone = 0, kGsoTcpv4 = 1, kGsoTcpv6 = 4, kGsoEcn = 0x80;

// RFC 1071 one's-complement sum in host byte order; fold/complement to store it natively.
uint64_t csumAdd(const uint8_t* p, size_t len, uint64_t sum);
// Copies `len` bytes and sums them in the same pass (the segmentation copy is the checksum pass).
uint64_t csumCopy(uint8_t* dst, const uint8_t* src, size_t len, uint64_t sum);
uint16_t csumFold(uint64_t sum);
uint64_t pseudoHeaderSum(const uint8_t* ip, uint8_t proto, uint32_t l4Len);

// Number of IP packets a TUN read becomes (1 unless it is a TCP super-packet), 0 if malformed.
size_t segmentCount(const VnetHdr& h, const uint8_t* pkt, size_t len);
// Writes IP packet `i` of a TUN read into `out` with complete checksums; returns its length.
size_t segmentTo(const VnetHdr& h, const uint8_t* pkt, size_t len, size_t i, uint8_t* out);
// TCP segment `i` of a super-packet whose headers (`hdrLen` bytes, copied from the
// super-packet) and payload (`dataLen` bytes, one's-complement sum `dataSum`) already sit in
// `out`: sets IP length, id and checksum, TCP sequence, flags and checksum; returns the length.
size_t finishTcpSegment(const VnetHdr& h, uint8_t* out, size_t hdrLen, size_t i, size_t dataLen, bool last,
                        uint64_t dataSum);
// Header bytes (IP + TCP) of a TCP super-packet, 0 if `h` is not TCP segmentation offload.
size_t tsoHeaderLen(const VnetHdr& h, const uint8_t* pkt, size_t len);

struct Span {
  uint8_t* data;
  size_t len;
};
// Merges pkts[i..] from index i; returns how many were merged (>= 1). Fills `hdr` and `iov`
// (iov[0] is left for the caller's VnetHdr) for one writev; `iovCount` gets the entries used.
size_t coalesce(Span* pkts, size_t n, size_t i, VnetHdr& hdr, iovec* iov, size_t maxIov, size_t& iovCount);

}  // namespace segw::esp
