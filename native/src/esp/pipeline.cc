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
  int threads = workers_ > 0 ? workers_ : int(lanes_.size());
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
    for (auto& l : lanes_) l->reader_ = std::thread([this, lp = l.get(), s = slot++] { runInline(*lp, s); });
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

void Pipeline::runInline(Lane& l, int slot) {
  pthread_setname_np(pthread_self(), ("esp-lane" + std::to_string(slot)).c_str());
  Batch& b = *l.ring_[0];
  while (!stopping()) {
    epochs_.enter(b.pin);
    if (l.fill(b)) {
      l.crypto(b, slot);
      l.flush(b);
    }
    epochs_.leave(b.pin);
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
    if (!l.fill(b)) {
      epochs_.leave(b.pin);
      return;
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
