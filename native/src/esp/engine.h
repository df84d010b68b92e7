// The userspace ESP engine: tables, sockets, TUN device, pipeline, and the queues that carry
// IKE datagrams and expiry events to the JavaScript thread. Control methods run on the
// JavaScript thread only; packet-path methods are safe from any pipeline thread.
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "esp/io.h"
#include "esp/packet.h"
#include "esp/pipeline.h"
#include "esp/rcu.h"
#include "esp/tables.h"

namespace segw::esp {

struct EngineOptions {
  uint32_t maxSas = 131072;
  int workers = 0;      // 0: run to completion (no hand-off between threads)
  int laneThreads = 0;  // with workers 0: threads that poll the lanes (0: one per TUN queue)
};

struct Socket {
  int fd = -1;
  bool udp = true;
  bool gro = false;
  std::atomic<bool> gso{true};
  Endpoint local;
};

struct SaSpec {
  uint32_t spi = 0;
  bool inbound = true;
  SuiteKeys keys;
  bool esn = false;
  uint32_t replayWindow = 0;
  uint32_t reqid = 0;
  Lifetime lifetime;
  std::vector<Selector> localTs, remoteTs;
  SaPath path;
  uint64_t seq = 0;  // outbound: last number used; inbound: replay window top
};

struct PolicySpec {
  Selector src, dst;
  uint32_t priority = 0;
  uint32_t reqid = 0;
  std::vector<std::pair<Addr, uint8_t>> prefixes;
};

struct IkeDatagram {
  int socket;
  std::vector<uint8_t> data;  // without the non-ESP marker
  Endpoint remote;
};

// What the engine reports about an SA: a soft or hard lifetime or sequence limit (RFC 4303
// §3.3.3), or (inbound ESP-in-UDP) an authenticated packet from a source other than the SA's
// peer endpoint: the peer's NAT mapping changed (RFC 7296 §2.23; XFRM's XFRM_MSG_MAPPING).
enum class SaEventKind : uint8_t { Soft, Hard, Mapping };
struct SaEvent {
  uint32_t saId;
  SaEventKind kind;
  ExpireReason reason;  // Soft, Hard
  Endpoint remote;      // Mapping: the new source
};

// Engine-wide counters (per direction, per verdict) and I/O counters.
struct EngineStats {
  std::atomic<uint64_t> in[size_t(Verdict::Count)] = {}, out[size_t(Verdict::Count)] = {};
  std::atomic<uint64_t> ike{0}, keepalives{0}, ikeDropped{0}, sendErrors{0}, tunWriteErrors{0};
  std::atomic<uint64_t> tunReads{0}, tunWrites{0}, udpSends{0}, udpRecvs{0}, gsoSends{0};
  std::atomic<uint64_t> polls{0};       // pipeline threads going to poll() for input
  std::atomic<uint64_t> tunDirect{0};   // TUN reads segmented in place (no segmentation copy)
  std::atomic<uint64_t> retired{0};  // removed objects waiting for their grace period
};

// RFC 4303 §3.3.3 leaves the rekey margin to the implementation: a soft 'sequence' event
// this many packets before the counter would cycle.
constexpr uint64_t kSeqSoftMargin = 1ull << 24;

class Engine {
 public:
  explicit Engine(const EngineOptions& o);
  ~Engine();

  // --- control (JavaScript thread) ---
  bool openTun(const std::string& name, int mtu, int queues, bool offload, const std::string& netns, std::string& err);
  int openSocket(const Endpoint& local, bool udp, const std::string& netns, std::string& err);
  bool start(std::string& err);
  void stop();
  uint32_t addSa(SaSpec&& spec, std::string& err);
  bool updateSaPath(uint32_t id, const SaPath& path, std::string& err);
  bool removeSa(uint32_t id);
  uint32_t addPolicy(PolicySpec&& spec, std::string& err);
  bool removePolicy(uint32_t id);
  bool counters(uint32_t id, uint64_t out[kSaCounterFields]) const;
  bool sendIke(int socket, const uint8_t* data, size_t len, const Endpoint& to, std::string& err);
  void setNotify(std::function<void()> fn) { notify_ = std::move(fn); }
  void drain(std::vector<IkeDatagram>& ike, std::vector<SaEvent>& events);
  const TunDevice& tun() const { return tun_; }
  size_t saCount() const { return sas_.size(); }
  const EngineStats& stats() const { return stats_; }
  Sa* saById(uint32_t id) const;
  // Slot 0 and this pin belong to the JavaScript thread (test and bench entry points).
  int jsPin() const { return jsPin_; }
  Epochs& epochs() { return epochs_; }

  // --- packet path (any pipeline thread, inside an epoch pin) ---
  Sa* inboundSa(uint32_t spi) const { return spis_.find(spi); }
  Sa* outboundSa(const FlowKey& k) const;
  void account(Sa& sa, uint64_t packets, uint64_t bytes);
  void expire(Sa& sa, bool hard, ExpireReason r);
  // Inbound ESP-in-UDP that passed the ICV and the replay check, and is the newest packet of
  // its SA, came from `from`: reports a NAT mapping change once per new source if `from` is
  // not the SA's peer endpoint.
  void checkMapping(Sa& sa, const sockaddr_storage& from);
  void pushIke(int socket, const uint8_t* data, size_t len, const sockaddr_storage& from, socklen_t fromLen);
  Socket* socket(int i) { return i >= 0 && size_t(i) < sockets_.size() ? sockets_[i].get() : nullptr; }
  EngineStats& mstats() { return stats_; }
  int64_t nowMs() const { return nowMs_.load(std::memory_order_relaxed); }
  const Pipeline& pipeline() const { return *pipeline_; }

 private:
  void housekeeping();
  void wake();
  ReqidSlot* slotFor(uint32_t reqid);
  void releaseSlot(ReqidSlot* slot);

  EngineOptions opts_;
  Epochs epochs_;
  SpiTable spis_;
  PolicyTable policies_;
  std::unordered_map<uint32_t, Sa*> sas_;
  std::unordered_map<uint32_t, Policy*> policyById_;
  std::unordered_map<uint32_t, ReqidSlot*> reqids_;
  uint32_t nextSaId_ = 1, nextPolicyId_ = 1;
  int jsPin_ = -1;

  TunDevice tun_;
  std::vector<std::unique_ptr<Socket>> sockets_;
  std::unique_ptr<Pipeline> pipeline_;
  bool started_ = false;

  EngineStats stats_;
  std::atomic<int64_t> nowMs_{0};
  std::mutex qmu_;
  std::vector<IkeDatagram> ikeQueue_;
  std::vector<SaEvent> eventQueue_;
  std::atomic<bool> notifyPending_{false};
  std::function<void()> notify_;

  std::thread housekeeper_;
  std::mutex hkMu_;
  std::condition_variable hkCv_;
  bool hkStop_ = false;
};

// Counts a dropped inbound packet on its SA (replay, integrity, or errors) and engine-wide.
void countDrop(Engine& e, Sa& sa, Verdict v);

// Lanes (outbound.cc, inbound.cc).
std::unique_ptr<Lane> makeOutboundLane(Engine& e, int tunFd, bool vnetHdr, int mtu);
std::unique_ptr<Lane> makeInboundLane(Engine& e, int socket, int tunFd, bool vnetHdr);

}  // namespace segw::esp
