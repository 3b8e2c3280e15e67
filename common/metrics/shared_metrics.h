// SharedMetrics: every worker's counters, gauges and histograms in one
// anonymous shared mapping that the master creates before forking: one
// cache-line-aligned WorkerMetrics block per worker slot. Each worker
// writes only its own block (single writer: relaxed atomic loads and
// stores, no locks, no read-modify-write on hot paths); the master reads
// them all at scrape time (metrics_exporter.h), as does maxclients.
//
// Reloads: two banks of blocks. A new generation of workers writes the bank
// the retiring one does not, so both can run side by side; the exporter
// adds a slot's two blocks up, and since no block is ever reset, counters
// stay monotonic across generations too.
//
// Restarts: the block belongs to the slot, not to the process. A worker
// that replaces a dead one keeps adding to the same counters, so every
// *_total stays monotonic and Prometheus's rate() never sees a reset; the
// gauges (connections, keys, memory) are simply overwritten with the new
// worker's values.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "common/loop/clock.h"
#include "common/loop/latency_histogram.h"
#include "common/metrics/latency_tracking.h"
#include "common/result/result.h"

namespace keyloop::metrics {

// Room for every command of the command table (checked there).
inline constexpr std::size_t kMaxCommands = 320;
// What WorkerMetrics::commands counts, by index: the command table's names
// (worker/execution/command_table.cpp defines it), empty for the peer
// messages between workers, which are no client's and not exported.
std::span<const std::string_view> countedCommandNames();
// Room for every row of the table with its subcommands' rows (which are
// numbered after the top-level ones): what latency tracking counts by.
inline constexpr std::size_t kMaxTrackedCommands = 512;
// The full names ("get", "config|set") by that index; empty for a peer
// message and for a container, whose subcommands are what runs.
std::span<const std::string> trackedCommandNames();

// Adds to a counter that only this process writes: a load and a store, no
// locked instruction.
inline void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

// LatencyHistogram's buckets, in shared memory (single writer).
struct SharedHistogram {
  std::array<std::atomic<std::uint64_t>, LatencyHistogram::kBounds.size() + 1> buckets{};
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::uint64_t> sumNanos{0};

  void observe(Duration d);
};

struct alignas(64) WorkerMetrics {
  std::atomic<std::int64_t> pid{0};
  // gauges
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> keys{0};
  std::atomic<std::uint64_t> memoryUsedBytes{0};
  // counters
  std::atomic<std::uint64_t> connectionsAccepted{0};
  std::atomic<std::uint64_t> rejectedMaxclients{0};
  std::atomic<std::uint64_t> commandErrors{0};
  std::atomic<std::uint64_t> forwarded{0};
  std::atomic<std::uint64_t> expiredKeys{0};
  std::atomic<std::uint64_t> pubsubDisconnects{0};  // subscribers over their output limit
  std::atomic<std::uint64_t> evictedKeys{0};  // maxmemory
  std::atomic<std::uint64_t> changes{0};  // writes that changed a key (what save rules count)
  // A script past busy-reply-threshold keeps this worker busy: 1 EVAL's,
  // 2 a function's; 0 none. Every worker's keyless commands answer -BUSY
  // meanwhile (SharedMetrics::busyScript).
  std::atomic<std::uint8_t> busyScript{0};
  // A script of this worker waits for the scripts' permission (SharedMetrics::takeScriptReach).
  std::atomic<bool> reachQueued{false};
  // The append-only log (worker/aof/aof_log.h): bytes written to this
  // worker's file, fsyncs done, failed writes, and whether the last write
  // failed (a gauge: 1 while it does).
  std::atomic<std::uint64_t> aofBytes{0}, aofFsyncs{0}, aofWriteErrors{0}, aofWriteFailing{0};
  SharedHistogram aofFsync;  // how long each fsync of the log took (on the pool)
  std::array<std::atomic<std::uint64_t>, kMaxCommands> commands{};  // by command table index
  SharedHistogram lag;        // how late the 10 ms lag timer fired
  SharedHistogram iteration;  // busy time of one loop iteration
  // Redis's latency tracking and latency monitor (latency_tracking.h):
  // runs by duration per command table index, and the monitor's events.
  std::array<CommandLatency, kMaxTrackedCommands> commandLatency{};
  std::array<LatencySeries, kLatencyEvents.size()> latencyEvents{};
};

// What the master knows of snapshots (master/snapshots.h), for LASTSAVE
// and INFO persistence on every worker: the master writes, workers read.
struct SnapshotStatus {
  std::atomic<std::int64_t> lastSaveUnix{0};       // the last good save's start (LASTSAVE)
  std::atomic<std::int64_t> currentStartMs{0};     // 0: none in progress
  std::atomic<std::int64_t> lastSeconds{-1};       // how long the last one took
  std::atomic<std::uint64_t> saves{0}, failures{0};
  std::atomic<bool> lastOk{true};
  std::atomic<std::uint64_t> changesAtLastSave{0};  // totalChanges() when the last good save began
};

// What the master knows of the append-only log (master/aof_files.h), for
// INFO persistence and the metrics. `sequence` is the one field workers
// write: each batch of the log takes the next number (worker/aof/aof_log.h).
struct AofStatus {
  std::atomic<std::uint64_t> sequence{0};
  std::atomic<bool> enabled{false};
  std::atomic<std::int64_t> rewriteStartMs{0};  // 0: none in progress
  std::atomic<bool> rewriteScheduled{false};
  std::atomic<std::int64_t> lastRewriteSeconds{-1};
  std::atomic<bool> lastRewriteOk{true};
  std::atomic<std::uint64_t> rewrites{0}, consecutiveFailures{0};
  std::atomic<std::uint64_t> baseSize{0}, currentSize{0};  // bytes: the base file, and base + increments
};

// The config's limit on workers; the mapping has room for that many per
// bank, but only the slots in use are ever touched.
inline constexpr int kMaxSlots = 1024;
inline constexpr int kBanks = 2;

class SharedMetrics {
 public:
  // Blocks for `slots` workers, or why the kernel refused the mapping.
  static Result<std::unique_ptr<SharedMetrics>> create(int slots);
  ~SharedMetrics();
  SharedMetrics(const SharedMetrics&) = delete;
  SharedMetrics& operator=(const SharedMetrics&) = delete;

