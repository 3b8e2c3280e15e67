// ReplyOrder: keeps one connection's replies in request order while some
// of them are computed elsewhere. A forwarded command holds a place
// (reserve); replies of later local commands queue behind it (queueLocal)
// until its bytes arrive (fill), then everything ready goes to the output
// in order. A barrier (holdUntilFilled) also stops the connection's later
// commands from running until a place is filled: a cross-worker atomic
// command writes at commit, and the next command must see that write.
//
// Owns no memory while nothing is reserved (most connections, most of the
// time): std::deque would allocate ~600 bytes up front per connection. The
// queue's storage is borrowed from a per-thread pool when the first place
// is reserved and given back when the last is filled, so a connection that
// forwards one request at a time allocates nothing per request either.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keyloop {

class ReplyOrder {
 public:
  // `output` is the connection's output buffer, where released replies go.
  explicit ReplyOrder(std::string& output) : output_(output) {}
  ~ReplyOrder();
  ReplyOrder(const ReplyOrder&) = delete;
  ReplyOrder& operator=(const ReplyOrder&) = delete;

  std::uint64_t reserve();
  // Moves the bytes a local command appended to the output since `from`
  // into the queue (only while earlier places are open).
  void queueLocal(std::size_t from);
  // The reply for `place` arrived; returns whether anything was released
  // into the output.
  bool fill(std::uint64_t place, std::string_view bytes);
  void holdUntilFilled(std::uint64_t place) { barrier_ = place; }

  bool empty() const { return head_ == storage_.items.size(); }
  std::size_t waiting() const { return storage_.items.size() - head_; }
  bool barrierUp() const { return barrier_ != 0; }
  std::size_t bytesWaiting() const { return storage_.bytes.size(); }

 private:
  struct Queued {
    std::uint64_t place;
    bool ready;
    std::size_t offset, length;  // its bytes in storage_.bytes, once ready
  };
  // What the queue needs besides the places' order; pooled whole.
  struct Storage {
    std::vector<Queued> items;  // a FIFO from head_ on
    std::string bytes;          // the replies waiting, back to back
  };
  void popFront();
  void compact();
  void keep(Queued& item, std::string_view bytes);
  // Empties the queue and returns its storage to the pool.
  void giveBack();
  // Storage not in use, capacity kept (per thread: a worker's loop).
  static std::vector<Storage>& pool();

  std::string& output_;
  Storage storage_;
  std::size_t head_ = 0;
  std::uint64_t nextPlace_ = 1;
  std::uint64_t barrier_ = 0;  // 0: none
};

}  // namespace keyloop
