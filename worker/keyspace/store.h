// Store: one worker's keyspace: binary-safe string keys to values of any
// type (keyspace/kind.h), each with an optional absolute expiry time (Unix
// milliseconds).
//
// Why its own hash table: memory per key is a product goal. An entry is one
// allocation [next | expireAt | keyLen | valueLen | key | value] in a chained
// table of power-of-two buckets (no std::string, no node wrapper), so a
// 16-byte key with a 32-byte value costs one 80-byte malloc chunk and a
// bucket slot. Chaining (not open addressing) is what lets SCAN keep Redis's
// guarantee across resizes: a key's bucket is always hash & mask, so the
// reverse-binary cursor visits every key present for the whole scan.
//
// A value is its entry's bytes: a string's, a small hash's or set's packed
// form (so a small value costs no allocation of its own), or a pointer to
// the BucketTable of a big one, which the entry owns. Big tables are freed
// through the offload hook (a pool thread), never on the loop.
//
// Expired keys vanish lazily in find() and actively in expireSome(), which
// samples only keys that have a TTL (kept in their own set) under a budget.
// Not thread-safe: one store per worker loop.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <span>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/loop/clock.h"
#include "worker/keyspace/kind.h"

namespace keyloop {

class BucketTable;

constexpr std::int64_t kNoExpiry = -1;

class Store {
 public:
  struct Entry;  // opaque outside store.cpp

  Store();
  // Sized for about `expected` keys from the start (no rehash on the way).
  explicit Store(std::size_t expected);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // nullptr if absent or expired (an expired key is deleted on the way).
  Entry* find(std::string_view key, std::int64_t nowMs);
  // Keys longer than this are refused before they reach the store.
  static constexpr std::size_t kMaxKeyLength = (std::size_t{1} << 28) - 1;

  // Inserts or replaces; returns the entry (pointers change on every write).
  Entry* set(std::string_view key, std::string_view value, std::int64_t expireAtMs, Kind kind = Kind::String);
  // Replaces the value of an existing entry, keeping its expiry (and its
  // kind unless one is given).
  Entry* setValue(Entry* entry, std::string_view value);
  Entry* setValue(Entry* entry, std::string_view value, Kind kind);
  // Gives the entry `object` (a table, list or sorted set of `kind`) as its
  // value; it owns it from now on.
  Entry* setObject(Entry* entry, void* object, Kind kind);
  Entry* setTable(Entry* entry, BucketTable* table, Kind kind) { return setObject(entry, table, kind); }
  // Replaces `erase` bytes of the value at `offset` with `insert` (packed
  // values change this way, without a copy of the rest).
  Entry* spliceValue(Entry* entry, std::size_t offset, std::size_t erase, std::string_view insert);
  // Resizes the value in place (new bytes zeroed) for APPEND / SETRANGE.
  Entry* resizeValue(Entry* entry, std::size_t newLength);
  void setExpire(Entry* entry, std::int64_t expireAtMs);
  bool erase(std::string_view key);
  // Gives `entry` (key, value and expiry) the name `to`, replacing what
  // was there; the value is moved, not copied. Returns the entry.
  Entry* rename(Entry* entry, std::string_view to) { return adopt(*this, entry, to); }
  // The same across stores: `entry` leaves `from` and arrives here as `key`.
  Entry* adopt(Store& from, Entry* entry, std::string_view key);
  void clear();
  // A hint, no effect on contents: starts loading the buckets and first
  // entries of these keys, so that the cache misses of a pipeline's lookups
  // overlap instead of coming one after another.
  void prefetch(std::span<const std::string_view> keys) const;
  // Empties the store in O(buckets) and hands the entries over, so that a
  // big flush can free them on a pool thread instead of stalling the loop.
  class Detached {
   public:
    Detached() = default;
    Detached(std::vector<Entry*> buckets, std::unordered_set<Entry*> expiring)
        : buckets_(std::move(buckets)), expiring_(std::move(expiring)) {}
    Detached(Detached&&) = default;
    Detached& operator=(Detached&&) = default;
    ~Detached() { free(); }
    void free();  // safe from any thread: touches nothing but these entries

