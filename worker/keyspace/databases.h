// Databases: a worker's numbered keyspaces (SELECT n), each a Store of its
// own, as Redis's server.db[]. A database's keys live on the worker that
// owns them by the ring, whatever their database: the number only picks
// the store. SWAPDB exchanges two stores in O(1).
//
// What spans every database (the expiry observer, the offload hook, LFU
// stamping, the totals INFO reports) is set here once for all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "worker/keyspace/store.h"

namespace keyloop {

// A key named with its database, for what is kept by database and key
// (WATCH's versions, blocked clients' waits, a reload's keys written during
// its copy): one byte of the number, then the key.
std::string keyInDatabase(int db, std::string_view key);
inline int databaseOf(std::string_view named) { return static_cast<unsigned char>(named[0]); }
inline std::string_view keyOf(std::string_view named) { return named.substr(1); }

class Databases {
 public:
  explicit Databases(int count);
  int count() const { return static_cast<int>(stores_.size()); }
  bool valid(long long db) const { return db >= 0 && db < count(); }
  Store& operator[](int db) { return *stores_[static_cast<std::size_t>(db)]; }
  const Store& operator[](int db) const { return *stores_[static_cast<std::size_t>(db)]; }
  // The database number of one of these stores (-1: none of them).
  int numberOf(const Store& store) const;
  void swap(int a, int b) { std::swap(stores_[static_cast<std::size_t>(a)], stores_[static_cast<std::size_t>(b)]); }

  // Visits each database that holds keys (`all`: every one), in number order.
  void forEach(const std::function<void(int db, Store& store)>& visit, bool all = false);

  void setOffload(const Store::Offload& offload);
  void setLfu(Store::Lfu lfu);
  // Told of each key that expires, with its database.
  void setExpiredObserver(std::function<void(int db, std::string_view key)> observer);
  // Told of hash fields the field expiry cycle deleted (Store::setFieldsExpiredObserver).
  using FieldsExpired =
      std::function<void(int db, std::string_view key, std::span<const std::string> fields, bool keyGone)>;
  void setFieldsExpiredObserver(FieldsExpired observer);

  std::size_t keys() const;
  std::size_t volatileKeys() const;
  std::uint64_t expiredTotal() const;
  std::uint64_t offloadedTotal() const;

 private:
  // One figure of every store, added up.
  template <typename Figure>
  std::uint64_t sum(Figure figure) const {
    std::uint64_t total = 0;
    for (const auto& store : stores_) total += figure(*store);
    return total;
  }

  std::vector<std::unique_ptr<Store>> stores_;
  std::function<void(int db, std::string_view key)> onExpired_;
  FieldsExpired onFieldsExpired_;
};

}  // namespace keyloop
