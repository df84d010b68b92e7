#include "esp/pipeline.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <string>

#include "esp/crypto.h"
#include "esp/rcu.h"

namespace segw::esp {

bool waitReadable(const Pipeline& p, int fd, Epochs& epochs, int pin) {
  pollfd fds[2] = {{fd, POLLIN, 0}, {p.stopFd(), POLLIN, 0}};
  epochs.leave(pin);
  bool ready = false;
  while (!p.stopping()) {
    p.countPoll();
    int r = poll(fds, 2, 1000);
    if (r > 0 && (fds[1].revents & POLLIN)) break;
    if (r > 0 && fds[0].revents) {
      ready = true;
      break;
    }
  }
  epochs.enter(pin);
  return ready;
}

bool Pipeline::start(std::string& err) {
  int inlineThreads = laneThreads_ > 0 && laneThreads_ < int(lanes_.size()) ? laneThreads_ : int(lanes_.size());
  int threads = workers_ > 0 ? workers_ : inlineThreads;
  if (threads + 1 > kMaxCryptoSlots) {
    err = "too many crypto threads: at most " + std::to_string(kMaxCryptoSlots - 1) + " (lanes or workers)";
    return false;
  }
  stopFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stopFd_ < 0) return err = "eventfd failed", false;
  for (auto& l : lanes_) {
    int n = workers_ > 0 ? kRing : 1;
    for (int i = 0; i < n; i++) {
      auto b = l->newBatch();
      b->pin = epochs_.allocPin();
      if (b->pin < 0) return err = "too many batches for the epoch pins", false;
      l->ring_.push_back(std::move(b));
    }
  }
  started_ = true;
  int slot = 1;
  if (workers_ > 0) {
    for (int i = 0; i < workers_; i++) workerThreads_.emplace_back([this, s = slot++] { runWorker(s); });
    for (auto& l : lanes_) {
      l->reader_ = std::thread([this, lp = l.get()] { runReader(*lp); });
      l->writer_ = std::thread([this, lp = l.get()] { runWriter(*lp); });
    }
  } else {
    std::vector<std::vector<Lane*>> groups(static_cast<size_t>(inlineThreads));
    for (size_t i = 0; i < lanes_.size(); i++) groups[i % groups.size()].push_back(lanes_[i].get());
    for (auto& g : groups) inlineThreads_.emplace_back([this, g, s = slot++] { runInline(g, s); });
  }
  return true;
}

void Pipeline::stop() {
  if (!started_) return;
  started_ = false;
  stop_.store(true);
  uint64_t one = 1;
  if (write(stopFd_, &one, sizeof one) < 0) { /* poll timeouts notice stop_ too */ }
  for (auto& l : lanes_) {
    std::lock_guard<std::mutex> g(l->mu_);
    l->cv_.notify_all();
  }
  for (auto& l : lanes_) if (l->reader_.joinable()) l->reader_.join();
  for (auto& t : inlineThreads_) t.join();
  inlineThreads_.clear();
  {
    std::lock_guard<std::mutex> g(qmu_);
    qcv_.notify_all();
  }
  for (auto& t : workerThreads_) t.join();
  workerThreads_.clear();
  workersJoined_.store(true);
  for (auto& l : lanes_) {
    {
      std::lock_guard<std::mutex> g(l->mu_);
      l->cv_.notify_all();
    }
    if (l->writer_.joinable()) l->writer_.join();
  }
  for (auto& l : lanes_)
    for (auto& b : l->ring_) epochs_.leave(b->pin);
  close(stopFd_);
  stopFd_ = -1;
}

// Run to completion over a group of lanes: a lane whose batch filled up is served again at
// once; when every lane ran dry, one poll() covers them all (and the stop eventfd), so a busy
// lane never waits behind an idle one and an idle thread costs one system call per wakeup.
void Pipeline::runInline(std::vector<Lane*> lanes, int slot) {
  pthread_setname_np(pthread_self(), ("esp-lane" + std::to_string(slot)).c_str());
  std::vector<pollfd> fds;
  for (Lane* l : lanes) fds.push_back({l->fd(), POLLIN, 0});
  fds.push_back({stopFd_, POLLIN, 0});
  std::vector<bool> ready(lanes.size(), true);
  while (!stopping()) {
    bool more = false;
    for (size_t i = 0; i < lanes.size(); i++) {
      if (!ready[i]) continue;
      Lane& l = *lanes[i];
      Batch& b = *l.ring_[0];
      epochs_.enter(b.pin);
      Fill f = l.fill(b);
      if (f != Fill::Empty) {
        l.crypto(b, slot);
        l.flush(b);
      }
      epochs_.leave(b.pin);
      ready[i] = f == Fill::More;
      more |= ready[i];
    }
    if (more) continue;
    countPoll();
    int r = poll(fds.data(), fds.size(), 1000);
    if (r <= 0) continue;
    for (size_t i = 0; i < lanes.size(); i++) ready[i] = fds[i].revents != 0;
  }
}

void Pipeline::runReader(Lane& l) {
  pthread_setname_np(pthread_self(), "esp-reader");
  for (size_t head = 0; !stopping(); head++) {
    Batch& b = *l.ring_[head % l.ring_.size()];
    {
      std::unique_lock<std::mutex> g(l.mu_);
      l.cv_.wait(g, [&] { return b.state == kFree || stopping(); });
      if (stopping()) return;
    }
    epochs_.enter(b.pin);
    bool got = false;
    while (!got) {
      got = l.fill(b) != Fill::Empty;
      if (!got && !waitReadable(*this, l.fd(), epochs_, b.pin)) {
        epochs_.leave(b.pin);
        return;
      }
    }
    {
      std::lock_guard<std::mutex> g(l.mu_);
      b.state = kQueued;
    }
    std::lock_guard<std::mutex> g(qmu_);
    queue_.emplace_back(&l, &b);
    qcv_.notify_one();
  }
}

void Pipeline::runWorker(int slot) {
  pthread_setname_np(pthread_self(), ("esp-crypto" + std::to_string(slot)).c_str());
  for (;;) {
    std::pair<Lane*, Batch*> job;
    {
      std::unique_lock<std::mutex> g(qmu_);
      qcv_.wait(g, [&] { return !queue_.empty() || stopping(); });
      if (queue_.empty()) return;  // stopping and drained
      job = queue_.front();
      queue_.pop_front();
    }
    job.first->crypto(*job.second, slot);
    std::lock_guard<std::mutex> g(job.first->mu_);
    job.second->state = kDone;
    job.first->cv_.notify_all();
  }
}

void Pipeline::runWriter(Lane& l) {
  pthread_setname_np(pthread_self(), "esp-writer");
  for (size_t tail = 0;; tail++) {
    Batch& b = *l.ring_[tail % l.ring_.size()];
    {
      std::unique_lock<std::mutex> g(l.mu_);
      // After stop, flush what the workers finished, then leave at the first unfinished batch.
      l.cv_.wait(g, [&] { return b.state == kDone || (stopping() && workerThreadsDone()); });
      if (b.state != kDone) return;
    }
    l.flush(b);
    epochs_.leave(b.pin);
    std::lock_guard<std::mutex> g(l.mu_);
    b.state = kFree;
    l.cv_.notify_all();
  }
}

}  // namespace segw::esp
