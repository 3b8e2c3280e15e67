// Stream: a Redis stream (Kind::Stream, OBJECT ENCODING "stream"): entries
// ordered by ID, and the consumer groups that read them.
//
// Entries live in packed nodes under a map ordered by each node's first ID
// (Redis's radix tree of listpacks, by another road). A node starts with its
// field names (the "master" fields of its first entry); an entry with the
// same fields stores only its values. An entry's ID is a delta from the
// previous entry's, usually packed into the entry's one header byte, and an
// integer value is stored as its binary form. Deleting an entry marks it;
// a node goes once nothing in it lives. A node closes at the configured
// stream-node-max-entries (deleted ones counted, as Redis) or -bytes, so
// approximate trimming ("~": whole nodes only) keeps what Redis keeps.
//
// A consumer group's pending entries are kept twice, as Redis does: by ID
// for the group (who has it, since when, how often delivered) and by ID per
// consumer.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>

namespace keyloop::stream {

struct Id {
  std::uint64_t ms = 0, seq = 0;
  friend auto operator<=>(const Id&, const Id&) = default;
};
inline constexpr Id kMaxId{UINT64_MAX, UINT64_MAX};
std::string format(Id id);
// The next and previous IDs; false at the ends.
bool increment(Id& id);
bool decrement(Id& id);
// ms-seq, or ms alone (seq = missingSeq); "-" and "+" unless strict.
std::optional<Id> parse(std::string_view text, std::uint64_t missingSeq, bool strict);

struct Limits {
  std::size_t nodeMaxBytes = 4096;
  long long nodeMaxEntries = 100;
};

struct Consumer {
  std::string name;
  std::int64_t seenMs = 0;
  std::set<Id> pending;
};

struct Pending {
  std::int64_t deliveredMs = 0;
  std::uint64_t deliveries = 1;
  Consumer* owner = nullptr;
};

// entries-read when nobody can tell (Redis's SCG_INVALID_ENTRIES_READ).
inline constexpr long long kUnknownRead = -1;

struct Group {
  Id lastId;
  long long entriesRead = kUnknownRead;
  std::map<Id, Pending> pending;
  std::map<std::string, std::unique_ptr<Consumer>, std::less<>> consumers;

  Consumer* find(std::string_view name) const;
  // The consumer, made when absent (`created` says so).
  Consumer& consumer(std::string_view name, std::int64_t nowMs, bool* created = nullptr);
  // Gives `id` to `owner` (taking it from whoever had it): delivered now, once.
  Pending& deliver(Id id, Consumer& owner, std::int64_t nowMs);
  void acknowledge(std::map<Id, Pending>::iterator it);
  // Removes a consumer and its pending entries; how many it had.
  std::size_t removeConsumer(std::string_view name);
};

// An entry's fields and values, alternating.
using Fields = std::span<const std::string_view>;
using Visit = std::function<bool(Id id, Fields fields)>;

struct Trim {
  enum class By : std::uint8_t { None, MaxLen, MinId } by = By::None;
  bool approximate = false;
  long long limit = 0;  // entries at most (0: no limit)
  std::uint64_t maxLen = 0;
  Id minId;
};

class Stream {
 public:
  Stream();
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  std::uint64_t length() const { return length_; }
  // The ID the next automatic one must exceed.
  Id lastId;
  // XINFO's recorded-first-entry-id, max-deleted-entry-id and entries-added.
  Id firstId, maxDeletedId;
  std::uint64_t entriesAdded = 0;
  std::map<std::string, Group, std::less<>> groups;

  // Adds an entry (`id` greater than lastId, checked by the caller).
  void append(Id id, Fields fields, const Limits& limits);
  // Entries with from <= id <= to, in order or backwards; stops when visit says false.
  void range(Id from, Id to, bool backwards, const Visit& visit) const;
  bool contains(Id id) const;
  // XDEL of one entry: whether it was there.
  bool erase(Id id);
  // XTRIM / XADD's trimming as Redis's streamTrim: how many entries went.
  std::uint64_t trim(const Trim& trim);
  // The first or last entry that lives; nullopt when empty.
  std::optional<Id> firstEntry() const;
  std::optional<Id> lastEntry() const;

  // Redis's entries-read arithmetic (streamEstimateDistanceFromFirstEverEntry,
  // streamRangeHasTombstones) and a group's lag (nullopt: not known).
  long long estimateRead(Id id) const;
  bool tombstonesFrom(Id start) const;
  std::optional<long long> lag(const Group& g) const;
  // Moves a group's last-delivered ID past `id` as a read of it does.
  void noteRead(Group& g, Id id) const;

  // The nodes, for the RDB writer: visit(first id, entries of the node as (id, fields)).
  std::size_t nodeCount() const;
  void forEachNode(const std::function<void(Id master, const std::function<void(const Visit&)>& entries)>& visit) const;
  std::size_t bytes() const;  // malloc'd bytes, about (MEMORY USAGE)
  // The entries of whole nodes from node `first` on, until `entries` were
  // visited: the index of the next node, 0 after the last (a move between
  // workers in parts, image.h).
  std::size_t forNodesFrom(std::size_t first, std::size_t entries, const Visit& visit) const;

 private:
  struct Node;
  std::map<Id, Node> nodes_;
  std::uint64_t length_ = 0;
  void refreshFirstId();
};

}  // namespace keyloop::stream
