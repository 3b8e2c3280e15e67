// Channel: one direction of a worker-to-worker link: a single-producer,
// single-consumer ring of length-prefixed records in shared memory, plus
// eventfds to wake the other side.
//
// Created by the master (ChannelMemory is a memfd mapped shared, so parent
// and children see the same bytes): workers forked later inherit it, and a
// worker already running gets its descriptors over its control socket
// (ipc/control.h) when a reload links it to a new generation. Each worker
// holds the Sender of its outgoing channels and the Receiver of its
// incoming ones. Batching: send() only copies into the ring; flush()
// publishes everything sent since the last flush and wakes the consumer
// with at most one eventfd write, and only when the consumer sleeps: it
// raises consumerSleeping right before it blocks in epoll_wait and lowers
// it as soon as it wakes; an awake consumer finds new records itself after
// its poll (the check phase), so a busy pair of workers costs no system
// call per batch at all. The race (a record published just as the
// consumer decides to sleep) is Dekker's: the producer stores tail then
// reads the flag, the consumer stores the flag then reads tail, all
// sequentially consistent, so at least one of them sees the other. A Sender flushes itself after poll (check
// phase: what the I/O callbacks sent) and before poll (prepare phase: what
// timers and the rest sent, so nothing waits unpublished while the loop
// sleeps); a pipeline of 100 forwarded commands costs one wake-up. When
// the ring is full, records wait in the sender's overflow queue and the
// consumer signals space back through a second eventfd. A record larger
// than a quarter of the ring (a 32 MB value) is cut into fragments that the
// receiver joins again, so any size passes without blocking the channel.
//
// Why shared memory and not a socketpair: the loop benchmark's socketpair
// ping-pong costs three system calls per message; here a batch of any size
// costs one write and one read of an eventfd.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <memory>

#include "common/loop/handles.h"
#include "common/result/result.h"

namespace keyloop::ipc {

// The shared part: header plus data ring; lives in an mmap'ed region.
inline constexpr std::uint32_t kSleeping = 1, kSleepingForAny = 2;

class ChannelMemory {
 public:
  // A new channel; `capacity` is rounded up to a power of two. Or why the
  // kernel refused it (descriptors or memory exhausted): the master builds
  // channels on a reload, which must fail cleanly, never end the process.
  static Result<std::unique_ptr<ChannelMemory>> create(std::size_t capacity = 1 << 20);
  // Maps a channel another process created, from its descriptors()
  // (memfd, data-ready eventfd, space-ready eventfd).
  static Result<std::unique_ptr<ChannelMemory>> attach(UniqueFd memory, UniqueFd dataReady,
                                                                          UniqueFd spaceReady);
  ~ChannelMemory();
  ChannelMemory(const ChannelMemory&) = delete;
  ChannelMemory& operator=(const ChannelMemory&) = delete;

  struct Header {
    alignas(64) std::atomic<std::uint64_t> head;  // consumer's read position
    alignas(64) std::atomic<std::uint64_t> tail;  // producer's published position
    alignas(64) std::atomic<std::uint32_t> producerWaiting;  // 1: wake it on space
    // 0: awake; kSleeping: wake it for records that ask to; kSleepingForAny:
    // wake it for any record (it has work waiting for one).
    alignas(64) std::atomic<std::uint32_t> consumerSleeping;
    std::uint64_t capacity;
  };

  Header& header() { return *header_; }
  char* data() { return data_; }
  int dataReadyFd() const { return dataReady_.get(); }
  int spaceReadyFd() const { return spaceReady_.get(); }
  // The consumer's side: everything before `head` is read; a producer
  // waiting for room is woken.
  void markReadUpTo(std::uint64_t head);
  // Drops every record published and not yet read. Only while no Receiver
  // runs: the master calls it for a worker that died, because what it left
  // unread may be what killed it, and replaying that into its replacement
  // would kill the replacement too (a crash loop). The senders of the
  // dropped requests time out (-TRYAGAIN) as they would for a dead worker.
  void discardUnread() { markReadUpTo(header_->tail.load(std::memory_order_acquire)); }
  // What another process needs to map this channel (see the constructor).
  std::array<int, 3> descriptors() const { return {memory_.get(), dataReady_.get(), spaceReady_.get()}; }

 private:
  ChannelMemory() = default;
  // "" or what failed.
  Status map(std::size_t capacity, bool initialize);

