// Outbound lane: TUN queue -> policy lookup -> segmentation -> espSeal -> UDP/raw send.
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "esp/engine.h"
#include "esp/offload.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace segw::esp {
namespace {

struct OutItem {
  Sa* sa;
  uint64_t seq;
  uint32_t len;  // inner length, then ESP length after crypto
  uint32_t inner;
  uint8_t nextHeader;
  Verdict v;
};

struct OutBatch : Batch {
  explicit OutBatch(size_t slotSize) : slotSize(slotSize), mem(kOutItems * slotSize) {}
  size_t slotSize;
  std::vector<uint8_t> mem;
  OutItem items[kOutItems];
  size_t n = 0;
  uint8_t* slot(size_t i) { return mem.data() + i * slotSize; }
  // send state
  mmsghdr msgs[kOutItems];
  iovec iov[kOutItems];
  sockaddr_storage dst[kOutItems];
  alignas(cmsghdr) uint8_t ctl[kOutItems][CMSG_SPACE(sizeof(uint16_t))];
  int msgSocket[kOutItems];
};

class OutboundLane : public Lane {
 public:
  OutboundLane(Engine& e, int fd, bool vnet, int mtu)
      : e_(e), fd_(fd), vnet_(vnet), slotSize_((size_t(mtu) + 128 + 63) / 64 * 64), raw_(65536 + 64) {}

  std::unique_ptr<Batch> newBatch() override { return std::make_unique<OutBatch>(slotSize_); }

  int fd() const override { return fd_; }

  Fill fill(Batch& base) override {
    auto& b = static_cast<OutBatch&>(base);
    b.n = 0;
    for (int reads = 0; reads < kOutReads && b.n < kOutItems;) {
      if (!pending_) {
        size_t slots = 0;
        bool direct = directSlots(b, slots);
        if (!direct && reads > 0 && gso_ > 0 && vnet_) return Fill::More;  // keep the next super-packet whole
        ssize_t r = direct ? readDirect(b, slots) : read(fd_, raw_.data(), raw_.size());
        if (r < 0) {
          if (errno != EAGAIN && errno != EINTR) e_.mstats().out[size_t(Verdict::Malformed)]++;
          return b.n > 0 || reads > 0 ? Fill::Drained : Fill::Empty;
        }
        reads++;
        e_.mstats().tunReads.fetch_add(1, std::memory_order_relaxed);
        if (direct) {
          if (placeDirect(b, size_t(r), slots)) {
            e_.mstats().tunDirect.fetch_add(1, std::memory_order_relaxed);
            continue;
          }
          linearize(b, size_t(r), slots);
        } else {
          rawLen_ = size_t(r);
        }
      }
      pending_ = false;
      if (!classify(b)) {
        pending_ = true;  // does not fit this batch: first of the next one
        return Fill::More;
      }
    }
    return Fill::More;
  }

  void crypto(Batch& base, int slot) override {
    auto& b = static_cast<OutBatch&>(base);
    for (size_t i = 0; i < b.n; i++) {
      OutItem& it = b.items[i];
      if (it.v != Verdict::Ok) continue;
      it.v = espSeal(*it.sa, slot, b.slot(i), it.len, it.nextHeader, it.seq);
      if (it.v == Verdict::Ok) it.len = uint32_t(espLength(*it.sa, it.len));
    }
  }

  void flush(Batch& base) override;

 private:
  bool classify(OutBatch& b);
  bool directSlots(const OutBatch& b, size_t& slots) const;
  ssize_t readDirect(OutBatch& b, size_t slots);
  bool placeDirect(OutBatch& b, size_t r, size_t slots);
  void linearize(OutBatch& b, size_t r, size_t slots);
  bool admit(OutBatch& b, const FlowKey& k, size_t segs, size_t maxInner, Sa*& sa, uint64_t& seq);
  void send(OutBatch& b, size_t from, size_t to);

