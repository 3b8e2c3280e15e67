// ThreadPool: runs blocking or CPU-heavy jobs off the loop thread.
//
// submit(work, done): `work` runs on a pool thread; `done` runs later on the
// loop thread, in the loop's poll phase. Finished jobs travel back through one
// locked queue taken whole and one coalescing Async wake-up (libuv's
// threadpool.c shape), so a burst of completions costs one wake-up.
// While jobs are outstanding the pool keeps the loop alive.
//
// Destruction finishes every submitted `work` and joins the threads; `done`
// callbacks not yet delivered by then are dropped (the loop may be gone).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/loop/handles.h"

namespace keyloop {

class ThreadPool {
 public:
  static constexpr std::size_t kDefaultThreads = 4;

  explicit ThreadPool(Loop& loop, std::size_t threads = kDefaultThreads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Loop thread only.
  void submit(std::function<void()> work, std::function<void()> done = {});
  std::size_t size() const { return threads_.size(); }
  std::size_t outstanding() const { return outstanding_; }

 private:
  struct Job {
    std::function<void()> work;
    std::function<void()> done;
  };
  void runThread();
  void deliverCompleted();

  Async wakeup_;
  std::vector<std::thread> threads_;
  std::size_t outstanding_ = 0;  // loop thread only

  std::mutex mutex_;
  std::condition_variable hasWork_;
  std::deque<Job> queued_;
  std::vector<Job> completed_;
  bool stopping_ = false;
};

}  // namespace keyloop
