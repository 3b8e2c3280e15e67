#include "common/ipc/channel.h"

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cstring>

namespace keyloop::ipc {

namespace {

constexpr std::uint32_t kWrapMarker = 0xFFFFFFFFu;  // "continue at offset 0"
constexpr std::size_t kLengthBytes = sizeof(std::uint32_t);
// A record bigger than a quarter of the ring travels in fragments; the top
// bits of a fragment's length say how it joins its neighbours.
constexpr std::uint32_t kMoreFollows = 0x80000000u;
constexpr std::uint32_t kContinues = 0x40000000u;
constexpr std::uint32_t kLengthMask = 0x3FFFFFFFu;

Failure failed(const char* call) { return fail(std::string(call) + ": " + std::strerror(errno)); }

std::size_t headerBytes() {
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return (sizeof(ChannelMemory::Header) + page - 1) / page * page;
}

void wake(int fd) {
  const std::uint64_t one = 1;
  ssize_t ignored = ::write(fd, &one, sizeof one);
  (void)ignored;  // EAGAIN: the counter is already non-zero, which wakes too
}

}  // namespace

Result<std::unique_ptr<ChannelMemory>> ChannelMemory::create(std::size_t capacity) {
  std::unique_ptr<ChannelMemory> channel(new ChannelMemory);
  channel->memory_ = UniqueFd(::memfd_create("keyloop-channel", MFD_CLOEXEC));
  if (!channel->memory_) return failed("memfd_create");
  channel->dataReady_ = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  channel->spaceReady_ = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!channel->dataReady_ || !channel->spaceReady_) return failed("eventfd");
  Status mapped = channel->map(std::bit_ceil(std::max<std::size_t>(capacity, 4096)), /*initialize=*/true);
  if (!mapped) return fail(mapped.error());
  return channel;
}

Result<std::unique_ptr<ChannelMemory>> ChannelMemory::attach(UniqueFd memory, UniqueFd dataReady,
                                                            UniqueFd spaceReady) {
  std::unique_ptr<ChannelMemory> channel(new ChannelMemory);
  channel->memory_ = std::move(memory);
  channel->dataReady_ = std::move(dataReady);
  channel->spaceReady_ = std::move(spaceReady);
  struct stat st{};
  if (::fstat(channel->memory_.get(), &st) != 0) return failed("fstat");
  if (static_cast<std::size_t>(st.st_size) <= headerBytes()) return fail("not a channel: too small");
  Status mapped = channel->map(static_cast<std::size_t>(st.st_size) - headerBytes(), /*initialize=*/false);
  if (!mapped) return fail(mapped.error());
  return channel;
}

Status ChannelMemory::map(std::size_t capacity, bool initialize) {
  const std::size_t size = headerBytes() + capacity;
  if (initialize && ::ftruncate(memory_.get(), static_cast<off_t>(size)) != 0) return failed("ftruncate");
  void* mapping = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, memory_.get(), 0);
  if (mapping == MAP_FAILED) return failed("mmap");
  mapping_ = mapping;
  mappingSize_ = size;
  header_ = initialize ? new (mapping_) Header{} : static_cast<Header*>(mapping_);
  if (initialize) header_->capacity = capacity;
  data_ = static_cast<char*>(mapping_) + headerBytes();
  return {};
}

ChannelMemory::~ChannelMemory() {
  if (mapping_ != nullptr) ::munmap(mapping_, mappingSize_);
}

void ChannelMemory::markReadUpTo(std::uint64_t head) {
  header_->head.store(head, std::memory_order_seq_cst);
  if (header_->producerWaiting.exchange(0, std::memory_order_seq_cst) != 0) wake(spaceReady_.get());
}

// ---- Sender ---------------------------------------------------------------

