// keyloop's event loop: one reactor per thread, on epoll, with libuv's phases.
//
// What it offers:
//   Loop        runs iterations; caches "now"; owns the deferred and pending
//               queues and the close queue.
//   Handle      base of every long-lived watcher (handles.h): active/ref/close.
//
// One iteration, in order (readable as prose, like uv_run):
//   1. timers   due timers, earliest deadline first, ties in start order
//   2. pending  tasks queued with queuePending() during the previous iteration
//   3. idle     Idle handles (while any is active, poll does not block)
//   4. prepare  Prepare handles, right before blocking
//   5. poll     epoll_wait, then one callback per ready watcher (O(ready));
//               a blocking wait is framed by the SleepWatchers' before and
//               after hooks (handles.h)
//   6. check    Check handles, right after poll
//   7. close    close callbacks of handles closed since the last close phase
// The deferred queue (defer(), "microtasks") is drained at the start of an
// iteration and after every single callback of every phase.
//
// Starvation guard: one drain runs at most kDeferredBudget tasks. A task that
// keeps re-queueing itself therefore cannot pin the loop inside one callback:
// the leftovers wait for the next drain, and while any are left poll uses a
// zero timeout, so I/O, timers and the other phases keep running in between.
//
// Lifetimes: handles belong to their owner (RAII); destroying one stops it.
// A callback may stop, close or destroy any handle, its own included (for its
// own, the rule of `delete this` applies: touch nothing captured afterwards).
// Destroy every handle before its Loop. Not thread-safe except Async::send().
#pragma once

#include <sys/epoll.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <vector>

#include "common/loop/clock.h"
#include "common/loop/timer_heap.h"
#include "common/loop/unique_fd.h"

namespace keyloop {

using Task = std::function<void()>;

enum class RunMode {
  Default,  // until no referenced active handle and no queued work, or stop()
  Once,     // one iteration; poll may block for the next event
  NoWait,   // one iteration; poll never blocks
};

class Loop;
class IoWatcher;
class PhaseWatcher;
class SleepWatcher;

class Handle {
 public:
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  bool active() const { return active_; }
  bool closing() const { return closing_; }
  Loop& loop() const { return loop_; }

  // An unreferenced handle does not keep Loop::run(Default) going (libuv's
  // uv_unref): for background watchers such as the lag monitor.
  void ref();
  void unref();

  // Stops the handle for good; onClose runs in the close phase, after which
  // the loop never touches the handle again, so onClose may free it.
  void close(Task onClose = {});

 protected:
  explicit Handle(Loop& loop) : loop_(loop) {}
  virtual ~Handle();

  void setActive(bool active);
  // Undoes the handle's registration with the loop; called by close().
  virtual void stopWatching() = 0;

 private:
  friend class Loop;
  Loop& loop_;
  bool active_ = false;
  bool referenced_ = true;
  bool closing_ = false;
};

class Loop {
 public:
  // A drain of the deferred queue runs at most this many tasks (see above).
  static constexpr std::size_t kDeferredBudget = 1024;
  // epoll_wait reports at most this many ready descriptors per iteration.
  static constexpr int kMaxReadyEvents = 256;

  // Throws std::system_error only if the kernel refuses an epoll instance.
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Returns the number of iterations run.
  std::size_t run(RunMode mode = RunMode::Default);
  // Like run(Default), but returns after at most maxTicks iterations.
  std::size_t run(std::size_t maxTicks);
  // The running run() returns once the current iteration ends.
  void stop() { stopRequested_ = true; }
  bool alive() const;

  // The loop's clock: read at the start of each iteration and again when
  // poll returns (poll is where time passes), not per callback.
  TimePoint now() const { return now_; }
  void updateNow() { now_ = Clock::now(); }

  // Runs task after the current callback, before the loop moves on.
  void defer(Task task);
  // Runs task in the pending phase of the next iteration: for work that
  // should yield to other clients first (e.g. a long pipeline in slices).
  void queuePending(Task task);

  std::uint64_t iterations() const { return iterations_; }
  int epollFd() const { return epoll_.get(); }

 private:
  friend class Handle;
  friend class IoWatcher;
  friend class Timer;
  friend class PhaseWatcher;
  friend class SleepWatcher;

  std::size_t runLoop(RunMode mode, std::size_t maxTicks);
  void runIteration(RunMode mode);
  void runTimers();
  bool runPending();
  void runPhase(std::vector<PhaseWatcher*>& watchers);
  void poll(int timeoutMs);
  void runClosing();
  int pollTimeoutMs(RunMode mode, bool ranPending) const;
  // Called after every callback, so the empty case stays inline and cheap.
  void drainDeferred() {
    if (!deferred_.empty()) drainDeferredTasks();
  }
  void drainDeferredTasks();

  void addToPhase(std::vector<PhaseWatcher*>& list, PhaseWatcher* w);
  void removeFromPhase(std::vector<PhaseWatcher*>& list, PhaseWatcher* w);
  void queueClose(Handle* h, Task onClose);
  void forgetClose(Handle* h);
  // Drops not-yet-dispatched ready events of a watcher that was stopped.
  void forgetReady(const IoWatcher* w);

  UniqueFd epoll_;
  TimePoint now_;
  std::uint64_t iterations_ = 0;
  std::size_t activeRefs_ = 0;
  bool stopRequested_ = false;
  bool draining_ = false;

  TimerHeap timers_;
  std::uint64_t nextTimerSeq_ = 0;

  std::deque<Task> deferred_;
  std::vector<Task> pending_;

  std::vector<PhaseWatcher*> idle_;
  std::vector<PhaseWatcher*> prepare_;
  std::vector<PhaseWatcher*> check_;
  std::vector<SleepWatcher*> sleepers_;
  std::size_t activeIdle_ = 0;
  bool phaseHasHoles_ = false;  // a watcher was stopped: compact the lists

  struct Closing {
    Handle* handle;
    Task onClose;
  };
  std::deque<Closing> closing_;

  std::array<epoll_event, kMaxReadyEvents> ready_{};
  int readyCount_ = 0;
  int readyIndex_ = 0;
};

}  // namespace keyloop
