// Anti-replay window (RFC 4303 §3.4.3) as an RFC 6479 bitmap: a ring of 64-bit blocks one block
// larger than the window, so sliding the window clears whole blocks instead of shifting bits.
// The split follows RFC 4303 §3.4.3: `check` runs before the ICV is verified (cheap reject, no
// state change, lock-free), `update` only after the ICV verified (re-checks under the SA's
// replay lock, because two packets with the same number can both pass `check`).
// With ESN, `inferHigh` recovers the high 32 bits of the sequence number (RFC 4303 App. A2.2).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>

namespace segw::esp {

class ReplayWindow {
 public:
  // window 0 disables replay protection (RFC 4303 §3.4.3: the receiver MAY disable it);
  // `top` is the highest sequence number already seen (0: none). Allocates the bitmap: only
  // before the SA is published to the packet path (see `reset` afterwards).
  void init(uint32_t window, uint64_t top = 0) {
    window_ = window;
    uint32_t need = (window ? window : 64) / 64 + 1;
    blocks_ = 1;
    while (blocks_ < need) blocks_ <<= 1;
    bits_ = std::make_unique<std::atomic<uint64_t>[]>(blocks_);
    for (uint32_t i = 0; i < blocks_; i++) bits_[i].store(0, std::memory_order_relaxed);
    top_.store(top, std::memory_order_relaxed);
  }

  // Restarts the window at `top` with no number marked, keeping its size and its bitmap: the
  // blocks are cleared in place, so a concurrent `check` reads stale or cleared bits, never
  // freed memory. Callers serialize it with `update` (the SA's replay lock).
  void reset(uint64_t top) {
    for (uint32_t i = 0; i < blocks_; i++) bits_[i].store(0, std::memory_order_relaxed);
    top_.store(top, std::memory_order_relaxed);
  }

  uint32_t window() const { return window_; }
  uint64_t top() const { return top_.load(std::memory_order_relaxed); }

  // RFC 4303 App. A2.2: high-order bits for a received low-order `seql`, relative to the
  // window's top T = Th:Tl and size W.
  uint32_t inferHigh(uint32_t seql) const {
    uint64_t t = top();
    uint32_t tl = uint32_t(t), th = uint32_t(t >> 32);
    uint32_t w = window_ ? window_ : 1;
    uint32_t bottom = tl - w + 1;  // mod 2^32 on purpose
    if (tl >= w - 1) return seql >= bottom ? th : th + 1;  // window within one subspace
    if (seql >= bottom) return th ? th - 1 : 0;             // window spans two subspaces
    return th;
  }

  // True if `seq` may be new: above the top, or inside the window and not yet marked.
  bool check(uint64_t seq) const {
    if (seq == 0) return false;  // RFC 4303 §3.3.3: the first packet sent has number 1
    if (!window_) return true;
    uint64_t t = top();
    if (seq > t) return true;
    if (t - seq >= window_) return false;
    uint64_t bit = seq & (uint64_t(blocks_) * 64 - 1);
    return !(bits_[bit >> 6].load(std::memory_order_relaxed) & (1ull << (bit & 63)));
  }

  // Marks `seq` received after its ICV verified; false if it turned out to be a replay.
  // Callers serialize updates per SA (one writer), `check` may run concurrently.
  bool update(uint64_t seq) {
    if (seq == 0) return false;
    uint64_t t = top();
    if (!window_) {
      if (seq > t) top_.store(seq, std::memory_order_relaxed);
      return true;
    }
    if (seq > t) {
      uint64_t cur = t >> 6, next = seq >> 6;
      uint64_t n = next - cur < blocks_ ? next - cur : blocks_;
      for (uint64_t i = 1; i <= n; i++) bits_[(cur + i) & (blocks_ - 1)].store(0, std::memory_order_relaxed);
      top_.store(seq, std::memory_order_relaxed);
    } else if (t - seq >= window_) {
      return false;
    }
    uint64_t bit = seq & (uint64_t(blocks_) * 64 - 1);
    uint64_t mask = 1ull << (bit & 63);
    uint64_t old = bits_[bit >> 6].fetch_or(mask, std::memory_order_relaxed);
    return !(old & mask);
  }

 private:
  uint32_t window_ = 0;
  uint32_t blocks_ = 1;
  std::unique_ptr<std::atomic<uint64_t>[]> bits_;
  std::atomic<uint64_t> top_{0};
};

}  // namespace segw::esp
