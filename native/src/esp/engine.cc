#include "esp/engine.h"

#include <netinet/in.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace segw::esp {

static int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Engine::Engine(const EngineOptions& o) : opts_(o), spis_(o.maxSas), policies_(o.maxSas) {
  jsPin_ = epochs_.allocPin();
  nowMs_.store(wallMs());
  housekeeper_ = std::thread([this] { housekeeping(); });
}

Engine::~Engine() {
  stop();
  {
    std::lock_guard<std::mutex> g(hkMu_);
    hkStop_ = true;
    hkCv_.notify_all();
  }
  housekeeper_.join();
  epochs_.reclaim(true);
  for (auto& [id, p] : policyById_) delete p;
  for (auto& [id, sa] : sas_) delete sa;
  for (auto& [r, s] : reqids_) delete s;
  for (int fd : tun_.fds) close(fd);
  for (auto& s : sockets_) close(s->fd);
}

void Engine::housekeeping() {
  pthread_setname_np(pthread_self(), "esp-housekeep");
  std::unique_lock<std::mutex> g(hkMu_);
  while (!hkStop_) {
    hkCv_.wait_for(g, std::chrono::milliseconds(20));
    nowMs_.store(wallMs(), std::memory_order_relaxed);
    g.unlock();
    stats_.retired.store(epochs_.reclaim(), std::memory_order_relaxed);
    g.lock();
  }
}

bool Engine::openTun(const std::string& name, int mtu, int queues, bool offload, const std::string& netns,
                     std::string& err) {
  if (started_ || !tun_.fds.empty()) return err = "the TUN device is opened once, before start()", false;
  NetnsScope ns(netns);
  if (!ns.ok()) return err = ns.error(), false;
  return segw::esp::openTun(name, mtu, queues, offload, tun_, err);
}

int Engine::openSocket(const Endpoint& local, bool udp, const std::string& netns, std::string& err) {
  if (started_) return err = "sockets are opened before start()", -1;
  NetnsScope ns(netns);
  if (!ns.ok()) return err = ns.error(), -1;
  auto s = std::make_unique<Socket>();
  s->udp = udp;
  s->local = local;
  s->fd = udp ? openUdpSocket(local, s->gro, err) : openRawEspSocket(local, err);
  if (s->fd < 0) return -1;
  sockets_.push_back(std::move(s));
  return int(sockets_.size() - 1);
}

bool Engine::start(std::string& err) {
  if (started_) return err = "already started", false;
  int laneThreads = opts_.laneThreads > 0 ? opts_.laneThreads : int(tun_.fds.size());
  pipeline_ = std::make_unique<Pipeline>(epochs_, opts_.workers, laneThreads, stats_.polls);
  for (int fd : tun_.fds) pipeline_->add(makeOutboundLane(*this, fd, tun_.vnetHdr, tun_.mtu));
  for (size_t i = 0; i < sockets_.size(); i++) {
    int tunFd = tun_.fds.empty() ? -1 : tun_.fds[i % tun_.fds.size()];
    pipeline_->add(makeInboundLane(*this, int(i), tunFd, tun_.vnetHdr));
  }
  if (!pipeline_->start(err)) {
    pipeline_.reset();
    return false;
  }
  started_ = true;
  return true;
}

void Engine::stop() {
  if (pipeline_) pipeline_->stop();
  started_ = false;
}

static bool samePathSocket(const Socket& s, const SaPath& p) {
  if (s.local.family() != p.family || s.udp != p.encap) return false;
  const uint8_t* a = s.local.family() == 4
                         ? reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(&s.local.ss)->sin_addr)
                         : reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(&s.local.ss)->sin6_addr);
  if (memcmp(a, p.src, p.family == 4 ? 4 : 16) != 0) return false;
  return !p.encap || endpointPort(s.local) == p.sport;
}

