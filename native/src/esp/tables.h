// Lookup tables of the packet path, sized at engine creation for the expected number of SAs
// (100k and more). Readers (packet threads inside an epoch pin, see rcu.h) never lock; the
// control thread is the only writer, publishes with release stores and retires what it
// unlinks. Nothing is copied wholesale on an update: one chain link or one bucket changes.
//
//   SpiTable     inbound SA by SPI (SPIs of inbound SAs are unique: the backend allocates them)
//   PolicyTable  outbound policy by inner packet: one hash over (family, prefix length,
//                masked destination), probed for each destination prefix length in use,
//                longest first; the policy with the lowest priority value wins (XFRM order)
//   ReqidSlot    the SA a policy's reqid currently sends with; swapped atomically on rekey
#pragma once
#include <atomic>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "esp/rcu.h"
#include "esp/sa.h"

namespace segw::esp {

class SpiTable {
 public:
  explicit SpiTable(uint32_t expected);
  ~SpiTable();
  Sa* find(uint32_t spi) const {
    for (Sa* s = buckets_[hash(spi)].load(std::memory_order_acquire); s; s = s->nextInSpi.load(std::memory_order_acquire))
      if (s->spi == spi) return s;
    return nullptr;
  }
  void insert(Sa* sa);
  void remove(Sa* sa);  // caller retires the SA afterwards

 private:
  uint32_t hash(uint32_t spi) const { return (spi * 0x9e3779b1u) >> shift_; }
  uint32_t shift_;
  std::atomic<Sa*>* buckets_;
};

struct ReqidSlot {
  uint32_t reqid = 0;
  std::atomic<Sa*> current{nullptr};
  std::vector<Sa*> sas;  // control thread only: outbound SAs with this reqid, oldest first
  int policies = 0;      // control thread only
};

struct Policy {
  uint32_t id = 0;
  Selector src, dst;
  uint32_t priority = 0;
  ReqidSlot* slot = nullptr;
  std::vector<std::pair<Addr, uint8_t>> prefixes;  // the destination range as prefixes
};

class PolicyTable {
 public:
  explicit PolicyTable(uint32_t expected);
  ~PolicyTable();
  // The best outbound policy for a packet, or nullptr.
  const Policy* lookup(const FlowKey& k) const;
  void insert(Policy* p, Epochs& epochs);
  void remove(Policy* p, Epochs& epochs);  // caller retires the policy afterwards

 private:
  struct Bucket {
    uint8_t family, len;
    Addr prefix;
    std::vector<Policy*> entries;  // sorted by priority
    std::atomic<Bucket*> next{nullptr};
  };
  uint32_t hash(uint8_t family, uint8_t len, const Addr& a) const;
  std::atomic<Bucket*>& head(uint8_t family, uint8_t len, const Addr& a) const {
    return buckets_[hash(family, len, a)];
  }
  void replace(uint8_t family, uint8_t len, const Addr& prefix, Bucket* fresh, Epochs& epochs);
  Bucket* findBucket(uint8_t family, uint8_t len, const Addr& prefix) const;
  void setLength(uint8_t family, uint8_t len, int delta);

  uint32_t shift_;
  std::atomic<Bucket*>* buckets_;
  // Destination prefix lengths in use, per family (bit i of word i/64 = length i).
  std::atomic<uint64_t> lengths_[2][3] = {};
  int lengthRefs_[2][129] = {};
};

// Masks an address to its first `len` bits (IPv4 lengths count from bit 31 of lo).
Addr maskAddr(const Addr& a, int family, int len);

}  // namespace segw::esp
