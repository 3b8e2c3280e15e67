// The loop's handles: long-lived watchers, each started and stopped at will.
//
//   IoWatcher     readiness of one fd (readable / writable / hang-up / error)
//   Timer         one-shot or repeating, O(log n) start and stop
//   Idle, Prepare, Check   a callback in that phase of every iteration
//   Async         wake the loop from any thread; sends coalesce into one call
//   SignalWatcher signals as ordinary loop events (signalfd), never handlers
//
// Level-triggered by default: the loop benchmark measured no gain from edge
// triggering on the ping-pong path (see loadtest/RESULTS.md), and level
// triggering lets a connection stop reading mid-buffer (a fairness budget)
// without having to remember to come back. Edge is available per watcher.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>

#include "common/loop/loop.h"

namespace keyloop {

enum IoEvent : std::uint32_t {
  kReadable = 1u << 0,
  kWritable = 1u << 1,
  kHangup = 1u << 2,  // peer closed (EPOLLHUP or EPOLLRDHUP)
  kError = 1u << 3,   // EPOLLERR: read the socket error with SO_ERROR
};

enum class Trigger { Level, Edge };

// Watches an fd it does not own: stop (or destroy) it before closing the fd.
class IoWatcher final : public Handle {
 public:
  using Callback = std::function<void(std::uint32_t events)>;

  IoWatcher(Loop& loop, int fd) : Handle(loop), fd_(fd) {}
  ~IoWatcher() override;

  // Starts watching `interest` (kReadable|kWritable); hang-up and error are
  // always reported. Returns 0 or -errno from epoll_ctl.
  int start(std::uint32_t interest, Callback cb, Trigger trigger = Trigger::Level);
  // Changes the interest of a started watcher; 0 stops it.
  int setInterest(std::uint32_t interest);
  void stop();

  int fd() const { return fd_; }
  std::uint32_t interest() const { return interest_; }

 private:
  friend class Loop;
  void stopWatching() override { stop(); }
  int apply(std::uint32_t interest);

  int fd_;
  std::uint32_t interest_ = 0;
  Trigger trigger_ = Trigger::Level;
  bool registered_ = false;
  Callback cb_;
};

class Timer final : public Handle, private TimerNode {
 public:
  using Callback = std::function<void()>;

  explicit Timer(Loop& loop) : Handle(loop) {}
  ~Timer() override;

  // Fires after `timeout` (from loop.now()); then every `repeat` if non-zero.
  void start(Duration timeout, Duration repeat, Callback cb);
  void start(Duration timeout, Callback cb) { start(timeout, Duration::zero(), std::move(cb)); }
  // Starts again as a one-shot with the callback it has; safe from inside
  // that callback (start() would replace the function that is running).
  void rearm(Duration timeout);
  void stop();

  TimePoint deadline() const { return due; }
  Duration repeat() const { return repeat_; }

 private:
  friend class Loop;
  void stopWatching() override { stop(); }
  void arm(TimePoint deadline);
  void fire();

  Duration repeat_{};
  Callback cb_;
};

enum class Phase { Idle, Prepare, Check };

class PhaseWatcher : public Handle {
 public:
  using Callback = std::function<void()>;
  ~PhaseWatcher() override;

  void start(Callback cb);
  void stop();

 protected:
  PhaseWatcher(Loop& loop, Phase phase) : Handle(loop), phase_(phase) {}

 private:
  friend class Loop;
  void stopWatching() override { stop(); }
  std::vector<PhaseWatcher*>& list();

  Phase phase_;
  Callback cb_;
};

class Idle final : public PhaseWatcher {
 public:
  explicit Idle(Loop& loop) : PhaseWatcher(loop, Phase::Idle) {}
};
class Prepare final : public PhaseWatcher {
 public:
  explicit Prepare(Loop& loop) : PhaseWatcher(loop, Phase::Prepare) {}
};
class Check final : public PhaseWatcher {
 public:
  explicit Check(Loop& loop) : PhaseWatcher(loop, Phase::Check) {}
};

// Redis ae's beforeSleep/afterSleep, for a peer that wakes us only when we
// sleep (ipc/channel.h): beforeSleep runs only when poll is about to block,
// raises the flag the peer reads and returns whether work arrived
// meanwhile (then poll does not block); afterSleep runs the moment poll
// returns, before any I/O callback, and lowers the flag again.
class SleepWatcher final : public Handle {
 public:
  using BeforeSleep = std::function<bool()>;
  using AfterSleep = std::function<void()>;
  explicit SleepWatcher(Loop& loop) : Handle(loop) {}
  ~SleepWatcher() override;

  void start(BeforeSleep before, AfterSleep after);
  void stop();

 private:
  friend class Loop;
  void stopWatching() override { stop(); }

  BeforeSleep before_;
  AfterSleep after_;
};

// Coalescing: any number of send() calls before the loop gets to it result in
// one callback; a send() during the callback results in another.
class Async final : public Handle {
 public:
  using Callback = std::function<void()>;

  // Throws std::system_error if no eventfd can be created.
  explicit Async(Loop& loop);
  ~Async() override;

  void start(Callback cb);
  void stop();
  // The only member safe to call from another thread.
  void send();

 private:
  void stopWatching() override { stop(); }
  void onReadable();

  UniqueFd eventFd_;
  IoWatcher watcher_;
  std::atomic<bool> pending_{false};
  Callback cb_;
};

// Blocks the given signals for the calling thread (do it before starting
// threads, so they inherit the mask) and reports them through a signalfd.
// One watcher per signal number per process: the kernel hands each signal to
// a single reader.
class SignalWatcher final : public Handle {
 public:
  using Callback = std::function<void(int signo)>;

  explicit SignalWatcher(Loop& loop);
  ~SignalWatcher() override;

  // Returns 0 or -errno.
  int start(std::initializer_list<int> signals, Callback cb);
  void stop();

 private:
  void stopWatching() override { stop(); }
  void onReadable();

  UniqueFd signalFd_;
  IoWatcher watcher_;
  Callback cb_;
};

}  // namespace keyloop
