// RCU-like reclamation for the packet path. Readers never lock: a batch pins the epoch it
// started in (one store and a fence per batch, not per packet) and may use every SA and policy
// it finds until it is done. The control thread unlinks an object, then `retire`s it with the
// next epoch; the housekeeper frees it once no pin is at or below that epoch.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace segw::esp {

class Epochs {
 public:
  static constexpr int kMaxPins = 256;
  static constexpr uint64_t kIdle = ~0ull;

  Epochs() {
    for (auto& p : pins_) p.store(kIdle, std::memory_order_relaxed);
  }

  // A pin slot for one batch (or for the JavaScript thread); never released.
  int allocPin() {
    int i = nextPin_.fetch_add(1);
    return i < kMaxPins ? i : -1;
  }
  void enter(int pin) {
    pins_[pin].store(epoch_.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  void leave(int pin) { pins_[pin].store(kIdle, std::memory_order_release); }

  // Call after the object is unreachable from every table; `free` runs after a grace period.
  void retire(std::function<void()> free) {
    uint64_t e = epoch_.fetch_add(1, std::memory_order_seq_cst);
    std::lock_guard<std::mutex> g(mu_);
    retired_.push_back({e, std::move(free)});
  }

  // Frees what no pinned batch can still see; returns how many objects remain retired.
  size_t reclaim(bool all = false) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    uint64_t min = kIdle;
    int n = nextPin_.load() < kMaxPins ? nextPin_.load() : kMaxPins;
    for (int i = 0; i < n; i++) {
      uint64_t p = pins_[i].load(std::memory_order_acquire);
      if (p < min) min = p;
    }
    std::vector<std::function<void()>> ready;
    size_t left;
    {
      std::lock_guard<std::mutex> g(mu_);
      std::vector<Retired> keep;
      for (auto& r : retired_) {
        if (all || r.epoch < min) ready.push_back(std::move(r.free));
        else keep.push_back(std::move(r));
      }
      retired_.swap(keep);
      left = retired_.size();
    }
    for (auto& f : ready) f();
    return left;
  }

 private:
  struct Retired {
    uint64_t epoch;
    std::function<void()> free;
  };
  std::atomic<uint64_t> epoch_{1};
  std::atomic<uint64_t> pins_[kMaxPins];
  std::atomic<int> nextPin_{0};
  std::mutex mu_;
  std::vector<Retired> retired_;
};

// RAII pin for one batch.
class EpochGuard {
 public:
  EpochGuard(Epochs& e, int pin) : e_(e), pin_(pin) { e_.enter(pin_); }
  ~EpochGuard() { e_.leave(pin_); }

 private:
  Epochs& e_;
  int pin_;
};

}  // namespace segw::esp
