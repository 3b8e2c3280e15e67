// The libuv side of the loop benchmark: the same scenarios as loop_bench.cpp.
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "loadtest/loop/bench_shape.h"

namespace bench {

void uvTimerStartStop(std::int64_t n, int background) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<uv_timer_t> armed(static_cast<std::size_t>(background));
  auto noop = [](uv_timer_t*) {};
  for (int i = 0; i < background; ++i) {
    uv_timer_init(&loop, &armed[static_cast<std::size_t>(i)]);
    uv_timer_start(&armed[static_cast<std::size_t>(i)], noop, 60000 + 1000 * static_cast<uint64_t>(i), 0);
  }
  uv_timer_t timer;
  uv_timer_init(&loop, &timer);
  for (std::int64_t i = 0; i < n; ++i) {
    uv_timer_start(&timer, noop, 30000 + 1000 * static_cast<uint64_t>(i % 64), 0);
    uv_timer_stop(&timer);
  }
  for (auto& t : armed) uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

namespace {
struct PingPong {
  int fds[2];
  uv_poll_t polls[2];
  std::int64_t trips = 0;
  std::int64_t target = 0;
};

void onPollable(uv_poll_t* handle, int status, int) {
  if (status < 0) return;
  auto* pp = static_cast<PingPong*>(handle->data);
  const int side = handle == &pp->polls[0] ? 0 : 1;
  char c;
  if (::read(pp->fds[side], &c, 1) != 1) return;
  if (side == 0 && ++pp->trips == pp->target) {
    uv_poll_stop(&pp->polls[0]);
    uv_poll_stop(&pp->polls[1]);
    return;
  }
  if (::write(pp->fds[side], &c, 1) != 1) std::abort();
}
}  // namespace

void uvPingPong(std::int64_t n) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  PingPong pp;
  pp.target = n;
  ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pp.fds);
  for (int side = 0; side < 2; ++side) {
    uv_poll_init(&loop, &pp.polls[side], pp.fds[side]);
    pp.polls[side].data = &pp;
    uv_poll_start(&pp.polls[side], UV_READABLE, onPollable);
  }
  if (::write(pp.fds[0], "x", 1) != 1) std::abort();
  uv_run(&loop, UV_RUN_DEFAULT);
  for (auto& p : pp.polls) uv_close(reinterpret_cast<uv_handle_t*>(&p), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  ::close(pp.fds[0]);
  ::close(pp.fds[1]);
}

namespace {
struct AsyncPair {
  uv_async_t a, b;
  std::int64_t trips = 0;
  std::int64_t target = 0;
  std::atomic<bool> finished{false};
};
}  // namespace

void uvAsyncPingPong(std::int64_t n) {
  uv_loop_t loopA, loopB;
  uv_loop_init(&loopA);
  uv_loop_init(&loopB);
  AsyncPair pair;
  pair.target = n;
  pair.a.data = pair.b.data = &pair;
  uv_async_init(&loopA, &pair.a, [](uv_async_t* h) {
    auto* p = static_cast<AsyncPair*>(h->data);
    if (++p->trips == p->target) {
      p->finished = true;
      uv_close(reinterpret_cast<uv_handle_t*>(&p->a), nullptr);
    }
    uv_async_send(&p->b);
  });
  uv_async_init(&loopB, &pair.b, [](uv_async_t* h) {
    auto* p = static_cast<AsyncPair*>(h->data);
    if (p->finished) {
      uv_close(reinterpret_cast<uv_handle_t*>(&p->b), nullptr);
      return;
    }
    uv_async_send(&p->a);
  });
  std::thread b([&] { uv_run(&loopB, UV_RUN_DEFAULT); });
  uv_async_send(&pair.a);
  uv_run(&loopA, UV_RUN_DEFAULT);
  b.join();
  uv_loop_close(&loopA);
  uv_loop_close(&loopB);
}

}  // namespace bench