Sender::Sender(Loop& loop, ChannelMemory& memory)
    : memory_(memory),
      localTail_(memory.header().tail.load(std::memory_order_relaxed)),
      flushAfterPoll_(loop),
      flushBeforePoll_(loop),
      spaceWatcher_(loop, memory.spaceReadyFd()) {
  flushAfterPoll_.unref();
  flushAfterPoll_.start([this] { flush(); });
  flushBeforePoll_.unref();
  flushBeforePoll_.start([this] { flush(); });
  spaceWatcher_.unref();
  // Edge-triggered: every write of the eventfd is an edge, so the counter
  // never has to be read back (one system call less per batch). It can
  // never overflow: that would take 2^64 wake-ups.
  spaceWatcher_.start(kReadable, [this](std::uint32_t) { flush(); }, Trigger::Edge);
}

Sender::~Sender() = default;

void Sender::send(std::string_view record, bool wakeIfAsleep) {
  const std::size_t fragment = memory_.header().capacity / 4;
  std::uint32_t continues = 0;
  do {
    const std::string_view piece = record.substr(0, fragment);
    record.remove_prefix(piece.size());
    const std::uint32_t flags = continues | (record.empty() ? 0 : kMoreFollows);
    // Order matters: once anything overflowed, later pieces queue behind it.
    if (overflow_.empty() && tryWrite(piece, flags)) {
      wakeWanted_ = wakeWanted_ || wakeIfAsleep;
    } else {
      overflow_.push_back({std::string(piece), flags, wakeIfAsleep});
    }
    continues = kContinues;
  } while (!record.empty());
}

char* Sender::claim(std::size_t size, std::uint32_t flags) {
  ChannelMemory::Header& h = memory_.header();
  const std::uint64_t capacity = h.capacity;
  if (size > capacity / 4) return nullptr;
  const std::uint64_t head = h.head.load(std::memory_order_acquire);
  const std::uint64_t need = kLengthBytes + size;
  std::uint64_t offset = localTail_ & (capacity - 1);
  // A record never wraps: if it does not fit before the end, mark the end
  // and start over at offset 0 (costs the skipped bytes).
  const std::uint64_t skip = offset + need > capacity ? capacity - offset : 0;
  if (localTail_ + skip + need - head > capacity) return nullptr;  // full for now
  if (skip > 0) {
    if (skip >= kLengthBytes) std::memcpy(memory_.data() + offset, &kWrapMarker, kLengthBytes);
    localTail_ += skip;
    offset = 0;
  }
  const std::uint32_t length = static_cast<std::uint32_t>(size) | flags;
  std::memcpy(memory_.data() + offset, &length, kLengthBytes);
  localTail_ += need;
  unpublished_ = true;
  return memory_.data() + offset + kLengthBytes;
}

bool Sender::tryWrite(std::string_view record, std::uint32_t flags) {
  char* place = claim(record.size(), flags);
  if (place != nullptr) std::memcpy(place, record.data(), record.size());
  return place != nullptr;
}

void Sender::publish() {
  if (!unpublished_) return;
  if (beforePublish_) beforePublish_();
  ChannelMemory::Header& h = memory_.header();
  h.tail.store(localTail_, std::memory_order_seq_cst);
  unpublished_ = false;
  const std::uint32_t sleeping = h.consumerSleeping.load(std::memory_order_seq_cst);
  if (sleeping == kSleepingForAny || (sleeping == kSleeping && wakeWanted_)) wake(memory_.dataReadyFd());
  wakeWanted_ = false;
}

void Sender::writeOverflow() {
  while (!overflow_.empty() && tryWrite(overflow_.front().bytes, overflow_.front().flags)) {
    wakeWanted_ = wakeWanted_ || overflow_.front().wakeIfAsleep;
    overflow_.pop_front();
  }
}

void Sender::flush() {
  writeOverflow();
  publish();
  ChannelMemory::Header& h = memory_.header();
  if (!overflow_.empty()) {
    // Ask the receiver to tell us when it has made room, then try once more
    // in case it made room before it could see the flag.
    h.producerWaiting.store(1, std::memory_order_seq_cst);
    writeOverflow();
    publish();
  }
}

// ---- Receiver -------------------------------------------------------------