// Everything that can throw (allocation, table growth) happens while the new SA is still owned
// here; publishing it to the packet path (SPI table or reqid slot) is the last, non-throwing step.
uint32_t Engine::addSa(SaSpec&& spec, std::string& err) {
  err = validateSuite(spec.keys);
  if (!err.empty()) return 0;
  if (spec.spi <= spec::kSpiReservedMax) return err = "SPI 0..255 is reserved (RFC 4303 §2.1)", 0;
  if (spec.inbound && spis_.find(spec.spi)) return err = "an inbound SA with this SPI exists", 0;
  auto sa = std::make_unique<Sa>();
  sa->spi = spec.spi;
  sa->inbound = spec.inbound;
  sa->esn = spec.esn;
  sa->reqid = spec.reqid;
  sa->crypto = std::make_unique<SaCrypto>(spec.keys, !spec.inbound);
  sa->lifetime = spec.lifetime;
  sa->localTs = std::move(spec.localTs);
  sa->remoteTs = std::move(spec.remoteTs);
  sa->replay.init(spec.replayWindow, spec.inbound ? spec.seq : 0);
  sa->seqOut.store(spec.inbound ? 0 : spec.seq);
  auto path = std::make_unique<SaPath>(spec.path);
  for (size_t i = 0; i < sockets_.size(); i++)
    if (samePathSocket(*sockets_[i], *path)) path->socket = int(i);
  sa->path.store(path.release());  // owned by the SA from here (~Sa)
  ReqidSlot* slot = nullptr;
  if (!sa->inbound) {
    slot = slotFor(sa->reqid);
    try {
      slot->sas.reserve(slot->sas.size() + 1);
    } catch (...) {
      releaseSlot(slot);
      throw;
    }
  }
  uint32_t id = nextSaId_;
  try {
    sas_.emplace(id, sa.get());
  } catch (...) {
    if (slot) releaseSlot(slot);
    throw;
  }
  nextSaId_++;
  sa->id = id;
  Sa* published = sa.release();  // owned by sas_ from here
  if (published->inbound) {
    spis_.insert(published);
  } else {
    slot->sas.push_back(published);  // capacity reserved above: does not throw
    slot->current.store(published, std::memory_order_release);  // make-before-break: newest sends
  }
  return id;
}

bool Engine::updateSaPath(uint32_t id, const SaPath& p, std::string& err) {
  Sa* sa = saById(id);
  if (!sa) return err = "no such SA", false;
  auto path = std::make_unique<SaPath>(p);
  for (size_t i = 0; i < sockets_.size(); i++)
    if (samePathSocket(*sockets_[i], *path)) path->socket = int(i);
  SaPath* old = sa->path.exchange(path.release(), std::memory_order_acq_rel);
  sa->mappingReported.store(0, std::memory_order_relaxed);  // a source seen before may be new again
  epochs_.retire([old] { delete old; });
  return true;
}

Sa* Engine::saById(uint32_t id) const {
  auto it = sas_.find(id);
  return it == sas_.end() ? nullptr : it->second;
}

bool Engine::removeSa(uint32_t id) {
  Sa* sa = saById(id);
  if (!sa) return false;
  sas_.erase(id);
  if (sa->inbound) {
    spis_.remove(sa);
  } else {
    ReqidSlot* slot = slotFor(sa->reqid);
    slot->sas.erase(std::remove(slot->sas.begin(), slot->sas.end(), sa), slot->sas.end());
    slot->current.store(slot->sas.empty() ? nullptr : slot->sas.back(), std::memory_order_release);
    releaseSlot(slot);
  }
  epochs_.retire([sa] { delete sa; });
  return true;
}

ReqidSlot* Engine::slotFor(uint32_t reqid) {
  auto it = reqids_.find(reqid);
  if (it != reqids_.end()) return it->second;
  auto s = std::make_unique<ReqidSlot>();
  s->reqid = reqid;
  reqids_.emplace(reqid, s.get());
  return s.release();
}

void Engine::releaseSlot(ReqidSlot* slot) {
  if (slot->policies > 0 || !slot->sas.empty()) return;
  reqids_.erase(slot->reqid);
  epochs_.retire([slot] { delete slot; });
}

uint32_t Engine::addPolicy(PolicySpec&& spec, std::string& err) {
  if (spec.prefixes.empty()) return err = "policy has no destination prefixes", 0;
  auto p = std::make_unique<Policy>();
  p->src = spec.src;
  p->dst = spec.dst;
  p->priority = spec.priority;
  p->prefixes = std::move(spec.prefixes);
  ReqidSlot* slot = slotFor(spec.reqid);
  uint32_t id = nextPolicyId_;
  try {
    policyById_.emplace(id, p.get());
  } catch (...) {
    releaseSlot(slot);
    throw;
  }
  nextPolicyId_++;
  p->id = id;
  p->slot = slot;
  slot->policies++;
  Policy* published = p.release();  // owned by policyById_ from here
  try {
    policies_.insert(published, epochs_);
  } catch (...) {
    removePolicy(id);  // some prefixes may be visible already: unlink and retire
    throw;
  }
  return id;
}

bool Engine::removePolicy(uint32_t id) {
  auto it = policyById_.find(id);
  if (it == policyById_.end()) return false;
  Policy* p = it->second;
  policyById_.erase(it);
  policies_.remove(p, epochs_);
  p->slot->policies--;
  releaseSlot(p->slot);
  epochs_.retire([p] { delete p; });
  return true;
}

Sa* Engine::outboundSa(const FlowKey& k) const {
  const Policy* p = policies_.lookup(k);
  return p ? p->slot->current.load(std::memory_order_acquire) : nullptr;
}

bool Engine::counters(uint32_t id, uint64_t out[kSaCounterFields]) const {
  Sa* sa = saById(id);
  if (!sa) return false;
  const auto& c = sa->counters;
  using F = SaCounterField;
  out[size_t(F::Packets)] = c.packets.load();
  out[size_t(F::Bytes)] = c.bytes.load();
  out[size_t(F::ReplayDrops)] = c.replayDrops.load();
  out[size_t(F::IntegrityFailures)] = c.integrityFailures.load();
  out[size_t(F::Errors)] = c.errors.load();
  out[size_t(F::LastUsedMs)] = uint64_t(c.lastUsedMs.load());
  return true;
}

