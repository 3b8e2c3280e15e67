#include "worker/execution/watches.h"

#include "worker/keyspace/store.h"

namespace keyloop {

std::uint64_t Watches::watch(std::string_view key) {
  auto it = keys_.find(key);
  if (it == keys_.end()) it = keys_.emplace(std::string(key), Watched{++clock_, 0}).first;
  ++it->second.watchers;
  return it->second.version;
}

void Watches::unwatch(std::string_view key) {
  auto it = keys_.find(key);
  if (it != keys_.end() && --it->second.watchers == 0) keys_.erase(it);
}

std::uint64_t Watches::version(std::string_view key) const {
  auto it = keys_.find(key);
  return it == keys_.end() ? kUnwatched : it->second.version;
}

void Watches::touch(std::string_view key) {
  auto it = keys_.find(key);
  if (it != keys_.end()) it->second.version = ++clock_;
}

void Watches::touchExisting(Store& store, std::int64_t nowMs) {
  for (auto& [key, watched] : keys_) {
    if (store.find(key, nowMs) != nullptr) watched.version = ++clock_;
  }
}

}  // namespace keyloop
