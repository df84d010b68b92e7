// Outbound lane: TUN queue -> policy lookup -> segmentation -> espSeal -> UDP/raw send.
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
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
        ssize_t r = read(fd_, raw_.data(), raw_.size());
        if (r < 0) {
          if (errno != EAGAIN && errno != EINTR) e_.mstats().out[size_t(Verdict::Malformed)]++;
          return b.n > 0 || reads > 0 ? Fill::Drained : Fill::Empty;
        }
        rawLen_ = size_t(r);
        reads++;
        e_.mstats().tunReads.fetch_add(1, std::memory_order_relaxed);
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
  void send(OutBatch& b, size_t from, size_t to);

  Engine& e_;
  int fd_;
  bool vnet_;
  size_t slotSize_;
  std::vector<uint8_t> raw_;
  size_t rawLen_ = 0;
  bool pending_ = false;
};

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
  Sa* sa = e_.outboundSa(k);
  if (!sa) return st.out[size_t(Verdict::NoPolicy)]++, true;
  if (sa->dead.load(std::memory_order_relaxed)) return st.out[size_t(Verdict::SaDead)]++, true;
  if (segs > kOutItems - b.n) {
    if (b.n == 0) return st.out[size_t(Verdict::TooBig)]++, true;
    return false;
  }
  size_t maxInner = len;
  if (h.gsoType != kGsoNone) {
    size_t hdr = size_t(h.csumStart) + size_t(pkt[h.csumStart + 12] >> 4) * 4;
    maxInner = hdr + h.gsoSize < len ? hdr + h.gsoSize : len;
  }
  if (espLength(*sa, maxInner) > slotSize_) return st.out[size_t(Verdict::TooBig)]++, true;
  uint64_t seq = allocSeq(*sa, uint32_t(segs));
  if (seq == 0) {
    e_.expire(*sa, true, ExpireReason::Sequence);
    return st.out[size_t(Verdict::SeqOverflow)]++, true;
  }
  if (seq + segs > sa->seqLimit() - kSeqSoftMargin) e_.expire(*sa, false, ExpireReason::Sequence);
  size_t off = espPayloadOffset(*sa);
  uint8_t nh = k.family == 4 ? spec::kNextHeaderIpv4 : spec::kNextHeaderIpv6;
  for (size_t i = 0; i < segs; i++) {
    OutItem& it = b.items[b.n];
    size_t inner = segmentTo(h, pkt, len, i, b.slot(b.n) + off);
    it = {sa, seq + i, uint32_t(inner), uint32_t(inner), nh, Verdict::Ok};
    b.n++;
  }
  return true;
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
