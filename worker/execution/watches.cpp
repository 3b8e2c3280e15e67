#include "worker/execution/watches.h"

#include "worker/keyspace/store.h"

namespace keyloop {

std::string Watches::qualified(int db, std::string_view key) {
  std::string name(1, static_cast<char>(db));
  name += key;
  return name;
}

std::uint64_t Watches::watch(int db, std::string_view key) {
  std::string name = qualified(db, key);
  auto it = keys_.find(name);
  if (it == keys_.end()) it = keys_.emplace(std::move(name), Watched{++clock_, 0}).first;
  ++it->second.watchers;
  return it->second.version;
}

void Watches::unwatch(int db, std::string_view key) {
  auto it = keys_.find(qualified(db, key));
  if (it != keys_.end() && --it->second.watchers == 0) keys_.erase(it);
}

std::uint64_t Watches::version(int db, std::string_view key) const {
  if (keys_.empty()) return kUnwatched;
  auto it = keys_.find(qualified(db, key));
  return it == keys_.end() ? kUnwatched : it->second.version;
}

void Watches::touch(int db, std::string_view key) {
  if (keys_.empty()) return;
  auto it = keys_.find(qualified(db, key));
  if (it != keys_.end()) it->second.version = ++clock_;
}

void Watches::touchExisting(int db, Store& store, std::int64_t nowMs, Store* also) {
  for (auto& [name, watched] : keys_) {
    if (static_cast<unsigned char>(name[0]) != db) continue;
    const std::string_view key = std::string_view(name).substr(1);
    if (store.find(key, nowMs) != nullptr || (also != nullptr && also->find(key, nowMs) != nullptr)) {
      watched.version = ++clock_;
    }
  }
}

}  // namespace keyloop
