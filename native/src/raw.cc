// Raw IP sockets for link-local control protocols (VRRP, protocol 112; ICMPv6 neighbour
// advertisements) and an AF_PACKET sender for gratuitous ARP. Thin: no protocol is parsed here
// beyond the IPv4 header the kernel hands a raw socket, because the receive checks need the
// packet's TTL / hop limit and destination (RFC 9568 §7.1), which IPv6 reports only as
// ancillary data. Registered as "raw".
//
//   const s = new addon.raw.RawSocket(4, 112, { ifname: 'eth0' });  // bound to the interface,
//   s.setSource('203.0.113.1');        // TTL / hop limit 255, multicast loop off
//   s.joinGroup('224.0.0.18');
//   s.start((errno, packets) => ...);  // packets: { data, src, dst, ttl, ifindex }[] per wakeup
//   s.send(bytes, '224.0.0.18')        // bytes sent, or -errno when the kernel asks to retry
//   s.close();
//   const p = new addon.raw.PacketSocket('eth0');  p.send(ethernetFrame);  p.close();
//
// Failures throw an Error with `code` (errno name), `errno` and `syscall`, as Node's do.
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "registry.h"
#include "syserror.h"

namespace segw::raw {
namespace {

Napi::Value TypeError(Napi::Env env, const std::string& msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

constexpr int kHops = 255;         // RFC 9568 §5.1.1.3 / §5.1.2.3, RFC 4861 §7.1.2
constexpr size_t kDatagram = 2048;  // VRRP: 8 + 255 * 16 octets at most, plus headers
constexpr unsigned kBatch = 16;

// A sockaddr for `addr` (IPv4 or IPv6 text); link-local IPv6 gets the interface as scope.
bool ToSockaddr(int family, const std::string& addr, unsigned ifindex, sockaddr_storage* ss, socklen_t* len) {
  memset(ss, 0, sizeof *ss);
  if (family == 4) {
    auto* a = reinterpret_cast<sockaddr_in*>(ss);
    a->sin_family = AF_INET;
    *len = sizeof *a;
    return inet_pton(AF_INET, addr.c_str(), &a->sin_addr) == 1;
  }
  auto* a = reinterpret_cast<sockaddr_in6*>(ss);
  a->sin6_family = AF_INET6;
  *len = sizeof *a;
  if (inet_pton(AF_INET6, addr.c_str(), &a->sin6_addr) != 1) return false;
  if (IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr) || IN6_IS_ADDR_MC_LINKLOCAL(&a->sin6_addr)) a->sin6_scope_id = ifindex;
  return true;
}

std::string AddrText(int af, const void* bytes) {
  char buf[INET6_ADDRSTRLEN] = "";
  inet_ntop(af, bytes, buf, sizeof buf);
  return buf;
}

class RawSocket : public Napi::ObjectWrap<RawSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RawSocket",
                       {InstanceAccessor("ifindex", &RawSocket::IfIndex, nullptr),
                        InstanceMethod("setSource", &RawSocket::SetSource),
                        InstanceMethod("joinGroup", &RawSocket::JoinGroup),
                        InstanceMethod("send", &RawSocket::Send),
                        InstanceMethod("start", &RawSocket::Start),
                        InstanceMethod("setRef", &RawSocket::SetRef),
                        InstanceMethod("close", &RawSocket::Close)});
  }
  explicit RawSocket(const Napi::CallbackInfo& info);
  ~RawSocket() override { Shutdown(); }

 private:
  Napi::Value IfIndex(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), ifindex_); }
  Napi::Value SetSource(const Napi::CallbackInfo& info);
  Napi::Value JoinGroup(const Napi::CallbackInfo& info);
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value SetRef(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    callback_.Reset();
    async_.reset();
    return info.Env().Undefined();
  }
  bool Live(Napi::Env env) {
    if (fd_ >= 0) return true;
    Throw(env, "raw socket closed", EBADF);
    return false;
  }
  int Configure();
  void Shutdown();
  void Drain();
  bool ReadOne(Napi::Env env, Napi::Array out, uint32_t* k, int* err);

  int family_ = 4;
  int fd_ = -1;
  unsigned ifindex_ = 0;
  uv_poll_t* poll_ = nullptr;
  bool polling_ = false;
  bool refd_ = true;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> async_;
  std::vector<char> buf_ = std::vector<char>(kDatagram);
  sockaddr_storage source_{};
  bool hasSource_ = false;
};

