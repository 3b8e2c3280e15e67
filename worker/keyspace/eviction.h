// Eviction: maxmemory on one worker. The limit is split evenly: each
// worker keeps its own heap under limit / workers, so the workers together
// stay under the limit with no coordination on the request path.
//
// Before a command that may grow memory (a write Redis marks denyoom),
// makeRoom() evicts keys under the policy until the worker is under its
// budget, or says the write is refused (-OOM): with noeviction, or when
// the policy has nothing left to evict (volatile-* without keys with a TTL).
//
// What the heap holds is read from malloc (mallinfo2) only when an
// estimate says the budget may be passed: the last reading plus what the
// writes since then brought (their argument bytes), re-read on a timer.
// Victims come as in Redis: approximated LRU and LFU from samples of
// `maxmemory-samples` keys feeding a pool of the 16 best candidates,
// volatile-ttl the soonest to expire, *-random any; from every database
// (each one's samples feed the one pool, as Redis's evictionPoolPopulate).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config/config.h"
#include "worker/keyspace/databases.h"
#include "worker/keyspace/store.h"

namespace keyloop {

// The bytes a key holds from malloc (MEMORY USAGE).
std::size_t memoryOf(const Store::Entry* e);

class Eviction {
 public:
  explicit Eviction(Databases& databases) : databases_(databases) {}

  using Evict = std::function<void(int db, std::string_view key)>;
  // False: the write is refused (still over `budget`).
  bool makeRoom(const MemoryLimitConfig& config, std::size_t budget, std::int64_t nowMs, const Evict& evict);
  // A write brought about this many bytes.
  void noteGrowth(std::size_t bytes) { estimate_ += bytes; }
  // What malloc says, now (the timer; after frees on pool threads).
  void remeasure();
  void forgetCandidates() { pool_.clear(); }

 private:
  struct Candidate {
    std::uint64_t score;  // higher: a better victim
    int db;
    std::string key;
  };
  struct Victim {
    int db = 0;
    Store::Entry* entry = nullptr;
  };
  Victim victim(const MemoryLimitConfig& config, std::int64_t nowMs);
  // A random key (of those with a TTL if `volatileOnly`) of a random non-empty database.
  Victim randomVictim(bool volatileOnly, std::int64_t nowMs);
  void fillPool(const MemoryLimitConfig& config);

  Databases& databases_;
  int nextRandomDb_ = 0;
  std::vector<Candidate> pool_;  // ascending score
  std::size_t estimate_ = 0;
};

}  // namespace keyloop