   private:
    std::vector<Entry*> buckets_;
    std::unordered_set<Entry*> expiring_;
  };
  Detached detachAll();

  static std::string_view key(const Entry* e);
  static std::string_view value(const Entry* e);
  static char* mutableValue(Entry* e);
  static std::int64_t expireAt(const Entry* e);
  static Kind kind(const Entry* e);
  // Bytes the entry takes from malloc (MEMORY USAGE).
  static std::size_t allocationSize(const Entry* e);

  // The access clock: seconds since the epoch, set once per command by
  // tick(); touch() stamps an entry with it (new entries get it too).
  // Under an LFU policy the same 32 bits hold Redis's LFU state instead
  // (the minute of the last decrement, 16 bits, and a logarithmic access
  // counter, 8 bits): touch() counts the access, as Redis's updateLFU.
  void tick(std::int64_t nowMs);
  // The time of the command running on this thread, as the last tick() of
  // any store set it (Redis's commandTimeSnapshot): what a hash field's
  // expiry is read against (field_expiry.h).
  static std::int64_t commandTime();
  void touch(Entry* e);
  void setIdle(Entry* e, std::int64_t idleSeconds) const;
  std::int64_t idleSeconds(const Entry* e) const;
  struct Lfu {
    bool on = false;
    int logFactor = 10, decayMinutes = 1;
  };
  // Switching leaves the stamps as they are: they adjust as keys are used (as in Redis).
  void setLfu(Lfu lfu) { lfu_ = lfu; }
  bool lfu() const { return lfu_.on; }
  // The access counter after its decay (OBJECT FREQ), and RESTORE's FREQ.
  std::uint8_t frequency(const Entry* e) const;
  void setFrequency(Entry* e, std::uint8_t counter) const;
  // About `count` entries from a random spot (Redis's dictGetSomeKeys),
  // of the keys with a TTL only if `withTtl`: eviction's samples.
  void sample(std::size_t count, bool withTtl, const std::function<void(Entry*)>& visit);
  // A uniformly chosen key with a TTL; nullptr when none.
  Entry* randomVolatileEntry();
  static void setKind(Entry* e, Kind kind);
  // The object of an entry whose kind owns one (keyspace/kind.h), e.g. the
  // table of a HashTable or SetTable entry.
  static void* objectPointer(const Entry* e);
  template <typename T>
  static T& object(const Entry* e) { return *static_cast<T*>(objectPointer(e)); }
  static BucketTable& table(const Entry* e) { return object<BucketTable>(e); }

  // Where big values are freed: a pool thread (set by the worker; unset,
  // they are freed on the spot).
  using Offload = std::function<void(std::function<void()> work)>;
  void setOffload(Offload offload) { offload_ = std::move(offload); }

  // Told of each key that expires (lazily or by the active cycle), after
  // it is gone: keyspace notifications' "expired".
  void setExpiredObserver(std::function<void(std::string_view key)> observer) { onExpired_ = std::move(observer); }

  // Told of the fields the field expiry cycle deleted from a hash, after
  // they went (`keyGone`: the hash went with its last one): keyspace
  // notifications' "hexpired", the change feed's HDEL.
  using FieldsExpired =
      std::function<void(std::string_view key, std::span<const std::string> fields, bool keyGone)>;
  void setFieldsExpiredObserver(FieldsExpired observer) { onFieldsExpired_ = std::move(observer); }
  // Redis 7.4's active expiry of hash fields: rounds over about 20 hashes
  // with field times from a sweeping cursor, deleting their fields expired
  // at `nowMs` (a hash left empty goes), another round while the last one
  // found some and `outOfTime()` allows. Returns how many fields went.
  std::size_t expireFieldsSome(std::int64_t nowMs, const std::function<bool()>& outOfTime);
  std::size_t timedHashes() const { return timedHashes_.size(); }

  std::size_t size() const { return size_; }
  std::size_t volatileCount() const { return volatile_.size(); }
  std::size_t bucketCount() const { return buckets_.size(); }
  // What the table itself takes beyond its entries (MEMORY STATS'
  // overhead.hashtable.main), and the set of keys with a TTL (.expires).
  std::size_t tableBytes() const { return buckets_.capacity() * sizeof(Entry*); }
  std::size_t volatileSetBytes() const {
    return volatile_.bucket_count() * sizeof(void*) + volatile_.size() * 3 * sizeof(void*);
  }
  std::uint64_t expiredTotal() const { return expiredTotal_; }
  std::uint64_t offloadedTotal() const { return offloadedTotal_; }  // values freed off the loop

