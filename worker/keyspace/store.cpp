#include "worker/keyspace/store.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>

#include "worker/keyspace/bucket_table.h"
#include "worker/keyspace/field_expiry.h"

namespace keyloop {

struct Store::Entry {
  Entry* next;
  std::int64_t expireAtMs;
  std::uint32_t keyLength : 28;
  std::uint32_t kind : 4;  // a Kind
  std::uint32_t valueLength : 31;
  std::uint32_t snapshotMark : 1;  // see Store::beginSnapshot
  // When a command last touched it, in the store's clock (seconds, like
  // Redis's LRU clock): OBJECT IDLETIME, and what eviction will read.
  std::uint32_t accessed;
  char bytes[];  // key, then value
};

namespace {

constexpr std::size_t kMinBuckets = 4;

// The header without the struct's tail padding: 28 bytes.
std::size_t entrySize(std::size_t keyLength, std::size_t valueLength) {
  return offsetof(Store::Entry, bytes) + keyLength + valueLength;
}

Store::Entry* newEntry(std::string_view key, std::string_view value, std::int64_t expireAtMs, Kind kind,
                       std::uint32_t accessed) {
  void* memory = std::malloc(entrySize(key.size(), value.size()));
  if (memory == nullptr) throw std::bad_alloc();
  auto* e = static_cast<Store::Entry*>(memory);
  e->expireAtMs = expireAtMs;
  e->keyLength = static_cast<std::uint32_t>(key.size());
  e->kind = static_cast<std::uint32_t>(kind);
  e->valueLength = static_cast<std::uint32_t>(value.size());
  e->snapshotMark = 0;
  e->accessed = accessed;
  std::memcpy(e->bytes, key.data(), key.size());
  if (!value.empty()) std::memcpy(e->bytes + key.size(), value.data(), value.size());
  return e;
}

}  // namespace

namespace {

std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A fresh seed per store from one random draw per process.
std::uint64_t nextSeed() {
  static std::uint64_t state = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  state += 0x9E3779B97F4A7C15ull;
  return mix(state);
}

}  // namespace

Store::Store() : buckets_(kMinBuckets, nullptr), rngState_(nextSeed()) {
  // A random hash seed keeps crafted keys from piling into one chain.
  seed_ = random();
}

std::uint64_t Store::random() {
  rngState_ += 0x9E3779B97F4A7C15ull;
  return mix(rngState_);
}

Store::Store(std::size_t expected) : Store() {
  buckets_.assign(std::bit_ceil(std::max(kMinBuckets, expected)), nullptr);
}

Store::~Store() {
  offload_ = nullptr;  // the pool may be gone already: free here
  clear();
}

std::string_view Store::key(const Entry* e) { return {e->bytes, e->keyLength}; }
std::string_view Store::value(const Entry* e) { return {e->bytes + e->keyLength, e->valueLength}; }
char* Store::mutableValue(Entry* e) { return e->bytes + e->keyLength; }
std::int64_t Store::expireAt(const Entry* e) { return e->expireAtMs; }
namespace {

constexpr std::uint32_t kLfuInitial = 5;  // Redis's LFU_INIT_VAL: a new key is not the first to go

std::uint32_t minutesOf(std::uint32_t seconds) { return (seconds / 60) & 0xFFFF; }

}  // namespace

namespace {
thread_local std::int64_t commandTimeMs = 0;
}  // namespace

void Store::tick(std::int64_t nowMs) {
  clock_ = static_cast<std::uint32_t>(nowMs / 1000);
  commandTimeMs = nowMs;
}

std::int64_t Store::commandTime() { return commandTimeMs; }

std::uint32_t Store::initialAccess() const { return lfu_.on ? (minutesOf(clock_) << 8) | kLfuInitial : clock_; }

std::uint8_t Store::frequency(const Entry* e) const {
  const std::uint32_t last = e->accessed >> 8, counter = e->accessed & 0xFF, now = minutesOf(clock_);
  const std::uint32_t elapsed = now >= last ? now - last : 65535 - last + now;
  const std::uint32_t periods = lfu_.decayMinutes > 0 ? elapsed / static_cast<std::uint32_t>(lfu_.decayMinutes) : 0;
  return static_cast<std::uint8_t>(periods > counter ? 0 : counter - periods);
}

void Store::setFrequency(Entry* e, std::uint8_t counter) const { e->accessed = (minutesOf(clock_) << 8) | counter; }

void Store::touch(Entry* e) {
  if (!lfu_.on) {
    e->accessed = clock_;
    return;
  }
  // Redis's LFULogIncr: the higher the counter, the less likely one more.
  std::uint32_t counter = frequency(e);
  if (counter < 255) {
    const double base = counter > kLfuInitial ? counter - kLfuInitial : 0;
    const double p = 1.0 / (base * lfu_.logFactor + 1);
    if (static_cast<double>(random() >> 11) * 0x1.0p-53 < p) ++counter;
  }
  setFrequency(e, static_cast<std::uint8_t>(counter));
}
void Store::setIdle(Entry* e, std::int64_t idleSeconds) const {
  e->accessed = clock_ - static_cast<std::uint32_t>(idleSeconds);
}
std::int64_t Store::idleSeconds(const Entry* e) const {
  return static_cast<std::uint32_t>(clock_ - e->accessed);  // unsigned: wraps like Redis's 24-bit clock
}
std::size_t Store::allocationSize(const Entry* e) {
  // glibc's chunk: 8 bytes of header, 16-byte steps, at least 32.
  return std::max<std::size_t>(32, (entrySize(e->keyLength, e->valueLength) + 8 + 15) / 16 * 16);
}

Kind Store::kind(const Entry* e) { return static_cast<Kind>(e->kind); }
void Store::setKind(Entry* e, Kind kind) { e->kind = static_cast<std::uint32_t>(kind); }

void* Store::objectPointer(const Entry* e) {
  void* p;
  std::memcpy(&p, e->bytes + e->keyLength, sizeof p);
  return p;
}

void Store::release(Entry* e) {
  const Kind k = kind(e);
  if (!ownsObject(k)) return;
  void* object = objectPointer(e);
  // Freeing a few elements costs less than handing them to a thread
  // (Redis's LAZYFREE_THRESHOLD is the same 64).
  constexpr std::size_t kOffloadAbove = 64;
  if (offload_ && freeEffort(k, object) > kOffloadAbove) {
    ++offloadedTotal_;
    offload_([k, object] { destroyObject(k, object); });
  } else {
    destroyObject(k, object);
  }
}

std::size_t Store::bucketOf(std::string_view key) const {
  return std::_Hash_bytes(key.data(), key.size(), static_cast<std::size_t>(seed_)) &
         (buckets_.size() - 1);
}

Store::Entry** Store::slotOf(std::string_view key) {
  Entry** slot = &buckets_[bucketOf(key)];
  while (*slot != nullptr && Store::key(*slot) != key) slot = &(*slot)->next;
  return slot;
}

void Store::prefetch(std::span<const std::string_view> keys) const {
  constexpr std::size_t kMost = 32;
  std::array<std::size_t, kMost> buckets;
  const std::size_t n = std::min(keys.size(), kMost);
  for (std::size_t i = 0; i < n; ++i) {
    buckets[i] = bucketOf(keys[i]);
    __builtin_prefetch(&buckets_[buckets[i]]);
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (const Entry* head = buckets_[buckets[i]]) __builtin_prefetch(head);
  }
}

void Store::index(Entry* e) {
  if (e->expireAtMs != kNoExpiry) volatile_.insert(e);
  if (kind(e) == Kind::HashTtl) timedHashes_.insert(e);
}

void Store::unindex(Entry* e) {
  if (e->expireAtMs != kNoExpiry) volatile_.erase(e);
  if (kind(e) == Kind::HashTtl) timedHashes_.erase(e);
}

Store::Entry* Store::takeOut(Entry** slot) {
  Entry* e = *slot;
  *slot = e->next;
  unindex(e);
  --size_;
  return e;
}

void Store::unlink(Entry** slot) {
  Entry* e = takeOut(slot);
  release(e);
  std::free(e);
}

Store::Entry* Store::find(std::string_view key, std::int64_t nowMs) {
  Entry** slot = slotOf(key);
  Entry* e = *slot;
  if (e == nullptr) return nullptr;
  if (e->expireAtMs != kNoExpiry && e->expireAtMs <= nowMs) {
    const std::string name = onExpired_ ? std::string(Store::key(e)) : std::string();
    unlink(slot);
    ++expiredTotal_;
    shrinkIfNeeded();
    if (onExpired_) onExpired_(name);
    return nullptr;
  }
  return e;
}

Store::Entry* Store::set(std::string_view key, std::string_view value, std::int64_t expireAtMs, Kind kind) {
  return place(newEntry(key, value, expireAtMs, kind, initialAccess()));
}

Store::Entry* Store::place(Entry* fresh) {
  Entry** slot = slotOf(key(fresh));
  if (Entry* old = *slot) {
    fresh->snapshotMark = old->snapshotMark;  // a snapshot still owes the old value, or has it
    fresh->next = old->next;
    unindex(old);
    release(old);
    std::free(old);
  } else {
    fresh->snapshotMark = savedMark_;  // born after the snapshot began: not in it
    fresh->next = nullptr;
    ++size_;
  }
  *slot = fresh;
  index(fresh);
  growIfNeeded();
  return fresh;
}

Store::Entry* Store::setValue(Entry* entry, std::string_view value) {
  if (value.size() == entry->valueLength) {  // INCR and friends mostly land here
    std::memcpy(mutableValue(entry), value.data(), value.size());
    return entry;
  }
  Entry* e = resizeValue(entry, value.size());
  if (!value.empty()) std::memcpy(mutableValue(e), value.data(), value.size());
  return e;
}

Store::Entry* Store::setValue(Entry* entry, std::string_view value, Kind kind) {
  unindex(entry);
  release(entry);
  entry->kind = static_cast<std::uint32_t>(kind);
  index(entry);
  return setValue(entry, value);
}

Store::Entry* Store::setObject(Entry* entry, void* object, Kind kind) {
  return setValue(entry, std::string_view(reinterpret_cast<const char*>(&object), sizeof object), kind);
}

Store::Entry* Store::spliceValue(Entry* entry, std::size_t offset, std::size_t erase, std::string_view insert) {
  const std::size_t oldLength = entry->valueLength;
  const std::size_t tail = oldLength - offset - erase;
  Entry* e = entry;
  if (insert.size() > erase) {
    e = resizeValue(entry, oldLength + insert.size() - erase);
    char* v = mutableValue(e);
    std::memmove(v + offset + insert.size(), v + offset + erase, tail);
  } else if (insert.size() < erase) {
    char* v = mutableValue(e);
    std::memmove(v + offset + insert.size(), v + offset + erase, tail);
    e = resizeValue(entry, oldLength + insert.size() - erase);
  }
  if (!insert.empty()) std::memcpy(mutableValue(e) + offset, insert.data(), insert.size());
  return e;
}

Store::Entry* Store::resizeValue(Entry* entry, std::size_t newLength) {
  Entry** slot = slotOf(key(entry));
  const std::size_t oldLength = entry->valueLength;
  void* memory = std::realloc(entry, entrySize(entry->keyLength, newLength));
  if (memory == nullptr) throw std::bad_alloc();
  Entry* e = static_cast<Entry*>(memory);
  e->valueLength = static_cast<std::uint32_t>(newLength);
  if (newLength > oldLength) std::memset(mutableValue(e) + oldLength, 0, newLength - oldLength);
  *slot = e;
  if (e != entry) {  // moved: the TTL sets hold the old address
    if (e->expireAtMs != kNoExpiry) {
      volatile_.erase(entry);
      volatile_.insert(e);
    }
    if (kind(e) == Kind::HashTtl) {
      timedHashes_.erase(entry);
      timedHashes_.insert(e);
    }
  }
  return e;
}

void Store::setExpire(Entry* entry, std::int64_t expireAtMs) {
  if (entry->expireAtMs == kNoExpiry && expireAtMs != kNoExpiry) volatile_.insert(entry);
  if (entry->expireAtMs != kNoExpiry && expireAtMs == kNoExpiry) volatile_.erase(entry);
  entry->expireAtMs = expireAtMs;
}

bool Store::erase(std::string_view key) {
  Entry** slot = slotOf(key);
  if (*slot == nullptr) return false;
  unlink(slot);
  shrinkIfNeeded();
  return true;
}

Store::Entry* Store::adopt(Store& from, Entry* entry, std::string_view to) {
  Entry* fresh = newEntry(to, value(entry), entry->expireAtMs, kind(entry), entry->accessed);
  // Taken out without release(): the new entry owns what the old one did.
  std::free(from.takeOut(from.slotOf(key(entry))));
  return place(fresh);
}

bool Store::saved(const Entry* e) const { return e->snapshotMark == savedMark_; }
void Store::markSaved(Entry* e) const { e->snapshotMark = savedMark_ & 1u; }

void Store::markAllSaved() {
  for (Entry* head : buckets_) {
    for (Entry* e = head; e != nullptr; e = e->next) markSaved(e);
  }
}

std::uint64_t Store::scanUnsaved(std::uint64_t cursor, std::size_t count, const std::function<void(Entry*)>& save) {
  return scanEntries(cursor, count, kNoExpiry, [&](const Entry* e) {
    auto* entry = const_cast<Entry*>(e);  // only its mark changes: the walk itself is untouched
    if (saved(entry)) return;
    save(entry);
    markSaved(entry);
  });
}

void Store::clear() {
  // What is big among the values still goes to the offload hook.
  for (Entry* head : buckets_) {
    for (Entry* e = head; e != nullptr; e = e->next) {
      release(e);
      setKind(e, Kind::String);  // released: nothing left for free() to delete
    }
  }
  detachAll().free();
}

Store::Detached Store::detachAll() {
  std::vector<Entry*> buckets(kMinBuckets, nullptr);
  buckets.swap(buckets_);
  // The TTL set goes too: clearing a million of its nodes here would stall
  // the loop for tens of milliseconds.
  std::unordered_set<Entry*> expiring;
  expiring.swap(volatile_);
  timedHashes_.clear();
  size_ = 0;
  return Detached(std::move(buckets), std::move(expiring));
}

void Store::Detached::free() {
  expiring_ = {};  // before the entries it points to
  for (Entry* head : buckets_) {
    while (head != nullptr) {
      Entry* next = head->next;
      if (ownsObject(kind(head))) destroyObject(kind(head), objectPointer(head));
      std::free(head);
      head = next;
    }
  }
  buckets_.clear();
}

// Grow at load 1, shrink below 1/8: each resize is then paid for by at
// least as many writes as it moves keys. Only a removal shrinks (a store
// sized up front keeps its buckets while it fills).
void Store::growIfNeeded() {
  if (size_ > buckets_.size()) rehash(buckets_.size() * 2);
}

void Store::shrinkIfNeeded() {
  if (buckets_.size() > kMinBuckets && size_ * 8 < buckets_.size()) {
    rehash(std::max(kMinBuckets, std::bit_ceil(size_ * 2)));
  }
}

void Store::rehash(std::size_t bucketCount) {
  std::vector<Entry*> old(bucketCount, nullptr);
  old.swap(buckets_);
  for (Entry* head : old) {
    while (head != nullptr) {
      Entry* next = head->next;
      Entry*& bucket = buckets_[bucketOf(key(head))];
      head->next = bucket;
      bucket = head;
      head = next;
    }
  }
}

std::uint64_t Store::scan(std::uint64_t cursor, std::size_t count, std::int64_t nowMs,
                          const std::function<void(std::string_view)>& visit) {
  return scanEntries(cursor, count, nowMs, [&visit](const Entry* e) { visit(key(e)); });
}

std::uint64_t Store::scanEntries(std::uint64_t cursor, std::size_t count, std::int64_t nowMs,
                                 const std::function<void(const Entry*)>& visit) {
  // Reverse-binary increment of the masked bits (Pieter Noordhuis's scheme
  // in Redis's dictScan): resizes between calls neither skip nor lose keys.
  const std::uint64_t mask = buckets_.size() - 1;
  std::size_t visited = 0;
  std::size_t budget = count * 10;
  do {
    for (Entry* e = buckets_[cursor & mask]; e != nullptr; e = e->next) {
      if (e->expireAtMs != kNoExpiry && e->expireAtMs <= nowMs) continue;
      visit(e);
      ++visited;
    }
    cursor |= ~mask;
    cursor = reverseBits(reverseBits(cursor) + 1);
  } while (cursor != 0 && visited < count && --budget > 0);
  return cursor;
}

Store::Entry* Store::randomEntry(std::int64_t nowMs) {
  for (int attempt = 0; attempt < 100 && size_ > 0; ++attempt) {
    std::size_t chainLength = 0;
    Entry* head = nullptr;
    while (head == nullptr) head = buckets_[random() & (buckets_.size() - 1)];
    for (Entry* e = head; e != nullptr; e = e->next) ++chainLength;
    Entry* pick = head;
    for (std::size_t skip = random() % chainLength; skip > 0; --skip) pick = pick->next;
    if (pick->expireAtMs == kNoExpiry || pick->expireAtMs > nowMs) return pick;
    find(key(pick), nowMs);  // deletes it, as Redis's RANDOMKEY does
  }
  return nullptr;
}

void Store::sample(std::size_t count, bool withTtl, const std::function<void(Entry*)>& visit) {
  if (withTtl) {
    for (std::size_t i = 0; i < count && !volatile_.empty(); ++i) visit(randomVolatileEntry());
    return;
  }
  if (size_ == 0) return;
  // Consecutive buckets from a random one, bounded so a sparse table ends.
  std::size_t at = random() & (buckets_.size() - 1), seen = 0;
  for (std::size_t steps = 0; seen < count && steps < count * 10; ++steps, at = (at + 1) & (buckets_.size() - 1)) {
    for (Entry* e = buckets_[at]; e != nullptr && seen < count; e = e->next, ++seen) visit(e);
  }
}

Store::Entry* Store::randomVolatileEntry() {
  if (volatile_.empty()) return nullptr;
  // A random bucket of the TTL set, then a random member of its chain (a
  // set emptied by deletes keeps its buckets: bounded tries, then any).
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const std::size_t bucket = random() % volatile_.bucket_count();
    const std::size_t n = volatile_.bucket_size(bucket);
    if (n == 0) continue;
    auto it = volatile_.begin(bucket);
    for (std::size_t skip = random() % n; skip > 0; --skip) ++it;
    return *it;
  }
  return *volatile_.begin();
}

