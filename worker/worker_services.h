// WorkerServices: what a command handler may use of the worker it runs on,
// and nothing more (a handler sees this, never the Server): settings,
// counters, key locks, the clients (CLIENT LIST, INFO), the thread pool
// for work too big for the loop, and the facts INFO reports.
//
// Server implements it; the unit tests of the atomic executor run the real
// lock and commit handlers against a small fake of it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string_view>

#include "common/config/config.h"
#include "common/ring/ring.h"
#include "common/loop/clock.h"
#include "worker/stats.h"

namespace keyloop {

// What HELLO and INFO report as redis_version: the Redis release whose
// replies keyloop reproduces byte for byte.
inline constexpr std::string_view kRedisCompatibleVersion = "7.0.15";
inline constexpr std::string_view kKeyloopVersion = KEYLOOP_VERSION;

class Blocking;
class Channels;
class Watches;
class Client;
class KeyLocks;
class LagMonitor;
class ThreadPool;

class WorkerServices {
 public:
  virtual ~WorkerServices() = default;
  virtual const Config& config() const = 0;
  // Runs with new settings from now on (CONFIG SET; a reload too).
  virtual void applyConfig(const Config& next) = 0;
  virtual ServerStats& stats() = 0;
  virtual KeyLocks& locks() = 0;
  virtual ThreadPool& threadPool() = 0;
  // The loop's time (what idle times and uptime are measured in).
  virtual TimePoint now() const = 0;
  virtual const std::map<std::uint64_t, std::unique_ptr<Client>>& clients() const = 0;
  virtual const LagMonitor& lag() const = 0;
  virtual std::uint16_t port() const = 0;
  virtual TimePoint startedAt() const = 0;
  // The counters plus this worker's gauges (clients, keys, ...).
  virtual ServerStats totals() const = 0;
  // Which worker owns which slot (null: this worker is alone, a test's
  // Server), and this worker's index in it (-1: retired, owns no slot).
  virtual const ring::Ring* ring() const = 0;
  virtual int self() const = 0;
  // Blocked clients and the waits on this worker's keys (null: none).
  virtual Blocking* blocking() { return nullptr; }
  // The keys clients WATCH on this worker (watches.h) and the channels its
  // clients subscribe to (pubsub.h); null: none (a test's fake).
  virtual Watches* watches() { return nullptr; }
  virtual Channels* channels() { return nullptr; }
};

}  // namespace keyloop