// new RawSocket(family: 4 | 6, protocol, { ifname })
RawSocket::RawSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RawSocket>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsObject()) {
    TypeError(env, "RawSocket(family: 4 | 6, protocol, { ifname })");
    return;
  }
  family_ = info[0].As<Napi::Number>().Int32Value();
  int protocol = info[1].As<Napi::Number>().Int32Value();
  Napi::Value ifv = info[2].As<Napi::Object>().Get("ifname");
  if ((family_ != 4 && family_ != 6) || !ifv.IsString()) {
    TypeError(env, "RawSocket: family 4 or 6 and an interface name");
    return;
  }
  std::string ifname = ifv.As<Napi::String>().Utf8Value();
  ifindex_ = if_nametoindex(ifname.c_str());
  if (ifindex_ == 0) {
    Throw(env, ("if_nametoindex(" + ifname + ")").c_str(), errno);
    return;
  }
  fd_ = socket(family_ == 4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd_ < 0) {
    Throw(env, "socket", errno);
    return;
  }
  if (setsockopt(fd_, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(), ifname.size()) < 0) {
    int e = errno;
    Shutdown();
    Throw(env, "setsockopt(SO_BINDTODEVICE)", e);
    return;
  }
  int e = Configure();
  if (e != 0) {
    Shutdown();
    Throw(env, "setsockopt", e);
    return;
  }
  if (family_ == 6 && protocol == IPPROTO_ICMPV6) {
    // Used to send neighbour advertisements only: let no ICMPv6 queue up unread.
    icmp6_filter f;
    ICMP6_FILTER_SETBLOCKALL(&f);
    setsockopt(fd_, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f);
  }
}

// TTL / hop limit 255 for unicast and multicast, no multicast loop (a router never hears its own
// adverts), the interface for multicast, and the ancillary data the receive path reads.
int RawSocket::Configure() {
  int hops = kHops, off = 0, on = 1;
  if (family_ == 4) {
    ip_mreqn m{};
    m.imr_ifindex = static_cast<int>(ifindex_);
    if (setsockopt(fd_, IPPROTO_IP, IP_TTL, &hops, sizeof hops) < 0 ||
        setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_TTL, &hops, sizeof hops) < 0 ||
        setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_LOOP, &off, sizeof off) < 0 ||
        setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m) < 0)
      return errno;
    return 0;
  }
  int idx = static_cast<int>(ifindex_);
  if (setsockopt(fd_, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops) < 0 ||
      setsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) < 0 ||
      setsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &off, sizeof off) < 0 ||
      setsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx) < 0 ||
      setsockopt(fd_, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) < 0 ||
      setsockopt(fd_, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) < 0)
    return errno;
  return 0;
}

// setSource(addr): the source of everything sent (the checksum's pseudo-header needs it known).
// Not bind(): a bound raw socket receives only packets addressed to the bound address, never
// the group's. The source goes in each sendmsg (IP_PKTINFO / IPV6_PKTINFO); a throwaway UDP
// bind checks now that the address is usable (EADDRNOTAVAIL while absent or tentative).
Napi::Value RawSocket::SetSource(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Live(env)) return env.Undefined();
  if (!info[0].IsString()) return TypeError(env, "setSource(address)");
  sockaddr_storage ss;
  socklen_t len;
  if (!ToSockaddr(family_, info[0].As<Napi::String>().Utf8Value(), ifindex_, &ss, &len))
    return TypeError(env, "setSource: not an IPv" + std::to_string(family_) + " address");
  int probe = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return Throw(env, "socket", errno);
  int rc = bind(probe, reinterpret_cast<sockaddr*>(&ss), len);
  int e = errno;
  close(probe);
  if (rc < 0) return Throw(env, "bind", e);
  source_ = ss;
  hasSource_ = true;
  return env.Undefined();
}

// joinGroup(group): multicast membership on this socket's interface.
Napi::Value RawSocket::JoinGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Live(env)) return env.Undefined();
  if (!info[0].IsString()) return TypeError(env, "joinGroup(group)");
  std::string g = info[0].As<Napi::String>().Utf8Value();
  int rc;
  if (family_ == 4) {
    ip_mreqn m{};
    if (inet_pton(AF_INET, g.c_str(), &m.imr_multiaddr) != 1) return TypeError(env, "joinGroup: not an IPv4 group");
    m.imr_ifindex = static_cast<int>(ifindex_);
    rc = setsockopt(fd_, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m);
  } else {
    ipv6_mreq m{};
    if (inet_pton(AF_INET6, g.c_str(), &m.ipv6mr_multiaddr) != 1) return TypeError(env, "joinGroup: not an IPv6 group");
    m.ipv6mr_interface = ifindex_;
    rc = setsockopt(fd_, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m);
  }
  if (rc < 0) return Throw(env, "setsockopt(join group)", errno);
  return env.Undefined();
}