void Store::forEach(std::int64_t nowMs, const std::function<void(const Entry*)>& visit) {
  for (Entry* head : buckets_) {
    for (Entry* e = head; e != nullptr; e = e->next) {
      if (e->expireAtMs == kNoExpiry || e->expireAtMs > nowMs) visit(e);
    }
  }
}

std::size_t Store::expireSome(std::int64_t nowMs, const std::function<bool()>& outOfTime) {
  constexpr std::size_t kSamplesPerRound = 20;
  constexpr std::size_t kBucketsPerRound = 400;  // bounds a round's work on sparse tables
  std::size_t deleted = 0;
  std::vector<Entry*> expired;
  while (!volatile_.empty()) {
    // Sweep buckets from where the last round stopped (Redis keeps a cursor
    // into its expires dict the same way): every key with a TTL is looked
    // at within a bounded number of rounds, however few of them are left.
    expired.clear();
    std::size_t sampled = 0;
    const std::size_t buckets = volatile_.bucket_count();
    // At most one lap per round, so no entry is collected twice.
    const std::size_t lap = std::min(kBucketsPerRound, buckets);
    for (std::size_t visited = 0; visited < lap && sampled < kSamplesPerRound; ++visited) {
      const std::size_t b = expireCursor_++ % buckets;
      for (auto it = volatile_.begin(b); it != volatile_.end(b); ++it) {
        ++sampled;
        if ((*it)->expireAtMs <= nowMs) expired.push_back(*it);
      }
    }
    for (Entry* e : expired) {
      const std::string name = onExpired_ ? std::string(key(e)) : std::string();
      unlink(slotOf(key(e)));
      ++expiredTotal_;
      ++deleted;
      if (onExpired_) onExpired_(name);
    }
    shrinkIfNeeded();
    if (expired.size() * 4 <= sampled || outOfTime()) break;
  }
  // The set never shrinks its buckets by itself; a sparse one makes sweeps
  // slow, so give the memory back once most TTL keys are gone.
  if (volatile_.size() * 8 < volatile_.bucket_count() && volatile_.bucket_count() > 64) {
    volatile_.rehash(0);
  }
  return deleted;
}

