#include "worker/execution/watches.h"

#include "worker/keyspace/databases.h"
#include "worker/keyspace/store.h"

namespace keyloop {

std::uint64_t Watches::watch(int db, std::string_view key) {
  std::string name = keyInDatabase(db, key);
  auto it = keys_.find(name);
  if (it == keys_.end()) it = keys_.emplace(std::move(name), Watched{++clock_, 0}).first;
  ++it->second.watchers;
  return it->second.version;
}

void Watches::unwatch(int db, std::string_view key) {
  auto it = keys_.find(keyInDatabase(db, key));
  if (it != keys_.end() && --it->second.watchers == 0) keys_.erase(it);
}

std::uint64_t Watches::version(int db, std::string_view key) const {
  if (keys_.empty()) return kUnwatched;
  auto it = keys_.find(keyInDatabase(db, key));
  return it == keys_.end() ? kUnwatched : it->second.version;
}

void Watches::touch(int db, std::string_view key) {
  if (keys_.empty()) return;
  auto it = keys_.find(keyInDatabase(db, key));
  if (it != keys_.end()) it->second.version = ++clock_;
}

void Watches::touchExisting(int db, Store& store, std::int64_t nowMs, Store* also) {
  for (auto& [name, watched] : keys_) {
    if (databaseOf(name) != db) continue;
    const std::string_view key = keyOf(name);
    if (store.find(key, nowMs) != nullptr || (also != nullptr && also->find(key, nowMs) != nullptr)) {
      watched.version = ++clock_;
    }
  }
}

}  // namespace keyloop
