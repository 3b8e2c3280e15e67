#include "common/loop/thread_pool.h"

namespace keyloop {

ThreadPool::ThreadPool(Loop& loop, std::size_t threads) : wakeup_(loop) {
  wakeup_.start([this] { deliverCompleted(); });
  wakeup_.unref();
  if (threads == 0) threads = 1;
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { runThread(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  hasWork_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void ThreadPool::submit(std::function<void()> work, std::function<void()> done) {
  if (outstanding_++ == 0) wakeup_.ref();
  {
    std::lock_guard lock(mutex_);
    queued_.push_back({std::move(work), std::move(done)});
  }
  hasWork_.notify_one();
}

void ThreadPool::runThread() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      // Finish the queue even when stopping: submitted work is never lost.
      hasWork_.wait(lock, [this] { return stopping_ || !queued_.empty(); });
      if (queued_.empty()) return;
      job = std::move(queued_.front());
      queued_.pop_front();
    }
    job.work();
    job.work = nullptr;  // free captures off the loop thread
    {
      std::lock_guard lock(mutex_);
      completed_.push_back(std::move(job));
    }
    wakeup_.send();
  }
}

void ThreadPool::deliverCompleted() {
  std::vector<Job> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(completed_);
  }
  for (Job& job : batch) {
    if (--outstanding_ == 0) wakeup_.unref();
    if (job.done) job.done();
  }
}

}  // namespace keyloop
