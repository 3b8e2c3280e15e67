#include "worker/keyspace/eviction.h"

#include <algorithm>

#include "common/metrics/process_memory.h"
#include "worker/keyspace/collection.h"
#include "worker/keyspace/list.h"
#include "worker/keyspace/stream.h"
#include "worker/keyspace/zset.h"

namespace keyloop {

namespace {

constexpr std::size_t kPoolSize = 16;  // Redis's EVPOOL_SIZE

bool volatileOnly(EvictionPolicy p) {
  return p == EvictionPolicy::VolatileLru || p == EvictionPolicy::VolatileLfu || p == EvictionPolicy::VolatileRandom ||
         p == EvictionPolicy::VolatileTtl;
}

}  // namespace

std::size_t memoryOf(const Store::Entry* e) {
  // Exact, not sampled: the entry's chunk, the table's, and a bucket slot.
  const std::size_t own = collection::isTable(e)            ? collection::ownBytes(e)
                          : Store::kind(e) == Kind::Stream ? Store::object<stream::Stream>(e).bytes()
                                                           : list::ownBytes(e) + zset::ownBytes(e);
  return Store::allocationSize(e) + own + sizeof(void*);
}

void Eviction::remeasure() { estimate_ = heapBytesInUse(); }

bool Eviction::makeRoom(const MemoryLimitConfig& config, std::size_t budget, std::int64_t nowMs, const Evict& evict) {
  if (config.limit == 0 || estimate_ <= budget) return true;
  remeasure();
  if (estimate_ <= budget) return true;
  if (config.policy == EvictionPolicy::NoEviction) return false;
  // A little under the budget: the next writes need no reading of malloc.
  const std::size_t target = budget - std::min<std::size_t>(budget / 200, 1 << 20);
  for (int evicted = 1; estimate_ > target; ++evicted) {
    const Victim v = victim(config, nowMs);
    if (v.entry == nullptr) return estimate_ <= budget;
    const std::size_t freed = memoryOf(v.entry);
    evict(v.db, Store::key(v.entry));
    estimate_ = estimate_ > freed ? estimate_ - freed : 0;
    if (evicted % 64 == 0) remeasure();  // the estimate of what a key frees drifts
  }
  return true;
}

void Eviction::fillPool(const MemoryLimitConfig& config) {
  const bool ttl = config.policy == EvictionPolicy::VolatileTtl;
  const bool lfu = usesLfu(config.policy);
  const bool onlyVolatile = volatileOnly(config.policy);
  databases_.forEach([&](int db, Store& store) {
    if (onlyVolatile && store.volatileCount() == 0) return;
    store.sample(static_cast<std::size_t>(config.samples), onlyVolatile, [&](Store::Entry* e) {
      std::uint64_t score;
      if (ttl) score = ~static_cast<std::uint64_t>(Store::expireAt(e));  // soonest first
      else if (lfu) score = 255 - store.frequency(e);
      else score = static_cast<std::uint64_t>(store.idleSeconds(e));
      const std::string_view key = Store::key(e);
      if (std::any_of(pool_.begin(), pool_.end(), [&](const Candidate& c) { return c.db == db && c.key == key; })) return;
      if (pool_.size() == kPoolSize) {
        if (score <= pool_.front().score) return;
        pool_.erase(pool_.begin());
      }
      auto at = std::upper_bound(pool_.begin(), pool_.end(), score, [](std::uint64_t s, const Candidate& c) { return s < c.score; });
      pool_.insert(at, Candidate{score, db, std::string(key)});
    });
  });
}

Eviction::Victim Eviction::randomVictim(bool onlyVolatile, std::int64_t nowMs) {
  // Database after database, as Redis's *-random policies go round them.
  const int count = databases_.count();
  for (int i = 0; i < count; ++i) {
    const int db = (nextRandomDb_ + i) % count;
    Store& store = databases_[db];
    Store::Entry* e = onlyVolatile ? store.randomVolatileEntry() : store.randomEntry(nowMs);
    if (e == nullptr) continue;
    nextRandomDb_ = (db + 1) % count;
    return {db, e};
  }
  return {};
}

Eviction::Victim Eviction::victim(const MemoryLimitConfig& config, std::int64_t nowMs) {
  switch (config.policy) {
    case EvictionPolicy::AllKeysRandom: return randomVictim(false, nowMs);
    case EvictionPolicy::VolatileRandom: return randomVictim(true, nowMs);
    default: break;
  }
  // A few rounds: candidates may have gone (deleted, or lost their TTL) since they were sampled.
  for (int round = 0; round < 16; ++round) {
    fillPool(config);
    while (!pool_.empty()) {
      const Candidate best = std::move(pool_.back());
      pool_.pop_back();
      if (!databases_.valid(best.db)) continue;
      Store::Entry* e = databases_[best.db].find(best.key, nowMs);
      if (e != nullptr && (!volatileOnly(config.policy) || Store::expireAt(e) != kNoExpiry)) return {best.db, e};
    }
  }
  return {};
}

}  // namespace keyloop
