#include "common/loop/handles.h"

#include <sys/eventfd.h>
#include <sys/signalfd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <system_error>

namespace keyloop {

// ---- IoWatcher ------------------------------------------------------------

IoWatcher::~IoWatcher() { stop(); }

int IoWatcher::start(std::uint32_t interest, Callback cb, Trigger trigger) {
  if (closing()) return -EBADF;
  cb_ = std::move(cb);
  if (trigger != trigger_) stop();  // re-added below with the new trigger
  trigger_ = trigger;
  return apply(interest);
}

int IoWatcher::setInterest(std::uint32_t interest) {
  if (closing()) return -EBADF;
  return apply(interest);
}

int IoWatcher::apply(std::uint32_t interest) {
  interest &= kReadable | kWritable;
  if (interest == 0) {
    stop();
    return 0;
  }
  if (registered_ && interest == interest_) return 0;  // no syscall
  epoll_event ev{};
  ev.events = EPOLLRDHUP;
  if (interest & kReadable) ev.events |= EPOLLIN;
  if (interest & kWritable) ev.events |= EPOLLOUT;
  if (trigger_ == Trigger::Edge) ev.events |= EPOLLET;
  ev.data.ptr = this;
  int op = registered_ ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (::epoll_ctl(loop().epollFd(), op, fd_, &ev) != 0) return -errno;
  registered_ = true;
  interest_ = interest;
  setActive(true);
  return 0;
}

void IoWatcher::stop() {
  if (!registered_) return;
  // EBADF/ENOENT mean the fd is already gone, which is what we want anyway.
  ::epoll_ctl(loop().epollFd(), EPOLL_CTL_DEL, fd_, nullptr);
  registered_ = false;
  interest_ = 0;
  loop().forgetReady(this);
  setActive(false);
}

// ---- Timer ----------------------------------------------------------------

Timer::~Timer() { stop(); }

void Timer::start(Duration timeout, Duration repeat, Callback cb) {
  if (closing()) return;
  cb_ = std::move(cb);
  repeat_ = repeat;
  loop().timers_.remove(this);
  arm(loop().now() + std::max(timeout, Duration::zero()));
}

void Timer::rearm(Duration timeout) {
  if (closing()) return;
  repeat_ = Duration::zero();
  loop().timers_.remove(this);
  arm(loop().now() + std::max(timeout, Duration::zero()));
}

void Timer::arm(TimePoint deadline) {
  due = deadline;
  seq = loop().nextTimerSeq_++;
  loop().timers_.push(this);
  setActive(true);
}

void Timer::stop() {
  loop().timers_.remove(this);
  setActive(false);
}

void Timer::fire() {
  // Re-arm before the callback (as libuv does), so the callback may stop,
  // restart or destroy the timer and find it in a consistent state.
  loop().timers_.remove(this);
  if (repeat_ > Duration::zero()) {
    arm(loop().now() + repeat_);
  } else {
    setActive(false);
  }
  cb_();
}

// ---- Idle / Prepare / Check -----------------------------------------------

PhaseWatcher::~PhaseWatcher() { stop(); }

std::vector<PhaseWatcher*>& PhaseWatcher::list() {
  switch (phase_) {
    case Phase::Idle: return loop().idle_;
    case Phase::Prepare: return loop().prepare_;
    case Phase::Check: break;
  }
  return loop().check_;
}

void PhaseWatcher::start(Callback cb) {
  if (closing()) return;
  cb_ = std::move(cb);
  if (active()) return;
  loop().addToPhase(list(), this);
  setActive(true);
}

void PhaseWatcher::stop() {
  if (!active()) return;
  loop().removeFromPhase(list(), this);
  setActive(false);
}

// ---- SleepWatcher ---------------------------------------------------------

SleepWatcher::~SleepWatcher() { stop(); }

void SleepWatcher::start(BeforeSleep before, AfterSleep after) {
  if (closing()) return;
  before_ = std::move(before);
  after_ = std::move(after);
  if (active()) return;
  loop().sleepers_.push_back(this);
  setActive(true);
}

void SleepWatcher::stop() {
  if (!active()) return;
  std::erase(loop().sleepers_, this);
  setActive(false);
}

// ---- Async ----------------------------------------------------------------

namespace {
int makeEventFd() {
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  return fd;
}
}  // namespace

Async::Async(Loop& loop) : Handle(loop), eventFd_(makeEventFd()), watcher_(loop, eventFd_.get()) {
  watcher_.unref();  // only the Async's own ref counts
}

Async::~Async() { stop(); }

void Async::start(Callback cb) {
  if (closing()) return;
  cb_ = std::move(cb);
  if (watcher_.start(kReadable, [this](std::uint32_t) { onReadable(); }) == 0) setActive(true);
}

void Async::stop() {
  watcher_.stop();
  setActive(false);
}

void Async::send() {
  // Only the first send since the last callback pays for a syscall.
  if (pending_.exchange(true, std::memory_order_acq_rel)) return;
  std::uint64_t one = 1;
  ssize_t ignored = ::write(eventFd_.get(), &one, sizeof one);
  (void)ignored;  // EAGAIN means the counter is already non-zero: still woken
}

void Async::onReadable() {
  std::uint64_t count;
  ssize_t ignored = ::read(eventFd_.get(), &count, sizeof count);
  (void)ignored;
  // Clear before the callback, so a send() racing with it wakes us again.
  pending_.store(false, std::memory_order_release);
  cb_();
}

// ---- SignalWatcher --------------------------------------------------------

namespace {
int makeSignalFd() {
  sigset_t none;
  sigemptyset(&none);
  int fd = ::signalfd(-1, &none, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
  return fd;
}
}  // namespace

SignalWatcher::SignalWatcher(Loop& loop)
    : Handle(loop), signalFd_(makeSignalFd()), watcher_(loop, signalFd_.get()) {
  watcher_.unref();
}

SignalWatcher::~SignalWatcher() { stop(); }

int SignalWatcher::start(std::initializer_list<int> signals, Callback cb) {
  if (closing()) return -EBADF;
  sigset_t mask;
  sigemptyset(&mask);
  for (int signo : signals) sigaddset(&mask, signo);
  // Blocked first, so a signal arriving in between waits in the signalfd.
  if (int rc = ::pthread_sigmask(SIG_BLOCK, &mask, nullptr); rc != 0) return -rc;
  if (::signalfd(signalFd_.get(), &mask, 0) < 0) return -errno;
  cb_ = std::move(cb);
  if (int rc = watcher_.start(kReadable, [this](std::uint32_t) { onReadable(); }); rc != 0) return rc;
  setActive(true);
  return 0;
}

void SignalWatcher::stop() {
  watcher_.stop();
  setActive(false);
}

void SignalWatcher::onReadable() {
  // One signal per wake-up: the callback may destroy this watcher, so it
  // must be the last thing we do; level triggering brings us back for more.
  signalfd_siginfo info;
  if (::read(signalFd_.get(), &info, sizeof info) != static_cast<ssize_t>(sizeof info)) return;
  cb_(static_cast<int>(info.ssi_signo));
}

}  // namespace keyloop