  // Slots in use (the most any generation had so far).
  int size() const { return header_->slots.load(std::memory_order_relaxed); }
  // The master, before forking a generation of `slots` workers.
  void grow(int slots);
  static int indexOf(int bank, int slot) { return bank * kMaxSlots + slot; }
  WorkerMetrics& at(int index) { return blocks_[index]; }
  const WorkerMetrics& at(int index) const { return blocks_[index]; }
  const WorkerMetrics& at(int bank, int slot) const { return blocks_[indexOf(bank, slot)]; }
  // Open connections of all workers: a snapshot, good enough for
  // maxclients (two workers accepting at the same instant may overshoot by
  // one each).
  std::uint64_t totalConnections() const;
  // Every worker's `changes`, both banks: monotonic.
  std::uint64_t totalChanges() const;
  // The busyScript of a live worker other than the block at `except` (0:
  // none). A worker that died busy does not count: its pid is gone. One
  // load when no worker is busy (PING asks on every call).
  std::uint8_t busyScript(int except) const;
  // Whether a live worker, other than the block at `except`, queues for the scripts' permission.
  bool queuedForScriptReach(int except) const;
  // Sets the block's busyScript, keeping the count of busy blocks.
  void setBusyScript(int index, std::uint8_t kind);
  SnapshotStatus& snapshots() { return header_->snapshots; }
  const SnapshotStatus& snapshots() const { return header_->snapshots; }
  AofStatus& aof() { return header_->aof; }
  const AofStatus& aof() const { return header_->aof; }
  // The one script at a time that may lock keys of other workers while it
  // runs (worker/scripting/script_reach.h): its worker's pid (negative: a
  // transaction of that worker took it), 0 for none. Taking it succeeds
  // when it is free or its holder died, and no live worker queues for it
  // (the block at `index` may; a transaction's, -1, always may), and the last holder takes it again only if
  // nobody else queues: a worker whose scripts follow each other does not
  // keep it from the ones that wait for longer than kScriptReachStreak takes.
  bool takeScriptReach(std::int64_t holder, int index);
  static constexpr int kScriptReachStreak = 16;
  void queueForScriptReach(int index, bool queued) { blocks_[index].reachQueued.store(queued, std::memory_order_release); }
  void releaseScriptReach(std::int64_t holder);
  std::int64_t scriptReachHolder() const { return header_->scriptReach.load(std::memory_order_acquire); }
  // A new client's id, unique among all workers and generations (CLIENT
  // LIST, CLIENT KILL ID), increasing as Redis's: one locked add per accept.
  std::uint64_t takeClientId() { return header_->nextClientId.fetch_add(1, std::memory_order_relaxed); }
  // MONITOR clients of all workers (each worker adds and takes its own):
  // a worker formats the lines of its commands only while there are any.
  void addMonitors(std::int64_t delta) { header_->monitors.fetch_add(delta, std::memory_order_relaxed); }
  std::int64_t monitors() const { return header_->monitors.load(std::memory_order_relaxed); }
  // The next slow log entry's id, one sequence for all workers (SLOWLOG GET merges by it).
  std::uint64_t takeSlowlogId() { return header_->nextSlowlogId.fetch_add(1, std::memory_order_relaxed); }
  // SWAPDB's barrier: one coordinator at a time, by pid; taken when free or
  // its holder died.
  bool takeBarrier(std::int64_t holder);
  void releaseBarrier(std::int64_t holder) { header_->barrier.compare_exchange_strong(holder, 0, std::memory_order_acq_rel); }

 private:
  SharedMetrics(void* mapping, std::size_t bytes, int slots);
  struct Header {
    std::atomic<int> slots{0};
    SnapshotStatus snapshots;
    AofStatus aof;
    std::atomic<std::uint64_t> nextClientId{1};
    std::atomic<std::uint64_t> nextSlowlogId{0};
    std::atomic<std::int64_t> monitors{0};
    std::atomic<int> busyBlocks{0};  // blocks whose busyScript is set
    std::atomic<std::int64_t> scriptReach{0};
    std::atomic<std::int64_t> scriptReachLast{0};  // who released it last
    std::atomic<int> scriptReachStreak{0};         // its takes in a row
    std::atomic<std::int64_t> barrier{0};          // SWAPDB's coordinator (takeBarrier)
  };
  std::size_t bytes_;
  void* mapping_;
  Header* header_;
  WorkerMetrics* blocks_;
};

}  // namespace keyloop::metrics
