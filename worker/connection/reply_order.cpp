#include "worker/connection/reply_order.h"

#include <algorithm>

namespace keyloop {

namespace {

constexpr std::size_t kPooled = 64;  // storages kept in the pool at most

}  // namespace

std::vector<ReplyOrder::Storage>& ReplyOrder::pool() {
  thread_local std::vector<Storage> free;
  return free;
}

ReplyOrder::~ReplyOrder() { giveBack(); }

void ReplyOrder::giveBack() {
  head_ = 0;
  storage_.items.clear();
  storage_.bytes.clear();
  auto& free = pool();
  if (storage_.items.capacity() > 0 && free.size() < kPooled) free.push_back(std::move(storage_));
  storage_ = Storage{};
}

std::uint64_t ReplyOrder::reserve() {
  auto& free = pool();
  if (storage_.items.capacity() == 0 && !free.empty()) {
    storage_ = std::move(free.back());
    free.pop_back();
  }
  storage_.items.push_back({nextPlace_, false, 0, 0});
  return nextPlace_++;
}

void ReplyOrder::keep(Queued& item, std::string_view bytes) {
  item.ready = true;
  item.offset = storage_.bytes.size();
  item.length = bytes.size();
  storage_.bytes += bytes;
}

void ReplyOrder::queueLocal(std::size_t from) {
  storage_.items.push_back({nextPlace_++, false, 0, 0});
  keep(storage_.items.back(), std::string_view(output_).substr(from));
  output_.resize(from);
}

void ReplyOrder::popFront() {
  if (++head_ == storage_.items.size()) return giveBack();  // idle again: nothing kept
  // A pipeline that never lets the queue run empty: drop what was released.
  if (head_ >= 64 && head_ * 2 >= storage_.items.size()) compact();
}

void ReplyOrder::compact() {
  storage_.items.erase(storage_.items.begin(), storage_.items.begin() + static_cast<std::ptrdiff_t>(head_));
  head_ = 0;
  std::size_t from = storage_.bytes.size();
  for (const Queued& item : storage_.items) {
    if (item.ready) from = std::min(from, item.offset);
  }
  storage_.bytes.erase(0, from);
  for (Queued& item : storage_.items) {
    if (item.ready) item.offset -= from;
  }
}

bool ReplyOrder::fill(std::uint64_t place, std::string_view bytes) {
  if (place == barrier_) barrier_ = 0;
  bool released = false;
  if (!empty() && storage_.items[head_].place == place) {
    // The common case: the oldest reply we wait for. Straight to output.
    output_ += bytes;
    popFront();
    released = true;
  } else {
    for (std::size_t i = head_; i < storage_.items.size(); ++i) {
      if (storage_.items[i].place != place) continue;
      keep(storage_.items[i], bytes);
      break;
    }
  }
  while (!empty() && storage_.items[head_].ready) {
    output_.append(storage_.bytes, storage_.items[head_].offset, storage_.items[head_].length);
    popFront();
    released = true;
  }
  return released;
}

}  // namespace keyloop