  Engine& e_;
  int fd_;
  bool vnet_;
  size_t slotSize_;
  std::vector<uint8_t> raw_;
  size_t rawLen_ = 0;
  bool pending_ = false;
  // Direct reads (readv into the ESP slots): the layout the last TCP super-packet had, which
  // the next one of a bulk flow repeats. gso_ == 0: no prediction, read into raw_.
  size_t hdrLen_ = 0, gso_ = 0, payloadOff_ = 0;
  VnetHdr vh_{};
  uint8_t hdr_[256];
  std::vector<uint8_t> spill_ = std::vector<uint8_t>(65536);
  iovec iov_[kOutItems + 3];
};

// Policy lookup, SA state and sequence numbers for `segs` packets of at most `maxInner` bytes;
// false if the read is dropped (counted).
bool OutboundLane::admit(OutBatch& b, const FlowKey& k, size_t segs, size_t maxInner, Sa*& sa, uint64_t& seq) {
  auto& st = e_.mstats();
  sa = e_.outboundSa(k);
  if (!sa) return st.out[size_t(Verdict::NoPolicy)]++, false;
  if (sa->dead.load(std::memory_order_relaxed)) return st.out[size_t(Verdict::SaDead)]++, false;
  if (espLength(*sa, maxInner) > slotSize_) return st.out[size_t(Verdict::TooBig)]++, false;
  seq = allocSeq(*sa, uint32_t(segs));
  if (seq == 0) {
    e_.expire(*sa, true, ExpireReason::Sequence);
    return st.out[size_t(Verdict::SeqOverflow)]++, false;
  }
  if (seq + segs > sa->seqLimit() - kSeqSoftMargin) e_.expire(*sa, false, ExpireReason::Sequence);
  return true;
}

// Turns the TUN read in raw_ into batch items; false if it must wait for the next batch.
bool OutboundLane::classify(OutBatch& b) {
  auto& st = e_.mstats();
  VnetHdr h{};
  size_t hl = vnet_ ? sizeof(VnetHdr) : 0;
  if (rawLen_ < hl) return true;
  if (vnet_) memcpy(&h, raw_.data(), sizeof h);
  const uint8_t* pkt = raw_.data() + hl;
  size_t len = rawLen_ - hl;
  size_t segs = segmentCount(h, pkt, len);
  FlowKey k;
  if (segs == 0 || !parseFlow(pkt, len, k)) return st.out[size_t(Verdict::BadInner)]++, true;
  if (segs > kOutItems - b.n) {
    if (b.n == 0) return st.out[size_t(Verdict::TooBig)]++, true;
    return false;
  }
  size_t maxInner = len, hdr = vnet_ ? tsoHeaderLen(h, pkt, len) : 0;
  if (hdr) maxInner = hdr + h.gsoSize < len ? hdr + h.gsoSize : len;
  Sa* sa;
  uint64_t seq;
  if (!admit(b, k, segs, maxInner, sa, seq)) return true;
  size_t off = espPayloadOffset(*sa);
  if (hdr && hdr <= sizeof hdr_) hdrLen_ = hdr, gso_ = h.gsoSize, payloadOff_ = off;  // predict the next read
  uint8_t nh = k.family == 4 ? spec::kNextHeaderIpv4 : spec::kNextHeaderIpv6;
  for (size_t i = 0; i < segs; i++) {
    OutItem& it = b.items[b.n];
    size_t inner = segmentTo(h, pkt, len, i, b.slot(b.n) + off);
    it = {sa, seq + i, uint32_t(inner), uint32_t(inner), nh, Verdict::Ok};
    b.n++;
  }
  return true;
}

// A direct read needs room for the largest super-packet the predicted layout can bring.
bool OutboundLane::directSlots(const OutBatch& b, size_t& slots) const {
  if (!vnet_ || gso_ == 0) return false;
  slots = (65535 - hdrLen_ + gso_ - 1) / gso_;
  return kOutItems - b.n >= slots;
}

// readv: the virtio-net header, the super-packet's headers into hdr_, then gso_ payload bytes
// into each free slot right after the room for the headers (where segmentation would have
// copied them), anything beyond into spill_. The TUN read is the only copy of the payload.
ssize_t OutboundLane::readDirect(OutBatch& b, size_t slots) {
  size_t n = 0;
  iov_[n++] = {&vh_, sizeof vh_};
  iov_[n++] = {hdr_, hdrLen_};
  for (size_t i = 0; i < slots; i++) iov_[n++] = {b.slot(b.n + i) + payloadOff_ + hdrLen_, gso_};
  iov_[n++] = {spill_.data(), spill_.size()};
  return readv(fd_, iov_, int(n));
}

// Segments a direct read in place when it has the predicted layout; false otherwise (nothing
// consumed). True also when the read is dropped (counted).
bool OutboundLane::placeDirect(OutBatch& b, size_t r, size_t slots) {
  if (r < sizeof vh_ + hdrLen_) return false;
  size_t len = r - sizeof vh_;
  if (tsoHeaderLen(vh_, hdr_, hdrLen_) != hdrLen_ || vh_.gsoSize != gso_ || len <= hdrLen_) return false;
  size_t payload = len - hdrLen_, segs = (payload + gso_ - 1) / gso_;
  if (segs > slots) return false;  // part of it is in spill_
  FlowKey k;
  if (!parseFlow(hdr_, len, k)) return false;  // reads only the headers
  Sa* sa = e_.outboundSa(k);
  if (sa && espPayloadOffset(*sa) != payloadOff_) return false;
  uint64_t seq;
  if (!admit(b, k, segs, hdrLen_ + gso_, sa, seq)) return true;
  uint8_t nh = k.family == 4 ? spec::kNextHeaderIpv4 : spec::kNextHeaderIpv6;
  for (size_t i = 0; i < segs; i++) {
    uint8_t* inner = b.slot(b.n) + payloadOff_;
    size_t dlen = i + 1 < segs ? gso_ : payload - i * gso_;
    memcpy(inner, hdr_, hdrLen_);
    size_t ip = finishTcpSegment(vh_, inner, hdrLen_, i, dlen, i + 1 == segs, csumAdd(inner + hdrLen_, dlen, 0));
    b.items[b.n] = {sa, seq + i, uint32_t(ip), uint32_t(ip), nh, Verdict::Ok};
    b.n++;
  }
  return true;
}

// A direct read that did not have the predicted layout: gathered into raw_ for classify().
void OutboundLane::linearize(OutBatch& b, size_t r, size_t slots) {
  uint8_t* out = raw_.data();
  size_t left = r;
  for (size_t i = 0; left > 0 && i < slots + 3; i++) {  // the iovecs readDirect() used
    size_t n = left < iov_[i].iov_len ? left : iov_[i].iov_len;
    memcpy(out, iov_[i].iov_base, n);
    out += n, left -= n;
  }
  rawLen_ = r;
}

void OutboundLane::flush(Batch& base) {
  auto& b = static_cast<OutBatch&>(base);
  auto& st = e_.mstats();
  size_t m = 0;
  for (size_t i = 0; i < b.n;) {
    OutItem& it = b.items[i];
    if (it.v != Verdict::Ok) {
      st.out[size_t(it.v)]++;
      it.sa->counters.errors.fetch_add(1, std::memory_order_relaxed);
      i++;
      continue;
    }
    const SaPath* path = it.sa->path.load(std::memory_order_acquire);
    Socket* s = e_.socket(path->socket);
    if (!s) {
      st.sendErrors++;
      i++;
      continue;
    }
    // One message: this packet plus following ones to the same peer of the same size (UDP GSO;
    // only the last may be shorter).
    size_t j = i + 1, bytes = it.len;
    bool gso = s->udp && s->gso.load(std::memory_order_relaxed);
    while (gso && j < b.n && j - i < kMaxGsoSegs && b.items[j].v == Verdict::Ok &&
           b.items[j].sa->path.load(std::memory_order_acquire) == path && b.items[j].len <= it.len &&
           b.items[j - 1].len == it.len && bytes + b.items[j].len <= kMaxGsoBytes) {
      bytes += b.items[j].len;
      j++;
    }
    for (size_t x = i; x < j; x++) b.iov[x] = {b.slot(x), b.items[x].len};
    mmsghdr& mh = b.msgs[m];
    mh = {};
    sockaddr_storage& dst = b.dst[m];
    memset(&dst, 0, sizeof dst);
    if (path->family == 4) {
      auto* a = reinterpret_cast<sockaddr_in*>(&dst);
      a->sin_family = AF_INET;
      memcpy(&a->sin_addr, path->dst, 4);
      a->sin_port = htons(path->encap ? path->dport : 0);
      mh.msg_hdr.msg_namelen = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&dst);
      a->sin6_family = AF_INET6;
      memcpy(&a->sin6_addr, path->dst, 16);
      a->sin6_port = htons(path->encap ? path->dport : 0);
      mh.msg_hdr.msg_namelen = sizeof *a;
    }
    mh.msg_hdr.msg_name = &dst;
    mh.msg_hdr.msg_iov = &b.iov[i];
    mh.msg_hdr.msg_iovlen = j - i;
    if (j - i > 1) {
      mh.msg_hdr.msg_control = b.ctl[m];
      mh.msg_hdr.msg_controllen = sizeof b.ctl[m];
      cmsghdr* c = CMSG_FIRSTHDR(&mh.msg_hdr);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t seg = uint16_t(it.len);
      memcpy(CMSG_DATA(c), &seg, sizeof seg);
      st.gsoSends.fetch_add(1, std::memory_order_relaxed);
    }
    b.msgSocket[m++] = path->socket;
    uint64_t inner = 0;  // one SA per message: the path is the SA's own
    for (size_t x = i; x < j; x++) inner += b.items[x].inner;
    e_.account(*it.sa, j - i, inner);
    i = j;
  }
  send(b, 0, m);
}

