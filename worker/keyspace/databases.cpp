#include "worker/keyspace/databases.h"

namespace keyloop {

std::string keyInDatabase(int db, std::string_view key) {
  std::string named(1, static_cast<char>(db));
  named += key;
  return named;
}

Databases::Databases(int count) {
  stores_.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) stores_.push_back(std::make_unique<Store>());
}

int Databases::numberOf(const Store& store) const {
  for (std::size_t i = 0; i < stores_.size(); ++i) {
    if (stores_[i].get() == &store) return static_cast<int>(i);
  }
  return -1;
}

void Databases::forEach(const std::function<void(int db, Store& store)>& visit, bool all) {
  for (std::size_t i = 0; i < stores_.size(); ++i) {
    if (all || stores_[i]->size() != 0) visit(static_cast<int>(i), *stores_[i]);
  }
}

void Databases::setOffload(const Store::Offload& offload) {
  for (auto& store : stores_) store->setOffload(offload);
}

void Databases::setLfu(Store::Lfu lfu) {
  for (auto& store : stores_) store->setLfu(lfu);
}

void Databases::setExpiredObserver(std::function<void(int db, std::string_view key)> observer) {
  onExpired_ = std::move(observer);
  // A store asks which database it is now, at the moment of expiry: SWAPDB
  // moves stores between numbers.
  for (auto& store : stores_) {
    Store* self = store.get();
    self->setExpiredObserver([this, self](std::string_view key) {
      if (onExpired_) onExpired_(numberOf(*self), key);
    });
  }
}

void Databases::setFieldsExpiredObserver(FieldsExpired observer) {
  onFieldsExpired_ = std::move(observer);
  for (auto& store : stores_) {
    Store* self = store.get();
    self->setFieldsExpiredObserver([this, self](std::string_view key, std::span<const std::string> fields, bool gone) {
      if (onFieldsExpired_) onFieldsExpired_(numberOf(*self), key, fields, gone);
    });
  }
}

std::size_t Databases::keys() const { return sum([](const Store& s) { return s.size(); }); }
std::size_t Databases::volatileKeys() const { return sum([](const Store& s) { return s.volatileCount(); }); }
std::uint64_t Databases::expiredTotal() const { return sum([](const Store& s) { return s.expiredTotal(); }); }
std::uint64_t Databases::offloadedTotal() const { return sum([](const Store& s) { return s.offloadedTotal(); }); }

}  // namespace keyloop
