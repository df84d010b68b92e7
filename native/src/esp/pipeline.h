// The packet pipeline of the userspace ESP engine (the wireguard-go model).
//
//   outbound  TUN queue reader ──► crypto workers (parallel) ──► ordered writer
//             readv (a TSO super-packet straight into the ESP slots, or a run of packets),
//             policy lookup, segment headers and checksums, sequence numbers
//                                       │ espSeal (gcm.h)        │ sendmmsg, UDP GSO
//   inbound   UDP/raw socket reader ──► crypto workers ──────► ordered writer
//             recvmmsg (UDP GRO), IKE and keepalives split off, SPI lookup, replay check
//                                       │ espOpen (ICV, decrypt) │ replay update, tunnel
//                                                                 │ checks, TCP coalescing,
//                                                                 │ TUN writev
//
// Each lane (one TUN queue, or one socket) owns a ring of kRing batches. A batch is the unit
// of everything: one epoch pin (rcu.h) from the reader's first lookup to the writer's last
// counter, one trip through the shared work queue, one sendmmsg/writev round. The ring is the
// buffer pool and the backpressure: a reader waits for a free batch, so a slow writer slows
// its reader instead of growing a queue, and the kernel's socket/TUN queues absorb the rest.
// Workers take whole batches from one queue shared by all lanes; the writer takes batches in
// ring order, so packets leave in the order they came in although workers finish out of order.
//
// With workers = 0 the three stages run to completion on `laneThreads` threads (default: one
// per TUN queue), each polling its group of lanes like a VPP worker its rx queues: the TUN
// lane and the socket lane of a single-queue engine share one thread, so the ACKs that a TUN
// write provokes are read by the thread that caused them, without a wakeup. On small machines
// this wins: a hand-off between threads is a futex wakeup, and under the hypervisor measured
// here a system call costs ~1.35 us and a wakeup round trip ~8.5 us (README.md, findings).
// No JavaScript runs here: IKE datagrams and expiry events are queued and the JavaScript
// thread is woken once per burst (engine.h).
// Shutdown: stop() wakes readers through an eventfd, drains the work queue, joins every thread.
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace segw::esp {

// Implementation constants (not from any RFC).
constexpr int kRing = 8;             // batches per lane
constexpr size_t kOutItems = 256;    // ESP packets per outbound batch (5 TSO super-packets)
constexpr int kOutReads = 64;        // TUN reads per outbound batch at most
constexpr size_t kInMsgs = 16;       // datagrams per recvmmsg (each up to 64 KB with GRO)
constexpr size_t kInItems = 1024;    // ESP packets per inbound batch
constexpr size_t kMaxGsoSegs = 64;   // segments per UDP GSO send
constexpr size_t kMaxGsoBytes = 65000;

// What a reader stage got from its input.
enum class Fill : uint8_t {
  Empty,    // nothing was waiting (the batch is empty): poll the lane's fd before trying again
  Drained,  // the batch holds what was waiting; the input ran dry
  More,     // the batch filled up (or the read budget ran out): more may be waiting
};

struct Batch {
  int pin = -1;   // epoch pin (rcu.h)
  int state = 0;  // kFree / kQueued / kDone, under the lane's mutex
  virtual ~Batch() = default;
};

class Lane {
 public:
  virtual ~Lane() = default;
  virtual std::unique_ptr<Batch> newBatch() = 0;
  // The descriptor the reader stage reads (polled for POLLIN when the lane is idle).
  virtual int fd() const = 0;
  // Reader stage: never blocks. A batch may be processed whatever it holds (a batch of drops
  // is a batch); Empty means there is nothing to process.
  virtual Fill fill(Batch& b) = 0;
  virtual void crypto(Batch& b, int slot) = 0;
  virtual void flush(Batch& b) = 0;

 private:
  friend class Pipeline;
  std::vector<std::unique_ptr<Batch>> ring_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread reader_, writer_;
};

class Epochs;

class Pipeline {
 public:
  // workers > 0: readers -> workers -> writers. workers == 0: run to completion on
  // `laneThreads` threads (0: one per lane), each polling its lanes (lane i on thread
  // i % laneThreads), like VPP's workers polling their assigned queues.
  // `polls` counts the times a thread went to poll() for input (a sleep, unless input
  // arrived meanwhile).
  Pipeline(Epochs& epochs, int workers, int laneThreads, std::atomic<uint64_t>& polls)
      : epochs_(epochs), workers_(workers), laneThreads_(laneThreads), polls_(polls) {}
  ~Pipeline() { stop(); }
  // Lanes must be added before start; crypto slots 1.. are handed out to the threads.
  void add(std::unique_ptr<Lane> lane) { lanes_.push_back(std::move(lane)); }
  bool start(std::string& err);
  void stop();
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }
  int stopFd() const { return stopFd_; }
  void countPoll() const { polls_.fetch_add(1, std::memory_order_relaxed); }
  size_t lanes() const { return lanes_.size(); }

 private:
  void runInline(std::vector<Lane*> lanes, int slot);
  void runReader(Lane& l);
  void runWriter(Lane& l);
  void runWorker(int slot);

  Epochs& epochs_;
  int workers_;
  int laneThreads_;
  std::atomic<uint64_t>& polls_;
  std::vector<std::thread> inlineThreads_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::vector<std::thread> workerThreads_;
  std::mutex qmu_;
  std::condition_variable qcv_;
  std::deque<std::pair<Lane*, Batch*>> queue_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> workersJoined_{false};
  bool workerThreadsDone() const { return workersJoined_.load(); }
  bool started_ = false;
  int stopFd_ = -1;
};

enum : int { kFree = 0, kQueued = 1, kDone = 2 };

// Waits until `fd` is readable or the pipeline stops; false on stop. A reader calls it only
// while its batch holds no packets: the batch's epoch pin is dropped during the wait, so an
// idle lane never holds back the reclamation of removed SAs.
bool waitReadable(const Pipeline& p, int fd, Epochs& epochs, int pin);


}  // namespace segw::esp