  // Redis's SCAN: visits the keys of about `count` buckets, returns the next
  // cursor (0 when done). Expired keys are skipped, not reported.
  std::uint64_t scan(std::uint64_t cursor, std::size_t count, std::int64_t nowMs,
                     const std::function<void(std::string_view key)>& visit);
  // The same walk, handing over the entries (`visit` must not change the store).
  std::uint64_t scanEntries(std::uint64_t cursor, std::size_t count, std::int64_t nowMs,
                            const std::function<void(const Entry*)>& visit);
  // A uniformly chosen bucket's random key; nullptr when empty.
  Entry* randomEntry(std::int64_t nowMs);
  void forEach(std::int64_t nowMs, const std::function<void(const Entry*)>& visit);

  // Snapshots (snapshot.h) without a copy of the store: one bit per entry
  // says whether the snapshot being written has it. beginSnapshot() makes
  // every entry unsaved; a key born after that is born saved (it was not
  // there at the start), a replaced value keeps its entry's bit. The
  // snapshot saves an entry before a write changes it (preserve) and walks
  // the rest with scanUnsaved, which saves and marks each unsaved entry it
  // meets: SCAN's guarantee means each is met.
  void beginSnapshot() { savedMark_ ^= 1u; }
  bool saved(const Entry* e) const;
  void markSaved(Entry* e) const;
  // An abandoned snapshot: every entry as if saved, so the next begin
  // starts from all unsaved again.
  void markAllSaved();
  std::uint64_t scanUnsaved(std::uint64_t cursor, std::size_t count, const std::function<void(Entry*)>& save);

  // Samples keys with a TTL and deletes the expired ones, like Redis's active
  // expire cycle: rounds of about 20 samples taken by a sweeping cursor,
  // another round only while more than a quarter of a round was expired and
  // `outOfTime()` says there is budget left.
  // Returns how many keys it deleted.
  std::size_t expireSome(std::int64_t nowMs, const std::function<bool()>& outOfTime);

 private:
  std::size_t bucketOf(std::string_view key) const;
  Entry** slotOf(std::string_view key);
  // Unhooks the entry at `slot` from the table (its memory and value stay).
  Entry* takeOut(Entry** slot);
  void unlink(Entry** slot);
  // Adds the entry to the TTL sets its expiry and kind put it in
  // (volatile_, timedHashes_), or takes it out of them.
  void index(Entry* e);
  void unindex(Entry* e);
  // Puts a new entry where its key belongs, replacing the old one.
  Entry* place(Entry* fresh);
  // Frees what the entry's value owns (not the entry).
  void release(Entry* e);
  void growIfNeeded();
  void shrinkIfNeeded();
  void rehash(std::size_t buckets);

  std::vector<Entry*> buckets_;
  std::size_t size_ = 0;
  std::uint64_t seed_;
  std::uint64_t expiredTotal_ = 0;
  std::uint64_t offloadedTotal_ = 0;
  std::unordered_set<Entry*> volatile_;
  std::size_t expireCursor_ = 0;  // next bucket of volatile_ to sample
  // Hashes some of whose fields may expire (kind HashTtl), and the next
  // bucket of theirs the field expiry cycle visits.
  std::unordered_set<Entry*> timedHashes_;
  std::size_t fieldCursor_ = 0;
  FieldsExpired onFieldsExpired_;
  // splitmix64: RANDOMKEY and sampling need speed, not a 5 KB state (a
  // Store is also made per cross-worker atomic command: atomic.h).
  std::uint64_t random();
  std::uint64_t rngState_;
  Offload offload_;
  std::function<void(std::string_view)> onExpired_;
  std::uint32_t initialAccess() const;
  std::uint32_t clock_ = 0;
  std::uint32_t savedMark_ = 0;
  Lfu lfu_;
};

}  // namespace keyloop
