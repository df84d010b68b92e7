#include "esp/tables.h"

#include <algorithm>
#include <memory>

namespace segw::esp {

static uint32_t log2Buckets(uint32_t expected) {
  uint32_t bits = 10;
  while ((1u << bits) < expected * 2 && bits < 24) bits++;
  return bits;
}

SpiTable::SpiTable(uint32_t expected) {
  uint32_t bits = log2Buckets(expected);
  shift_ = 32 - bits;
  buckets_ = new std::atomic<Sa*>[1u << bits];
  for (uint32_t i = 0; i < (1u << bits); i++) buckets_[i].store(nullptr, std::memory_order_relaxed);
}

SpiTable::~SpiTable() { delete[] buckets_; }

void SpiTable::insert(Sa* sa) {
  auto& h = buckets_[hash(sa->spi)];
  sa->nextInSpi.store(h.load(std::memory_order_relaxed), std::memory_order_relaxed);
  h.store(sa, std::memory_order_release);
}

void SpiTable::remove(Sa* sa) {
  std::atomic<Sa*>* link = &buckets_[hash(sa->spi)];
  for (Sa* s = link->load(); s; link = &s->nextInSpi, s = link->load()) {
    if (s == sa) {
      // Readers standing on `sa` still reach the rest of the chain through its next link.
      link->store(sa->nextInSpi.load(), std::memory_order_release);
      return;
    }
  }
}

Addr maskAddr(const Addr& a, int family, int len) {
  Addr m;
  if (family == 4) {
    uint64_t mask = len == 0 ? 0 : (0xffffffffull << (32 - len)) & 0xffffffffull;
    m.lo = a.lo & mask;
    return m;
  }
  if (len == 0) return m;
  if (len <= 64) {
    m.hi = a.hi & (len == 64 ? ~0ull : ~(~0ull >> len));
    return m;
  }
  m.hi = a.hi;
  m.lo = a.lo & (len == 128 ? ~0ull : ~(~0ull >> (len - 64)));
  return m;
}

PolicyTable::PolicyTable(uint32_t expected) {
  uint32_t bits = log2Buckets(expected);
  shift_ = 32 - bits;
  buckets_ = new std::atomic<Bucket*>[1u << bits];
  for (uint32_t i = 0; i < (1u << bits); i++) buckets_[i].store(nullptr, std::memory_order_relaxed);
}

PolicyTable::~PolicyTable() {
  for (uint32_t i = 0; i < (1u << (32 - shift_)); i++) {
    for (Bucket* b = buckets_[i].load(); b;) {
      Bucket* n = b->next.load();
      delete b;
      b = n;
    }
  }
  delete[] buckets_;
}

uint32_t PolicyTable::hash(uint8_t family, uint8_t len, const Addr& a) const {
  uint64_t h = a.hi * 0x9e3779b97f4a7c15ull ^ (a.lo + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull;
  h ^= (uint64_t(family) << 8 | len) * 0x94d049bb133111ebull;
  h ^= h >> 29;
  return uint32_t((h * 0x9e3779b97f4a7c15ull) >> 32) >> shift_;
}

PolicyTable::Bucket* PolicyTable::findBucket(uint8_t family, uint8_t len, const Addr& prefix) const {
  for (Bucket* b = head(family, len, prefix).load(std::memory_order_acquire); b; b = b->next.load(std::memory_order_acquire))
    if (b->family == family && b->len == len && b->prefix == prefix) return b;
  return nullptr;
}

const Policy* PolicyTable::lookup(const FlowKey& k) const {
  const int fi = k.family == 4 ? 0 : 1;
  const Policy* best = nullptr;
  for (int w = 2; w >= 0; w--) {
    uint64_t bits = lengths_[fi][w].load(std::memory_order_acquire);
    while (bits) {
      int hb = 63 - __builtin_clzll(bits);
      bits &= ~(1ull << hb);
      int len = w * 64 + hb;
      Addr prefix = maskAddr(k.dst, k.family, len);
      const Bucket* b = findBucket(k.family, uint8_t(len), prefix);
      if (!b) continue;
      for (const Policy* p : b->entries) {
        if (best && p->priority >= best->priority) break;  // sorted: nothing better here
        if (selectorMatches(p->dst, k.dst, k.dport, k) && selectorMatches(p->src, k.src, k.sport, k)) {
          best = p;
          break;
        }
      }
    }
  }
  return best;
}

void PolicyTable::setLength(uint8_t family, uint8_t len, int delta) {
  int fi = family == 4 ? 0 : 1;
  int& refs = lengthRefs_[fi][len];
  refs += delta;
  uint64_t bit = 1ull << (len % 64);
  auto& word = lengths_[fi][len / 64];
  if (refs > 0) word.fetch_or(bit, std::memory_order_release);
  else word.fetch_and(~bit, std::memory_order_release);
}

void PolicyTable::replace(uint8_t family, uint8_t len, const Addr& prefix, Bucket* fresh, Epochs& epochs) {
  std::atomic<Bucket*>* link = &head(family, len, prefix);
  Bucket* old = nullptr;
  for (Bucket* b = link->load(); b; link = &b->next, b = link->load()) {
    if (b->family == family && b->len == len && b->prefix == prefix) {
      old = b;
      break;
    }
  }
  if (old) {
    Bucket* after = old->next.load();
    if (fresh) {
      fresh->next.store(after, std::memory_order_relaxed);
      link->store(fresh, std::memory_order_release);
    } else {
      link->store(after, std::memory_order_release);
    }
    epochs.retire([old] { delete old; });
  } else if (fresh) {
    auto& h = head(family, len, prefix);
    fresh->next.store(h.load(), std::memory_order_relaxed);
    h.store(fresh, std::memory_order_release);
  }
}

void PolicyTable::insert(Policy* p, Epochs& epochs) {
  for (const auto& [prefix, len] : p->prefixes) {
    const Bucket* old = findBucket(p->dst.family, len, prefix);
    std::unique_ptr<Bucket> fresh(new Bucket{p->dst.family, len, prefix, old ? old->entries : std::vector<Policy*>{}});
    auto at = std::upper_bound(fresh->entries.begin(), fresh->entries.end(), p,
                               [](const Policy* a, const Policy* b) { return a->priority < b->priority; });
    fresh->entries.insert(at, p);
    replace(p->dst.family, len, prefix, fresh.release(), epochs);
    if (!old) setLength(p->dst.family, len, +1);
  }
}

void PolicyTable::remove(Policy* p, Epochs& epochs) {
  for (const auto& [prefix, len] : p->prefixes) {
    const Bucket* old = findBucket(p->dst.family, len, prefix);
    if (!old) continue;
    std::vector<Policy*> entries = old->entries;
    entries.erase(std::remove(entries.begin(), entries.end(), p), entries.end());
    if (entries.empty()) {
      replace(p->dst.family, len, prefix, nullptr, epochs);
      setLength(p->dst.family, len, -1);
    } else {
      replace(p->dst.family, len, prefix, new Bucket{p->dst.family, len, prefix, std::move(entries)}, epochs);
    }
  }
}

}  // namespace segw::esp
