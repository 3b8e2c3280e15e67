#include "common/ipc/channel.h"

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bit>
#include <cstring>
#include <system_error>

namespace keyloop::ipc {

namespace {

constexpr std::uint32_t kWrapMarker = 0xFFFFFFFFu;  // "continue at offset 0"
constexpr std::size_t kLengthBytes = sizeof(std::uint32_t);

UniqueFd makeEventFd() {
  UniqueFd fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!fd) throw std::system_error(errno, std::generic_category(), "eventfd");
  return fd;
}

void wake(int fd) {
  const std::uint64_t one = 1;
  ssize_t ignored = ::write(fd, &one, sizeof one);
  (void)ignored;  // EAGAIN: the counter is already non-zero, which wakes too
}

void clearWake(int fd) {
  std::uint64_t count;
  ssize_t ignored = ::read(fd, &count, sizeof count);
  (void)ignored;
}

}  // namespace

ChannelMemory::ChannelMemory(std::size_t capacity)
    : dataReady_(makeEventFd()), spaceReady_(makeEventFd()) {
  capacity = std::bit_ceil(std::max<std::size_t>(capacity, 4096));
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t headerBytes = (sizeof(Header) + page - 1) / page * page;
  mappingSize_ = headerBytes + capacity;
  mapping_ = ::mmap(nullptr, mappingSize_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mapping_ == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
  header_ = new (mapping_) Header{};
  header_->capacity = capacity;
  data_ = static_cast<char*>(mapping_) + headerBytes;
}

ChannelMemory::~ChannelMemory() { ::munmap(mapping_, mappingSize_); }

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
  spaceWatcher_.start(kReadable, [this](std::uint32_t) {
    clearWake(memory_.spaceReadyFd());
    flush();
  });
}

Sender::~Sender() = default;

void Sender::send(std::string_view record) {
  // Order matters: once anything overflowed, later records queue behind it.
  if (!overflow_.empty() || !tryWrite(record)) overflow_.emplace_back(record);
}

bool Sender::tryWrite(std::string_view record) {
  ChannelMemory::Header& h = memory_.header();
  const std::uint64_t capacity = h.capacity;
  const std::uint64_t head = h.head.load(std::memory_order_acquire);
  const std::uint64_t need = kLengthBytes + record.size();
  if (need + kLengthBytes > capacity) return false;  // can never fit; caller's bug
  std::uint64_t offset = localTail_ & (capacity - 1);
  // A record never wraps: if it does not fit before the end, mark the end
  // and start over at offset 0 (costs the skipped bytes).
  const std::uint64_t skip = offset + need > capacity ? capacity - offset : 0;
  if (localTail_ + skip + need - head > capacity) return false;  // full for now
  if (skip > 0) {
    if (skip >= kLengthBytes) std::memcpy(memory_.data() + offset, &kWrapMarker, kLengthBytes);
    localTail_ += skip;
    offset = 0;
  }
  const std::uint32_t length = static_cast<std::uint32_t>(record.size());
  std::memcpy(memory_.data() + offset, &length, kLengthBytes);
  std::memcpy(memory_.data() + offset + kLengthBytes, record.data(), record.size());
  localTail_ += need;
  unpublished_ = true;
  return true;
}

void Sender::publish() {
  if (!unpublished_) return;
  memory_.header().tail.store(localTail_, std::memory_order_release);
  unpublished_ = false;
  wake(memory_.dataReadyFd());
}

void Sender::flush() {
  while (!overflow_.empty() && tryWrite(overflow_.front())) overflow_.pop_front();
  publish();
  ChannelMemory::Header& h = memory_.header();
  if (!overflow_.empty()) {
    // Ask the receiver to tell us when it has made room, then try once more
    // in case it made room before it could see the flag.
    h.producerWaiting.store(1, std::memory_order_seq_cst);
    while (!overflow_.empty() && tryWrite(overflow_.front())) overflow_.pop_front();
    publish();
  }
}

// ---- Receiver -------------------------------------------------------------

Receiver::Receiver(Loop& loop, ChannelMemory& memory, Callback onRecord)
    : memory_(memory), onRecord_(std::move(onRecord)), dataWatcher_(loop, memory.dataReadyFd()) {
  dataWatcher_.unref();
  dataWatcher_.start(kReadable, [this](std::uint32_t) { drain(); });
}

Receiver::~Receiver() = default;

void Receiver::drain() {
  clearWake(memory_.dataReadyFd());
  ChannelMemory::Header& h = memory_.header();
  const std::uint64_t capacity = h.capacity;
  std::uint64_t head = h.head.load(std::memory_order_relaxed);
  const std::uint64_t tail = h.tail.load(std::memory_order_acquire);
  while (head != tail) {
    const std::uint64_t offset = head & (capacity - 1);
    std::uint32_t length = kWrapMarker;
    if (capacity - offset >= kLengthBytes) std::memcpy(&length, memory_.data() + offset, kLengthBytes);
    if (length == kWrapMarker) {  // the rest of the ring was skipped
      head += capacity - offset;
      continue;
    }
    onRecord_(std::string_view(memory_.data() + offset + kLengthBytes, length));
    head += kLengthBytes + length;
  }
  h.head.store(head, std::memory_order_seq_cst);
  if (h.producerWaiting.exchange(0, std::memory_order_seq_cst) != 0) wake(memory_.spaceReadyFd());
}

}  // namespace keyloop::ipc
