// Watches: the owner's side of WATCH. A key some client watches has an
// entry here with a version that every write to the key moves on; the
// client keeps the version it saw (and whether the key existed then), and
// EXEC, run atomically with the check, fails when either changed. A key
// that existed and is gone now expired or was deleted: that fails too, as
// Redis's isWatchedKeyExpired does.
//
// Why versions on the owner, not flags on the client (Redis's way): the
// client may sit on any worker; the owner alone sees every write, and
// answering "which version" travels where "mark that client" could not.
// Nothing is kept for keys nobody watches, and a worker with no watched
// key pays one empty() test per write. A key is watched in its database
// (SELECT's number): the same name in another database is another key.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

namespace keyloop {

class Store;

class Watches {
 public:
  // 0 is never a version: what version() says of a key nobody watches
  // (so a watch that did not survive, a reload's, fails the EXEC).
  static constexpr std::uint64_t kUnwatched = 0;

  bool empty() const { return keys_.empty(); }
  // Registers one more watcher of `key`; returns its current version.
  std::uint64_t watch(int db, std::string_view key);
  void unwatch(int db, std::string_view key);
  std::uint64_t version(int db, std::string_view key) const;
  // A write to `key` (a no-op unless it is watched).
  void touch(int db, std::string_view key);
  // Database `db` (its keys in `store`) is about to go (FLUSHDB) or to
  // change places (SWAPDB): the watched keys that exist in it are
  // touched, the others are not (nothing changes for them).
  // With `also`, the keys that exist in either store.
  void touchExisting(int db, Store& store, std::int64_t nowMs, Store* also = nullptr);

 private:
  struct Watched {
    std::uint64_t version;
    std::uint32_t watchers;
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  // By keyInDatabase (keyspace/databases.h).
  std::unordered_map<std::string, Watched, KeyHash, std::equal_to<>> keys_;
  std::uint64_t clock_ = 1;  // versions are taken from one counter: never reused
};

}  // namespace keyloop