// sendmmsg per run of messages on the same socket; waits briefly for room when the socket
// buffer is full (backpressure), drops after that.
void OutboundLane::send(OutBatch& b, size_t from, size_t to) {
  auto& st = e_.mstats();
  while (from < to) {
    size_t end = from + 1;
    while (end < to && b.msgSocket[end] == b.msgSocket[from]) end++;
    Socket* s = e_.socket(b.msgSocket[from]);
    size_t done = from;
    int tries = 0;
    while (done < end) {
      int r = sendmmsg(s->fd, &b.msgs[done], unsigned(end - done), 0);
      if (r > 0) {
        done += size_t(r);
        st.udpSends.fetch_add(uint64_t(r), std::memory_order_relaxed);
        continue;
      }
      if ((errno == EAGAIN || errno == ENOBUFS) && tries++ < 50) {
        pollfd p{s->fd, POLLOUT, 0};
        poll(&p, 1, 10);
        continue;
      }
      if (errno == EIO || errno == EINVAL) s->gso.store(false);  // no UDP GSO on this path
      st.sendErrors.fetch_add(1, std::memory_order_relaxed);
      done++;  // skip the message that failed
    }
    from = end;
  }
}

}  // namespace

std::unique_ptr<Lane> makeOutboundLane(Engine& e, int tunFd, bool vnetHdr, int mtu) {
  return std::make_unique<OutboundLane>(e, tunFd, vnetHdr, mtu);
}

}  // namespace segw::esp
