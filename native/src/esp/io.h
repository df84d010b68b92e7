// Thin syscall wrappers for the data plane: the TUN device (optionally multi-queue, with
// virtio-net headers and TCP segmentation offload) and the UDP-encapsulation and raw-ESP
// sockets (UDP GRO on receive, UDP GSO on send). Errors come back as strerror text.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

namespace segw::esp {

// Enters a network namespace (by `ip netns` name or path) on the calling thread for the
// scope's lifetime: TUN devices and sockets belong to the namespace they were created in, and
// keep working from any thread afterwards. An empty name stays in the current namespace.
class NetnsScope {
 public:
  explicit NetnsScope(const std::string& ns);
  ~NetnsScope();
  bool ok() const { return ok_; }
  const std::string& error() const { return err_; }

 private:
  int saved_ = -1;
  bool ok_ = true;
  std::string err_;
};

struct TunDevice {
  std::string name;
  std::vector<int> fds;  // one per queue, non-blocking
  bool vnetHdr = false;
  int mtu = 0;
};
// Creates (or attaches to) TUN `name` with `queues` queues, sets the MTU and brings it up.
// With `offload`, the kernel hands over TCP super-packets (TSO) and accepts coalesced ones.
bool openTun(const std::string& name, int mtu, int queues, bool offload, TunDevice& out, std::string& err);

struct Endpoint {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family() const { return ss.ss_family == AF_INET6 ? 6 : 4; }
};
bool parseEndpoint(const std::string& addr, uint16_t port, Endpoint& out);
std::string endpointAddress(const Endpoint& e);
uint16_t endpointPort(const Endpoint& e);

// UDP socket bound to addr:port for RFC 3948 traffic; tries UDP_GRO (gro is set true if on).
int openUdpSocket(const Endpoint& local, bool& gro, std::string& err);
// Raw IP protocol 50 socket bound to addr (IPv4 receives include the IP header).
int openRawEspSocket(const Endpoint& local, std::string& err);

}  // namespace segw::esp
