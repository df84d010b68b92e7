// Inbound lane: UDP (or raw ESP) socket -> IKE / keepalive split -> SPI lookup and replay check
// -> espOpen -> replay update, tunnel checks, counters -> TCP coalescing -> TUN writev.
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "esp/engine.h"
#include "esp/offload.h"

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

namespace segw::esp {
namespace {

struct InItem {
  Sa* sa;
  uint8_t* data;
  uint32_t len;
  uint16_t msg;  // index of the received message (its source address)
  Verdict v;
  Opened o;
};

struct InBatch : Batch {
  explicit InBatch(size_t bufSize) : bufSize(bufSize), mem(kInMsgs * bufSize) {}
  size_t bufSize;
  std::vector<uint8_t> mem;
  mmsghdr msgs[kInMsgs];
  iovec iov[kInMsgs];
  sockaddr_storage from[kInMsgs];
  alignas(cmsghdr) uint8_t ctl[kInMsgs][CMSG_SPACE(sizeof(int)) * 2];
  InItem items[kInItems];
  size_t n = 0;
  Span spans[kInItems];
  iovec wiov[1024];
};

class InboundLane : public Lane {
 public:
  InboundLane(Engine& e, int socket, int tunFd, bool vnet) : e_(e), socket_(socket), tunFd_(tunFd), vnet_(vnet) {
    Socket* s = e_.socket(socket);
    udp_ = s->udp;
    bufSize_ = s->gro ? 65536 : 16384;
    fd_ = s->fd;
  }

  std::unique_ptr<Batch> newBatch() override { return std::make_unique<InBatch>(bufSize_); }

  int fd() const override { return fd_; }

  Fill fill(Batch& base) override {
    auto& b = static_cast<InBatch&>(base);
    b.n = 0;
    for (size_t i = 0; i < kInMsgs; i++) {
      b.iov[i] = {b.mem.data() + i * b.bufSize, b.bufSize};
      b.msgs[i] = {};
      b.msgs[i].msg_hdr.msg_name = &b.from[i];
      b.msgs[i].msg_hdr.msg_namelen = sizeof b.from[i];
      b.msgs[i].msg_hdr.msg_iov = &b.iov[i];
      b.msgs[i].msg_hdr.msg_iovlen = 1;
      b.msgs[i].msg_hdr.msg_control = b.ctl[i];
      b.msgs[i].msg_hdr.msg_controllen = sizeof b.ctl[i];
    }
    int r = recvmmsg(fd_, b.msgs, kInMsgs, MSG_DONTWAIT, nullptr);
    if (r <= 0) return Fill::Empty;
    e_.mstats().udpRecvs.fetch_add(uint64_t(r), std::memory_order_relaxed);
    for (int i = 0; i < r; i++) split(b, i);
    // recvmmsg stops early only when the queue ran dry.
    return size_t(r) < kInMsgs ? Fill::Drained : Fill::More;
  }

  void crypto(Batch& base, int slot) override {
    auto& b = static_cast<InBatch&>(base);
    for (size_t i = 0; i < b.n; i++) {
      InItem& it = b.items[i];
      if (it.v == Verdict::Ok) it.v = espOpen(*it.sa, slot, it.data, it.len, it.o);
    }
  }

  void flush(Batch& base) override;

 private:
  void split(InBatch& b, int i);
  void datagram(InBatch& b, int i, uint8_t* p, size_t len);
  void writeTun(InBatch& b, size_t spans);

  Engine& e_;
  int socket_, tunFd_, fd_;
  bool vnet_, udp_;
  size_t bufSize_;
};

// One received message: with UDP GRO several datagrams of gso_size bytes back to back.
void InboundLane::split(InBatch& b, int i) {
  msghdr& mh = b.msgs[i].msg_hdr;
  uint8_t* p = static_cast<uint8_t*>(b.iov[i].iov_base);
  size_t len = b.msgs[i].msg_len;
  size_t seg = len;
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      int v;
      memcpy(&v, CMSG_DATA(c), sizeof v);
      if (v > 0) seg = size_t(v);
    }
  }
  if (!udp_ && b.from[i].ss_family == AF_INET && len >= 20) {
    size_t ihl = size_t(p[0] & 0x0f) * 4;  // IPv4 raw sockets deliver the IP header
    if (ihl > len) return;
    p += ihl, len -= ihl, seg = len;
  }
  for (size_t off = 0; off < len; off += seg) datagram(b, i, p + off, len - off < seg ? len - off : seg);
}

