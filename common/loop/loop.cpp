#include "common/loop/loop.h"

#include <cerrno>
#include <system_error>

#include "common/loop/handles.h"

namespace keyloop {

// ---- Handle ---------------------------------------------------------------

Handle::~Handle() {
  if (closing_) loop_.forgetClose(this);
  setActive(false);
}

void Handle::setActive(bool active) {
  if (active == active_) return;
  active_ = active;
  if (referenced_) active ? ++loop_.activeRefs_ : --loop_.activeRefs_;
}

void Handle::ref() {
  if (referenced_) return;
  referenced_ = true;
  if (active_) ++loop_.activeRefs_;
}

void Handle::unref() {
  if (!referenced_) return;
  referenced_ = false;
  if (active_) --loop_.activeRefs_;
}

void Handle::close(Task onClose) {
  if (closing_) return;
  stopWatching();
  closing_ = true;
  loop_.queueClose(this, std::move(onClose));
}

// ---- Loop -----------------------------------------------------------------

Loop::Loop() : epoll_(::epoll_create1(EPOLL_CLOEXEC)), now_(Clock::now()) {
  if (!epoll_) throw std::system_error(errno, std::generic_category(), "epoll_create1");
}

Loop::~Loop() = default;

bool Loop::alive() const {
  return activeRefs_ > 0 || !pending_.empty() || !closing_.empty() || !deferred_.empty();
}

std::size_t Loop::run(RunMode mode) { return runLoop(mode, std::numeric_limits<std::size_t>::max()); }

std::size_t Loop::run(std::size_t maxTicks) { return runLoop(RunMode::Default, maxTicks); }

std::size_t Loop::runLoop(RunMode mode, std::size_t maxTicks) {
  std::size_t ticks = 0;
  updateNow();
  while (ticks < maxTicks && !stopRequested_ && alive()) {
    runIteration(mode);
    ++ticks;
    if (mode != RunMode::Default) break;
  }
  stopRequested_ = false;
  return ticks;
}

void Loop::runIteration(RunMode mode) {
  ++iterations_;
  updateNow();
  drainDeferred();
  runTimers();
  bool ranPending = runPending();
  runPhase(idle_);
  runPhase(prepare_);
  poll(pollTimeoutMs(mode, ranPending));
  runPhase(check_);
  runClosing();
  // Once promises progress: if poll only waited for a timer, fire it now.
  if (mode == RunMode::Once) {
    updateNow();
    runTimers();
  }
}

int Loop::pollTimeoutMs(RunMode mode, bool ranPending) const {
  if (mode == RunMode::NoWait || stopRequested_) return 0;
  if (mode == RunMode::Once && ranPending) return 0;
  if (!pending_.empty() || activeIdle_ > 0 || !closing_.empty() || !deferred_.empty()) return 0;
  if (!alive()) return 0;
  const TimerNode* next = timers_.top();
  if (next == nullptr) return -1;
  if (next->due <= now_) return 0;
  // Round up: waking early would cost an extra empty iteration.
  auto wait = std::chrono::ceil<std::chrono::milliseconds>(next->due - now_).count();
  return wait > std::numeric_limits<int>::max() ? std::numeric_limits<int>::max()
                                                 : static_cast<int>(wait);
}

void Loop::runTimers() {
  // Timers started during this phase get seq >= this, and only run next
  // iteration: a timer(0) re-armed from its own callback cannot spin here.
  const std::uint64_t firstNewSeq = nextTimerSeq_;
  while (const TimerNode* node = timers_.top()) {
    if (node->due > now_ || node->seq >= firstNewSeq) break;
    static_cast<Timer*>(const_cast<TimerNode*>(node))->fire();
    drainDeferred();
  }
}

bool Loop::runPending() {
  if (pending_.empty()) return false;
  std::vector<Task> batch;
  batch.swap(pending_);
  for (Task& task : batch) {
    task();
    drainDeferred();
  }
  return true;
}

void Loop::runPhase(std::vector<PhaseWatcher*>& watchers) {
  if (watchers.empty()) return;
  // Index loop over the length at phase start: watchers started by a callback
  // wait for the next iteration; stopped ones leave a null that is compacted.
  const std::size_t count = watchers.size();
  for (std::size_t i = 0; i < count && i < watchers.size(); ++i) {
    if (PhaseWatcher* w = watchers[i]) {
      w->cb_();
      drainDeferred();
    }
  }
  if (phaseHasHoles_) {
    std::erase(idle_, nullptr);
    std::erase(prepare_, nullptr);
    std::erase(check_, nullptr);
    phaseHasHoles_ = false;
  }
}

void Loop::poll(int timeoutMs) {
  // The hooks only raise and lower flags: they start and stop no handle,
  // so the list is the same before and after the wait.
  const bool sleeping = timeoutMs != 0 && !sleepers_.empty();
  if (sleeping) {
    for (SleepWatcher* w : sleepers_) {
      if (w->before_()) timeoutMs = 0;
    }
  }
  int n = ::epoll_wait(epoll_.get(), ready_.data(), kMaxReadyEvents, timeoutMs);
  updateNow();
  if (sleeping) {
    for (SleepWatcher* w : sleepers_) w->after_();
  }
  if (n <= 0) return;  // timeout, or EINTR: either way nothing is ready
  readyCount_ = n;
  for (readyIndex_ = 0; readyIndex_ < readyCount_; ++readyIndex_) {
    const epoll_event& ev = ready_[readyIndex_];
    auto* watcher = static_cast<IoWatcher*>(ev.data.ptr);
    if (watcher == nullptr) continue;  // stopped by an earlier callback
    std::uint32_t events = 0;
    if (ev.events & EPOLLIN) events |= kReadable;
    if (ev.events & EPOLLOUT) events |= kWritable;
    if (ev.events & (EPOLLHUP | EPOLLRDHUP)) events |= kHangup;
    if (ev.events & EPOLLERR) events |= kError;
    watcher->cb_(events);
    drainDeferred();
  }
  readyCount_ = 0;
}

void Loop::forgetReady(const IoWatcher* w) {
  for (int i = readyIndex_ + 1; i < readyCount_; ++i) {
    if (ready_[i].data.ptr == w) ready_[i].data.ptr = nullptr;
  }
}

void Loop::runClosing() {
  if (closing_.empty()) return;
  // Only the handles closed before this phase; later ones wait a round.
  for (std::size_t n = closing_.size(); n > 0 && !closing_.empty(); --n) {
    Closing entry = std::move(closing_.front());
    closing_.pop_front();
    if (entry.onClose) {
      entry.onClose();
      drainDeferred();
    }
  }
}

void Loop::queueClose(Handle* h, Task onClose) { closing_.push_back({h, std::move(onClose)}); }

void Loop::forgetClose(Handle* h) {
  std::erase_if(closing_, [h](const Closing& c) { return c.handle == h; });
}

void Loop::defer(Task task) { deferred_.push_back(std::move(task)); }

void Loop::queuePending(Task task) { pending_.push_back(std::move(task)); }

void Loop::drainDeferredTasks() {
  // A task that defers more work runs it in this same drain (microtask
  // semantics), up to the budget; no nested drains from inside a task.
  if (draining_) return;
  draining_ = true;
  for (std::size_t budget = kDeferredBudget; budget > 0 && !deferred_.empty(); --budget) {
    Task task = std::move(deferred_.front());
    deferred_.pop_front();
    task();
  }
  draining_ = false;
}

void Loop::addToPhase(std::vector<PhaseWatcher*>& list, PhaseWatcher* w) {
  list.push_back(w);
  if (&list == &idle_) ++activeIdle_;
}

void Loop::removeFromPhase(std::vector<PhaseWatcher*>& list, PhaseWatcher* w) {
  for (PhaseWatcher*& slot : list) {
    if (slot == w) slot = nullptr;
  }
  phaseHasHoles_ = true;
  if (&list == &idle_) --activeIdle_;
}

}  // namespace keyloop
