#include "worker/reply_order.h"

namespace keyloop {

std::uint64_t ReplyOrder::reserve() {
  // A pipeline's burst takes one allocation, not one per doubling.
  if (items_.capacity() == 0) items_.reserve(kBurst);
  items_.push_back({nextPlace_, false, {}});
  return nextPlace_++;
}

void ReplyOrder::queueLocal(std::size_t from) {
  items_.push_back({nextPlace_++, true, output_.substr(from)});
  output_.resize(from);
}

void ReplyOrder::popFront() {
  if (++head_ < items_.size()) return;
  head_ = 0;
  std::vector<Queued>().swap(items_);  // idle again: nothing kept
}

bool ReplyOrder::fill(std::uint64_t place, std::string_view bytes) {
  if (place == barrier_) barrier_ = 0;
  bool released = false;
  if (!empty() && items_[head_].place == place) {
    // The common case: the oldest reply we wait for. Straight to output.
    output_ += bytes;
    popFront();
    released = true;
  } else {
    for (std::size_t i = head_; i < items_.size(); ++i) {
      if (items_[i].place != place) continue;
      items_[i].ready = true;
      items_[i].bytes.assign(bytes);
      break;
    }
  }
  while (!empty() && items_[head_].ready) {
    output_ += items_[head_].bytes;
    popFront();
    released = true;
  }
  return released;
}

}  // namespace keyloop