  UniqueFd memory_;
  void* mapping_ = nullptr;
  std::size_t mappingSize_ = 0;
  Header* header_ = nullptr;
  char* data_ = nullptr;
  UniqueFd dataReady_, spaceReady_;
};

class Sender {
 public:
  Sender(Loop& loop, ChannelMemory& memory);
  ~Sender();

  // Queues one record (any bytes, up to 1 GB); it reaches the receiver
  // after flush().
  void send(std::string_view record, bool wakeIfAsleep = true);
  // The same for a record of exactly `size` bytes that `fill(char*)`
  // writes: straight into the ring when it fits now (the hot path: no
  // copy), else into a buffer that takes send()'s way.
  //
  // wakeIfAsleep = false: the record does not wake a sleeping receiver by
  // itself; it is read when the receiver next wakes for anything (another
  // record, a client, a timer: the expire cycle runs 10 times a second).
  // For a record nobody waits for yet (a transaction's commit: once someone
  // waits for its locked keys, the receiver sleeps "for any" record, see
  // Receiver::setWaitsForAny, and the commit wakes it after all).
  template <class Fill>
  void sendInPlace(std::size_t size, Fill&& fill, bool wakeIfAsleep = true) {
    if (char* place = overflow_.empty() ? claim(size) : nullptr) {
      wakeWanted_ = wakeWanted_ || wakeIfAsleep;
      return fill(place);
    }
    std::string record(size, '\0');
    fill(record.data());
    send(record, wakeIfAsleep);
  }
  // Publishes what was sent and wakes the receiver (once per batch).
  void flush();
  // Runs before each publish of new records (the append-only log writes
  // what the records may depend on first).
  void setBeforePublish(std::function<void()> hook) { beforePublish_ = std::move(hook); }
  std::size_t overflowed() const { return overflow_.size(); }

 private:
  bool tryWrite(std::string_view fragment, std::uint32_t flags);
  // Room for one whole record of `size` bytes in the ring, its length
  // written; nullptr when it must wait or be cut into fragments. (Records
  // already waiting in overflow_ go first: the callers check.)
  char* claim(std::size_t size, std::uint32_t flags = 0);
  void writeOverflow();
  void publish();

  ChannelMemory& memory_;
  std::function<void()> beforePublish_;
  std::uint64_t localTail_;  // written but not yet published
  bool unpublished_ = false;
  bool wakeWanted_ = false;  // something since the last publish should wake a sleeping receiver
  struct Fragment {
    std::string bytes;
    std::uint32_t flags;
    bool wakeIfAsleep;
  };
  std::deque<Fragment> overflow_;
  Check flushAfterPoll_;
  Prepare flushBeforePoll_;
  IoWatcher spaceWatcher_;
};

class Receiver {
 public:
  using Callback = std::function<void(std::string_view record)>;
  Receiver(Loop& loop, ChannelMemory& memory, Callback onRecord);
  ~Receiver();
  // Shown the next kLookahead whole records before they are delivered, a
  // batch at a time (a hint: to prefetch what they will touch).
  static constexpr std::size_t kLookahead = 16;
  void setLookahead(Callback lookahead) { lookahead_ = std::move(lookahead); }
  // Asked before every sleep: true when this worker has work waiting for a
  // record that does not wake it by itself (Sender::sendInPlace).
  void setWaitsForAny(std::function<bool()> waits) { waitsForAny_ = std::move(waits); }

 private:
  // Visits up to `most` records (fragments included) from `head`; returns
  // where it stopped.
  template <typename Visit>
  std::uint64_t walk(std::uint64_t head, std::uint64_t tail, std::size_t most, Visit visit);
  void drain();
  bool hasUnread() const;
  void deliver(std::string_view fragment, std::uint32_t flags);

  ChannelMemory& memory_;
  Callback onRecord_;
  Callback lookahead_;
  std::function<bool()> waitsForAny_;
  std::string partial_;  // fragments of a large record so far
  std::uint64_t next_ = 0;  // the next record to hand over (drain)
  int depth_ = 0;           // drains running (one inside a record's handler)
  IoWatcher dataWatcher_;
  Check drainAfterPoll_;       // what arrived while we were awake
  SleepWatcher sleepWatcher_;  // consumerSleeping, around epoll_wait
};

}  // namespace keyloop::ipc
