// ThreadPool: work off the loop, completions back on it.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "common/loop/thread_pool.h"

namespace keyloop {
namespace {

TEST(ThreadPool, WorkRunsOnPoolThreadsAndDoneOnTheLoopThread) {
  Loop loop;
  ThreadPool pool(loop, 4);
  const auto loopThread = std::this_thread::get_id();
  std::mutex mutex;
  std::set<std::thread::id> workThreads;
  int done = 0;
  bool doneOnLoop = true;
  std::vector<int> results(200, 0);
  for (int i = 0; i < 200; ++i) {
    pool.submit(
        [&, i] {
          results[static_cast<std::size_t>(i)] = i * i;
          std::lock_guard lock(mutex);
          workThreads.insert(std::this_thread::get_id());
        },
        [&] {
          ++done;
          doneOnLoop = doneOnLoop && std::this_thread::get_id() == loopThread;
        });
  }
  loop.run();  // outstanding jobs keep the loop alive until all are done
  EXPECT_EQ(done, 200);
  EXPECT_TRUE(doneOnLoop);
  EXPECT_EQ(workThreads.count(loopThread), 0u);
  EXPECT_GE(workThreads.size(), 1u);
  EXPECT_LE(workThreads.size(), 4u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(results[static_cast<std::size_t>(i)], i * i);
  EXPECT_EQ(pool.outstanding(), 0u);
  EXPECT_FALSE(loop.alive());
}

TEST(ThreadPool, DestructionFinishesSubmittedWorkAndJoins) {
  Loop loop;
  std::atomic<int> finished{0};
  {
    ThreadPool pool(loop, 2);
    for (int i = 0; i < 20; ++i) {
      pool.submit([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        ++finished;
      });
    }
  }
  EXPECT_EQ(finished.load(), 20);
}

}  // namespace
}  // namespace keyloop