void InboundLane::datagram(InBatch& b, int i, uint8_t* p, size_t len) {
  auto& st = e_.mstats();
  if (udp_) {
    if (len == 1 && p[0] == spec::kNatKeepalive) return void(st.keepalives++);  // RFC 3948 §2.3
    if (len >= spec::kNonEspMarkerLen && !(p[0] | p[1] | p[2] | p[3])) {
      e_.pushIke(socket_, p + 4, len - 4, b.from[i], b.msgs[i].msg_hdr.msg_namelen);
      return;
    }
  }
  if (len < spec::kEspHeaderLen) return void(st.in[size_t(Verdict::Truncated)]++);
  if (b.n >= kInItems) return void(st.in[size_t(Verdict::TooBig)]++);
  uint32_t spi = uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
  Sa* sa = e_.inboundSa(spi);
  if (!sa) return void(st.in[size_t(Verdict::NoSa)]++);
  InItem& it = b.items[b.n++];
  it.sa = sa;
  it.data = p;
  it.len = uint32_t(len);
  it.msg = uint16_t(i);
  it.v = sa->dead.load(std::memory_order_relaxed) ? Verdict::SaDead : espPrecheck(*sa, p, len, it.o);
}

void InboundLane::flush(Batch& base) {
  auto& b = static_cast<InBatch&>(base);
  size_t spans = 0;
  // Packets come in runs of one SA: one replay lock and one counter update per run.
  Sa* run = nullptr;
  uint64_t runPackets = 0, runBytes = 0, delivered = 0;
  std::unique_lock<std::mutex> replay;
  auto endRun = [&] {
    if (replay.owns_lock()) replay.unlock();
    if (runPackets) e_.account(*run, runPackets, runBytes);
    runPackets = runBytes = 0;
  };
  for (size_t i = 0; i < b.n; i++) {
    InItem& it = b.items[i];
    if (it.sa != run) {
      endRun();
      run = it.sa;
    }
    if (it.v == Verdict::Ok) {
      if (!replay.owns_lock()) replay = std::unique_lock<std::mutex>(run->replayMu);
      it.v = espCommitLocked(*it.sa, it.o);
      // Authenticated, not a replay, and the newest the SA has seen: only then may its source
      // count as the peer's (§2.23). A packet delayed in the network from before a rebinding
      // is authentic too, but must not move the peer back to the mapping it left.
      if (udp_ && it.v == Verdict::Ok && it.o.seq == it.sa->replay.top()) e_.checkMapping(*it.sa, b.from[it.msg]);
    }
    size_t ipLen = it.o.payloadLen;
    uint8_t* ip = it.data + it.o.payloadOff;
    if (it.v == Verdict::Ok) it.v = tunnelCheck(*it.sa, it.o.nextHeader, ip, ipLen);
    if (it.v != Verdict::Ok) {
      countDrop(e_, *it.sa, it.v);
      continue;
    }
    delivered++, runPackets++, runBytes += ipLen;
    b.spans[spans++] = {ip, ipLen};
  }
  endRun();
  if (delivered) e_.mstats().in[0].fetch_add(delivered, std::memory_order_relaxed);
  if (tunFd_ >= 0 && spans) writeTun(b, spans);
}

void InboundLane::writeTun(InBatch& b, size_t spans) {
  auto& st = e_.mstats();
  for (size_t i = 0; i < spans;) {
    VnetHdr h{};
    size_t iovs = 2, merged = 1;
    if (vnet_) {
      merged = coalesce(b.spans, spans, i, h, b.wiov, 1024, iovs);
      b.wiov[0] = {&h, sizeof h};
    } else {
      b.wiov[1] = {b.spans[i].data, b.spans[i].len};
    }
    iovec* v = vnet_ ? b.wiov : b.wiov + 1;
    ssize_t r = writev(tunFd_, v, int(vnet_ ? iovs : 1));
    if (r < 0) st.tunWriteErrors.fetch_add(1, std::memory_order_relaxed);
    else st.tunWrites.fetch_add(1, std::memory_order_relaxed);
    i += merged;
  }
}

}  // namespace

void countDrop(Engine& e, Sa& sa, Verdict v) {
  e.mstats().in[size_t(v)]++;
  auto& c = sa.counters;
  if (v == Verdict::Replay) c.replayDrops.fetch_add(1, std::memory_order_relaxed);
  else if (v == Verdict::Integrity) c.integrityFailures.fetch_add(1, std::memory_order_relaxed);
  else if (v != Verdict::Dummy) c.errors.fetch_add(1, std::memory_order_relaxed);
}

std::unique_ptr<Lane> makeInboundLane(Engine& e, int socket, int tunFd, bool vnetHdr) {
  return std::make_unique<InboundLane>(e, socket, tunFd, vnetHdr);
}

}  // namespace segw::esp