// send(data, destination) -> bytes sent, or -errno for EAGAIN / ENOBUFS / EINTR.
Napi::Value RawSocket::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Live(env)) return env.Undefined();
  if (!info[0].IsBuffer() || !info[1].IsString()) return TypeError(env, "send(data: Buffer, destination: string)");
  auto d = info[0].As<Napi::Buffer<uint8_t>>();
  sockaddr_storage ss;
  socklen_t len;
  if (!ToSockaddr(family_, info[1].As<Napi::String>().Utf8Value(), ifindex_, &ss, &len))
    return TypeError(env, "send: destination is not an IPv" + std::to_string(family_) + " address");
  iovec iov{d.Data(), d.Length()};
  msghdr m{};
  m.msg_name = &ss;
  m.msg_namelen = len;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  if (hasSource_) {
    m.msg_control = control;
    cmsghdr* c = reinterpret_cast<cmsghdr*>(control);
    if (family_ == 4) {
      in_pktinfo pi{};
      pi.ipi_ifindex = static_cast<int>(ifindex_);
      pi.ipi_spec_dst = reinterpret_cast<sockaddr_in*>(&source_)->sin_addr;
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof pi);
      memcpy(CMSG_DATA(c), &pi, sizeof pi);
      m.msg_controllen = CMSG_SPACE(sizeof pi);
    } else {
      in6_pktinfo pi{};
      pi.ipi6_ifindex = ifindex_;
      pi.ipi6_addr = reinterpret_cast<sockaddr_in6*>(&source_)->sin6_addr;
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof pi);
      memcpy(CMSG_DATA(c), &pi, sizeof pi);
      m.msg_controllen = CMSG_SPACE(sizeof pi);
    }
  }
  ssize_t n = sendmsg(fd_, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n >= 0) return Napi::Number::New(env, static_cast<double>(n));
  int e = errno;
  if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS || e == EINTR) return Napi::Number::New(env, -e);
  return Throw(env, "sendmsg", e);
}

// start(callback(errno, packets)): one call per wakeup with what was queued.
Napi::Value RawSocket::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Live(env)) return env.Undefined();
  if (!info[0].IsFunction()) return TypeError(env, "start(callback)");
  if (polling_) return env.Undefined();
  callback_ = Napi::Persistent(info[0].As<Napi::Function>());
  async_ = std::make_unique<Napi::AsyncContext>(env, "segw.raw");
  if (!poll_) {
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    auto p = std::make_unique<uv_poll_t>();
    int rc = uv_poll_init(loop, p.get(), fd_);
    if (rc < 0) return Throw(env, "uv_poll_init", -rc);
    poll_ = p.release();
    poll_->data = this;
    if (!refd_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }
  int rc = uv_poll_start(poll_, UV_READABLE, [](uv_poll_t* h, int status, int events) {
    static_cast<RawSocket*>(h->data)->Drain();
  });
  if (rc < 0) return Throw(env, "uv_poll_start", -rc);
  polling_ = true;
  Ref();
  return env.Undefined();
}

Napi::Value RawSocket::SetRef(const Napi::CallbackInfo& info) {
  refd_ = info[0].ToBoolean().Value();
  if (poll_) refd_ ? uv_ref(reinterpret_cast<uv_handle_t*>(poll_)) : uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  return info.Env().Undefined();
}