std::size_t Store::expireFieldsSome(std::int64_t nowMs, const std::function<bool()>& outOfTime) {
  constexpr std::size_t kHashesPerRound = 20, kFieldsPerHash = 100;
  std::size_t removed = 0, removedThisRound;
  do {
    removedThisRound = 0;
    // Names, not entries: deleting a hash's last field deletes the hash.
    std::vector<std::string> round;
    const std::size_t buckets = timedHashes_.bucket_count();
    for (std::size_t seen = 0; seen < buckets && round.size() < kHashesPerRound; ++seen) {
      const std::size_t b = fieldCursor_++ % buckets;
      for (auto it = timedHashes_.begin(b); it != timedHashes_.end(b); ++it) round.emplace_back(key(*it));
    }
    for (const std::string& name : round) {
      Entry** slot = slotOf(name);
      Entry* e = *slot;
      if (e == nullptr || kind(e) != Kind::HashTtl) continue;
      std::vector<std::string> fields;
      field_ttl::removeExpired(e, nowMs, kFieldsPerHash, [&](std::string_view f) { fields.emplace_back(f); });
      if (fields.empty()) continue;
      removedThisRound += fields.size();
      const bool keyGone = table(e).size() == 0;
      if (keyGone) {
        unlink(slot);
        shrinkIfNeeded();
      }
      if (onFieldsExpired_) onFieldsExpired_(name, fields, keyGone);
    }
    removed += removedThisRound;
  } while (removedThisRound > 0 && !outOfTime());
  return removed;
}

}  // namespace keyloop
