#include "esp/io.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/udp.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "esp/spec.h"

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

namespace segw::esp {

static std::string sysErr(const char* what) { return std::string(what) + ": " + strerror(errno); }

NetnsScope::NetnsScope(const std::string& ns) {
  if (ns.empty()) return;
  std::string path = ns.find('/') == std::string::npos ? "/run/netns/" + ns : ns;
  int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  saved_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (target < 0 || saved_ < 0 || setns(target, CLONE_NEWNET) < 0) {
    ok_ = false;
    err_ = sysErr(("enter netns " + path).c_str());
  }
  if (target >= 0) close(target);
}

NetnsScope::~NetnsScope() {
  if (saved_ < 0) return;
  if (ok_) setns(saved_, CLONE_NEWNET);
  close(saved_);
}

static bool configureLink(const std::string& name, int mtu, std::string& err) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return err = sysErr("socket"), false;
  ifreq ifr{};
  strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  bool ok = true;
  if (mtu > 0) {
    ifr.ifr_mtu = mtu;
    if (ioctl(s, SIOCSIFMTU, &ifr) < 0) ok = false, err = sysErr("SIOCSIFMTU");
  }
  if (ok && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) ok = false, err = sysErr("SIOCSIFFLAGS");
  }
  close(s);
  return ok;
}

bool openTun(const std::string& name, int mtu, int queues, bool offload, TunDevice& out, std::string& err) {
  out = TunDevice{};
  for (int q = 0; q < queues; q++) {
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return err = sysErr("open /dev/net/tun"), false;
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    if (queues > 1) ifr.ifr_flags |= IFF_MULTI_QUEUE;
    if (offload) ifr.ifr_flags |= IFF_VNET_HDR;
    strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
      err = sysErr("TUNSETIFF");
      close(fd);
      return false;
    }
    // TUN_F_CSUM lets the kernel leave checksums to us; TSO4/6 hand over TCP super-packets.
    if (offload && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) {
      err = sysErr("TUNSETOFFLOAD");
      close(fd);
      return false;
    }
    out.fds.push_back(fd);
    out.name = ifr.ifr_name;
  }
  out.vnetHdr = offload;
  out.mtu = mtu;
  return configureLink(out.name, mtu, err);
}

bool parseEndpoint(const std::string& addr, uint16_t port, Endpoint& out) {
  out = Endpoint{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.ss);
  if (inet_pton(AF_INET, addr.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    out.len = sizeof *v4;
    return true;
  }
  if (inet_pton(AF_INET6, addr.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    out.len = sizeof *v6;
    return true;
  }
  return false;
}

std::string endpointAddress(const Endpoint& e) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (e.ss.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&e.ss)->sin_addr, buf, sizeof buf);
  else
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&e.ss)->sin6_addr, buf, sizeof buf);
  return buf;
}

uint16_t endpointPort(const Endpoint& e) {
  if (e.ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&e.ss)->sin_port);
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&e.ss)->sin6_port);
}

// A cluster's virtual address exists only on the VRRP master: the engine's sockets for it are
// bound before it is there (IP_FREEBIND) and receive once it is added. Harmless for an address
// that exists.
static void allowFreeBind(int fd, int family) {
  int one = 1;
  if (family == AF_INET) setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
  else setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof one);
}

int openUdpSocket(const Endpoint& local, bool& gro, std::string& err) {
  int fd = socket(local.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return err = sysErr("socket"), -1;
  int one = 1;
  if (local.ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  int buf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf);
  allowFreeBind(fd, local.ss.ss_family);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&local.ss), local.len) < 0) {
    err = sysErr("bind");
    close(fd);
    return -1;
  }
  gro = setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof one) == 0;
  return fd;
}

int openRawEspSocket(const Endpoint& local, std::string& err) {
  int fd = socket(local.ss.ss_family, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, spec::kProtoEsp);
  if (fd < 0) return err = sysErr("socket(SOCK_RAW, 50)"), -1;
  Endpoint bound = local;  // raw sockets bind an address only; the port field must be 0
  if (bound.ss.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&bound.ss)->sin_port = 0;
  else reinterpret_cast<sockaddr_in6*>(&bound.ss)->sin6_port = 0;
  allowFreeBind(fd, bound.ss.ss_family);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&bound.ss), bound.len) < 0) {
    err = sysErr("bind raw");
    close(fd);
    return -1;
  }
  int buf = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
  return fd;
}

}  // namespace segw::esp