void Engine::account(Sa& sa, uint64_t packets, uint64_t bytes) {
  auto& c = sa.counters;
  uint64_t p = c.packets.fetch_add(packets, std::memory_order_relaxed) + packets;
  uint64_t b = c.bytes.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  int64_t now = nowMs();
  if (c.lastUsedMs.load(std::memory_order_relaxed) != now) c.lastUsedMs.store(now, std::memory_order_relaxed);
  const Lifetime& l = sa.lifetime;
  if ((l.hardBytes && b >= l.hardBytes) || (l.hardPackets && p >= l.hardPackets)) {
    expire(sa, true, l.hardBytes && b >= l.hardBytes ? ExpireReason::Bytes : ExpireReason::Packets);
  } else if ((l.softBytes && b >= l.softBytes) || (l.softPackets && p >= l.softPackets)) {
    expire(sa, false, l.softBytes && b >= l.softBytes ? ExpireReason::Bytes : ExpireReason::Packets);
  }
}

void Engine::expire(Sa& sa, bool hard, ExpireReason r) {
  if (hard) {
    sa.dead.store(true, std::memory_order_relaxed);
    if (sa.hardFired.exchange(true)) return;
  } else if (sa.softFired.exchange(true)) {
    return;
  }
  {
    std::lock_guard<std::mutex> g(qmu_);
    eventQueue_.push_back({sa.id, hard ? SaEventKind::Hard : SaEventKind::Soft, r, {}});
  }
  wake();
}

void Engine::checkMapping(Sa& sa, const sockaddr_storage& from) {
  const SaPath* p = sa.path.load(std::memory_order_acquire);
  if (!p || !p->encap) return;
  const uint8_t* addr;
  size_t alen;
  uint16_t port;
  if (from.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&from);
    addr = reinterpret_cast<const uint8_t*>(&a->sin_addr), alen = 4, port = ntohs(a->sin_port);
  } else if (from.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&from);
    addr = reinterpret_cast<const uint8_t*>(&a->sin6_addr), alen = 16, port = ntohs(a->sin6_port);
  } else {
    return;
  }
  if (alen == (p->family == 6 ? 16u : 4u) && port == p->sport && memcmp(addr, p->src, alen) == 0) return;
  uint64_t key = 1469598103934665603ull;  // FNV-1a of address and port: which source was reported
  for (size_t i = 0; i < alen; i++) key = (key ^ addr[i]) * 1099511628211ull;
  key = ((key ^ port) * 1099511628211ull) | 1;
  if (sa.mappingReported.exchange(key, std::memory_order_relaxed) == key) return;
  SaEvent ev{sa.id, SaEventKind::Mapping, ExpireReason::Bytes, {}};
  ev.remote.ss = from;
  ev.remote.len = from.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  {
    std::lock_guard<std::mutex> g(qmu_);
    eventQueue_.push_back(ev);
  }
  wake();
}

void Engine::pushIke(int socket, const uint8_t* data, size_t len, const sockaddr_storage& from, socklen_t fromLen) {
  {
    std::lock_guard<std::mutex> g(qmu_);
    if (ikeQueue_.size() >= 4096) {
      stats_.ikeDropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    IkeDatagram d{socket, std::vector<uint8_t>(data, data + len), {}};
    d.remote.ss = from;
    d.remote.len = fromLen;
    ikeQueue_.push_back(std::move(d));
  }
  stats_.ike.fetch_add(1, std::memory_order_relaxed);
  wake();
}

void Engine::wake() {
  if (!notifyPending_.exchange(true) && notify_) notify_();
}

void Engine::drain(std::vector<IkeDatagram>& ike, std::vector<SaEvent>& events) {
  notifyPending_.store(false);
  std::lock_guard<std::mutex> g(qmu_);
  ike.swap(ikeQueue_);
  events.swap(eventQueue_);
}

bool Engine::sendIke(int socket, const uint8_t* data, size_t len, const Endpoint& to, std::string& err) {
  Socket* s = this->socket(socket);
  if (!s || !s->udp) return err = "no such UDP socket", false;
  uint8_t marker[spec::kNonEspMarkerLen] = {};  // RFC 3948 §2.2
  iovec iov[2] = {{marker, sizeof marker}, {const_cast<uint8_t*>(data), len}};
  msghdr m{};
  m.msg_name = const_cast<sockaddr_storage*>(&to.ss);
  m.msg_namelen = to.len;
  m.msg_iov = iov;
  m.msg_iovlen = 2;
  if (sendmsg(s->fd, &m, 0) < 0) return err = std::string("sendmsg: ") + strerror(errno), false;
  return true;
}

}  // namespace segw::esp