Receiver::Receiver(Loop& loop, ChannelMemory& memory, Callback onRecord)
    : memory_(memory),
      onRecord_(std::move(onRecord)),
      dataWatcher_(loop, memory.dataReadyFd()),
      drainAfterPoll_(loop),
      sleepWatcher_(loop) {
  dataWatcher_.unref();
  dataWatcher_.start(kReadable, [this](std::uint32_t) { drain(); }, Trigger::Edge);  // see Sender
  drainAfterPoll_.unref();
  drainAfterPoll_.start([this] {
    if (hasUnread()) drain();
  });
  sleepWatcher_.unref();
  sleepWatcher_.start(
      [this] {
        const bool any = waitsForAny_ && waitsForAny_();
        memory_.header().consumerSleeping.store(any ? kSleepingForAny : kSleeping, std::memory_order_seq_cst);
        return hasUnread();  // published before the flag was seen: do not sleep
      },
      [this] { memory_.header().consumerSleeping.store(0, std::memory_order_relaxed); });
}

bool Receiver::hasUnread() const {
  const ChannelMemory::Header& h = memory_.header();
  return h.tail.load(std::memory_order_seq_cst) != h.head.load(std::memory_order_relaxed);
}

Receiver::~Receiver() = default;

template <typename Visit>
std::uint64_t Receiver::walk(std::uint64_t head, std::uint64_t tail, std::size_t most, Visit visit) {
  const std::uint64_t capacity = memory_.header().capacity;
  for (std::size_t n = 0; head != tail && n < most;) {
    const std::uint64_t offset = head & (capacity - 1);
    std::uint32_t length = kWrapMarker;
    if (capacity - offset >= kLengthBytes) std::memcpy(&length, memory_.data() + offset, kLengthBytes);
    if (length == kWrapMarker) {  // the rest of the ring was skipped
      head += capacity - offset;
      continue;
    }
    const std::uint32_t size = length & kLengthMask;
    visit(std::string_view(memory_.data() + offset + kLengthBytes, size), length & ~kLengthMask);
    head += kLengthBytes + size;
    ++n;
  }
  return head;
}

void Receiver::drain() {
  // A record's handler may run the loop again (a script's busy poll), and
  // with it this drain: the inner one goes on after the record being
  // handled (next_), and only the outermost gives the space back, since
  // the records handled meanwhile are still read from the ring in place.
  ChannelMemory::Header& h = memory_.header();
  const bool outermost = depth_++ == 0;
  if (outermost) next_ = h.head.load(std::memory_order_relaxed);
  const std::uint64_t tail = h.tail.load(std::memory_order_acquire);
  std::uint64_t lookedAt = next_;
  while (next_ < tail) {
    // As a client's pipeline does (Dispatch::prefetchKeys): a look at the
    // next records first, so the cache misses of their lookups overlap.
    if (lookahead_ && next_ == lookedAt) {
      lookedAt = walk(next_, tail, kLookahead, [this](std::string_view record, std::uint32_t flags) {
        if (flags == 0) lookahead_(record);  // whole records only
      });
    }
    std::string_view fragment;
    std::uint32_t flags = 0;
    bool found = false;
    next_ = walk(next_, tail, 1, [&](std::string_view record, std::uint32_t f) {
      fragment = record;
      flags = f;
      found = true;
    });
    if (found) deliver(fragment, flags);
  }
  if (--depth_ == 0) memory_.markReadUpTo(next_);
}

void Receiver::deliver(std::string_view fragment, std::uint32_t flags) {
  if (!(flags & kContinues)) {
    partial_.clear();  // a new record (any half-sent one's sender died)
    if (!(flags & kMoreFollows)) return onRecord_(fragment);
  } else if (partial_.empty()) {
    return;  // the tail of a record whose start this receiver never saw
  }
  partial_ += fragment;
  if (flags & kMoreFollows) return;
  std::string whole;
  whole.swap(partial_);
  onRecord_(whole);
}

}  // namespace keyloop::ipc