// Reads one datagram into out[*k]; false when the queue is empty (or on an error, in *err).
bool RawSocket::ReadOne(Napi::Env env, Napi::Array out, uint32_t* k, int* err) {
  sockaddr_storage from{};
  char control[256];
  iovec iov{buf_.data(), buf_.size()};
  msghdr m{};
  m.msg_name = &from;
  m.msg_namelen = sizeof from;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  ssize_t n = recvmsg(fd_, &m, MSG_DONTWAIT);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) *err = errno;
    return false;
  }
  if (m.msg_flags & MSG_TRUNC) {
    *err = EMSGSIZE;
    return true;
  }
  const char* data = buf_.data();
  size_t len = static_cast<size_t>(n);
  std::string src, dst;
  int ttl = -1;
  unsigned ifindex = ifindex_;
  if (family_ == 4) {
    // A raw IPv4 socket delivers the IP header: TTL and addresses come from it.
    if (len < sizeof(iphdr)) return true;
    auto* ip = reinterpret_cast<const iphdr*>(data);
    size_t ihl = ip->ihl * 4u;
    if (ihl < sizeof(iphdr) || ihl > len) return true;
    ttl = ip->ttl;
    src = AddrText(AF_INET, &ip->saddr);
    dst = AddrText(AF_INET, &ip->daddr);
    size_t total = ntohs(ip->tot_len);
    data += ihl;
    len = (total >= ihl && total <= len) ? total - ihl : len - ihl;
  } else {
    src = AddrText(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&from)->sin6_addr);
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level != IPPROTO_IPV6) continue;
      if (c->cmsg_type == IPV6_HOPLIMIT) memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
      if (c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo pi;
        memcpy(&pi, CMSG_DATA(c), sizeof pi);
        dst = AddrText(AF_INET6, &pi.ipi6_addr);
        ifindex = pi.ipi6_ifindex;
      }
    }
  }
  Napi::Object p = Napi::Object::New(env);
  p.Set("data", Napi::Buffer<char>::Copy(env, data, len));
  p.Set("src", src);
  p.Set("dst", dst);
  p.Set("ttl", ttl);
  p.Set("ifindex", ifindex);
  out.Set((*k)++, p);
  return true;
}

void RawSocket::Drain() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::Array out = Napi::Array::New(env);
  uint32_t k = 0;
  int err = 0;
  for (unsigned i = 0; i < kBatch && fd_ >= 0; i++) {
    if (!ReadOne(env, out, &k, &err)) break;
  }
  if (k == 0 && err == 0) return;
  callback_.MakeCallback(Value(), {Napi::Number::New(env, err), out}, *async_);
  if (env.IsExceptionPending()) napi_fatal_exception(env, env.GetAndClearPendingException().Value());
}

void RawSocket::Shutdown() {
  if (polling_) {
    polling_ = false;
    uv_poll_stop(poll_);
    Unref();
  }
  if (poll_) {
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

// An AF_PACKET socket that sends whole Ethernet frames on one interface (gratuitous ARP).
class PacketSocket : public Napi::ObjectWrap<PacketSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PacketSocket",
                       {InstanceMethod("send", &PacketSocket::Send), InstanceMethod("close", &PacketSocket::Close)});
  }
  explicit PacketSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PacketSocket>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) {
      TypeError(env, "PacketSocket(ifname)");
      return;
    }
    std::string ifname = info[0].As<Napi::String>().Utf8Value();
    ifindex_ = if_nametoindex(ifname.c_str());
    if (ifindex_ == 0) {
      Throw(env, ("if_nametoindex(" + ifname + ")").c_str(), errno);
      return;
    }
    // Protocol 0: this socket receives nothing, it only sends.
    fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) Throw(env, "socket(AF_PACKET)", errno);
  }
  ~PacketSocket() override {
    if (fd_ >= 0) close(fd_);
  }

 private:
  // send(frame) -> bytes sent, or -errno for EAGAIN / ENOBUFS / EINTR.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) return Throw(env, "packet socket closed", EBADF);
    if (!info[0].IsBuffer()) return TypeError(env, "send(frame: Buffer)");
    auto f = info[0].As<Napi::Buffer<uint8_t>>();
    if (f.Length() < 14) return TypeError(env, "send: an Ethernet frame is at least 14 octets");
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = static_cast<int>(ifindex_);
    to.sll_halen = 6;
    memcpy(to.sll_addr, f.Data(), 6);
    memcpy(&to.sll_protocol, f.Data() + 12, 2);
    ssize_t n = sendto(fd_, f.Data(), f.Length(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to), sizeof to);
    if (n >= 0) return Napi::Number::New(env, static_cast<double>(n));
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS || e == EINTR) return Napi::Number::New(env, -e);
    return Throw(env, "sendto(AF_PACKET)", e);
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    return info.Env().Undefined();
  }
  int fd_ = -1;
  unsigned ifindex_ = 0;
};

void InitRaw(Napi::Env env, Napi::Object exports) {
  Napi::Object raw = Napi::Object::New(env);
  raw.Set("RawSocket", RawSocket::Define(env));
  raw.Set("PacketSocket", PacketSocket::Define(env));
  exports.Set("raw", raw);
}

}  // namespace
}  // namespace segw::raw

SEGW_REGISTER(raw, segw::raw::InitRaw);
