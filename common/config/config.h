// Config: keyloop's typed configuration, loaded from YAML and validated.
//
// Every field has the documented default of conf/keyloop.yaml. load() rejects
// unknown keys (with a did-you-mean), wrong types and out-of-range values;
// every error names file:line:column, like a compiler, so an operator can
// jump straight to it. Sizes accept units (`512mb`, `1gb`, `64k`), durations
// accept `ms`, `s`, `m`, `h` (`30s`, `250ms`); a bare number is bytes or
// seconds respectively.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/result/result.h"

namespace keyloop {

struct ListenConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 6379;
  int backlog = 511;
};

// cluster: Redis Cluster emulation (worker N also serves on port + N).
struct ClusterConfig {
  bool enabled = false;
  std::uint16_t port = 7000;  // worker 0's port
  std::string announce;       // what CLUSTER SLOTS/NODES advertise; empty = the first listen address
  bool operator==(const ClusterConfig&) const = default;
};

// When a small hash, set or sorted set stops being packed and how big a
// list's chunks grow (Redis's names, its
// redis.conf values); CONFIG SET changes them on the running workers.
struct EncodingConfig {
  std::size_t hashMaxListpackEntries = 128;
  std::size_t hashMaxListpackValue = 64;
  std::size_t setMaxIntsetEntries = 512;
  std::size_t setMaxListpackEntries = 128;
  std::size_t setMaxListpackValue = 64;
  std::size_t hllSparseMaxBytes = 3000;
  long long listMaxListpackSize = -2;  // > 0: elements per chunk; -1..-5: 4..64 KB
  // Redis's list-compress-depth, kept for CONFIG GET/SET: keyloop does not
  // compress list chunks (yet), whatever the value.
  int listCompressDepth = 0;
  std::size_t zsetMaxListpackEntries = 128;
  std::size_t zsetMaxListpackValue = 64;
  // A stream node closes at this many bytes or entries (0: no limit).
  std::size_t streamNodeMaxBytes = 4096;
  std::size_t streamNodeMaxEntries = 100;
  bool operator==(const EncodingConfig&) const = default;
};

// A client output buffer limit (client-output-buffer-limit): disconnect
// past `hard` bytes, or past `soft` for longer than `softSeconds`; 0: none.
struct OutputLimit {
  std::size_t hard = 32ull * 1024 * 1024;
  std::size_t soft = 8ull * 1024 * 1024;
  unsigned softSeconds = 60;
};

// persistence: where snapshots live and when they are made (Redis's dir,
// dbfilename, save and stop-writes-on-bgsave-error).
struct SaveRule {
  std::uint64_t seconds = 0, changes = 0;
  bool operator==(const SaveRule&) const = default;
};
struct PersistenceConfig {
  std::string dir = ".";  // relative: to the directory keyloop was started in, as Redis's
  std::string snapshotFile = "dump.rdb";
  std::vector<SaveRule> save{{3600, 1}, {300, 100}, {60, 10000}};
  bool stopWritesOnError = true;
  // The append-only log (worker/aof/): Redis's appendonly, appendfsync
  // (always | everysec | no), appenddirname, appendfilename,
  // auto-aof-rewrite-percentage / -min-size and aof-load-truncated.
  bool aofEnabled = false;
  std::string aofFsync = "everysec";
  std::string aofDir = "appendonlydir";
  std::string aofFile = "appendonly.aof";
  int autoRewritePercentage = 100;
  std::uint64_t autoRewriteMinSize = 64ull << 20;
  bool aofLoadTruncated = true;
  bool operator==(const PersistenceConfig&) const = default;
  // dir/file: where the snapshot is written and read from.
  std::string snapshotPath() const { return dir + "/" + snapshotFile; }
  // dir/appenddirname: the log's files and their manifest.
  std::string aofPath() const { return dir + "/" + aofDir; }
};
// Redis's save rules "3600 1 300 100" (pairs of seconds and changes; ""
// is none); nullopt if malformed.
std::optional<std::vector<SaveRule>> parseSaveRules(const std::string& text);
std::string formatSaveRules(const std::vector<SaveRule>& rules);

// maxmemory: a limit on the data, split evenly across the workers, and
// what happens at it (Redis's maxmemory-policy; samples and the LFU
// tuning are Redis's names too).
enum class EvictionPolicy : std::uint8_t {
  VolatileLru, VolatileLfu, VolatileRandom, VolatileTtl, AllKeysLru, AllKeysLfu, AllKeysRandom, NoEviction
};
// Redis's names, in its order (its CONFIG SET error lists them so).
inline constexpr const char* kEvictionPolicyNames[] = {"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
                                                       "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"};
std::optional<EvictionPolicy> parseEvictionPolicy(std::string_view name);
inline const char* nameOf(EvictionPolicy p) { return kEvictionPolicyNames[static_cast<int>(p)]; }
inline bool usesLfu(EvictionPolicy p) { return p == EvictionPolicy::VolatileLfu || p == EvictionPolicy::AllKeysLfu; }

struct MemoryLimitConfig {
  std::uint64_t limit = 0;  // bytes, all workers together; 0: none
  EvictionPolicy policy = EvictionPolicy::NoEviction;
  int samples = 5;
  int lfuLogFactor = 10;
  int lfuDecayMinutes = 1;
  bool operator==(const MemoryLimitConfig&) const = default;
};

// What operators ask a running server (Redis's slowlog-* and latency-*
// settings); CONFIG SET changes them on the running workers.
struct IntrospectionConfig {
  long long slowlogLogSlowerThanMicros = 10000;  // negative: the slow log is off; 0: every command
  std::size_t slowlogMaxLen = 128;
  std::uint64_t latencyMonitorThresholdMs = 0;   // 0: the latency monitor is off
  bool latencyTracking = true;                    // per-command latency histograms
  std::vector<double> latencyTrackingInfoPercentiles{50.0, 99.0, 99.9};
  bool operator==(const IntrospectionConfig&) const = default;
};

struct Config {
  std::string path;  // the file it came from, for messages
  std::vector<ListenConfig> listen{ListenConfig{}};
  // 0 = one per online CPU ("auto").
  int workers = 0;
  bool pinWorkers = true;  // cpu_affinity: auto (worker N on CPU N mod count) | off
  int threadPool = 4;
  // databases: how many numbered keyspaces (SELECT 0..n-1), as Redis's.
  int databases = 16;
  std::uint64_t drainTimeoutMs = 30000;  // shutdown.drain_timeout

  // limits
  std::size_t maxClients = 10000;
  std::size_t protoMaxBulkLen = 512ull * 1024 * 1024;
  std::size_t clientQueryBufferLimit = 1024ull * 1024 * 1024;
  std::size_t clientOutputBufferLimit = 1024ull * 1024 * 1024;
  // busy-reply-threshold (lua-time-limit): a script running longer makes
  // its worker answer other clients -BUSY while it polls them; 0: never.
  long long busyReplyThresholdMs = 5000;
  // enable-debug-command: "no" (Redis's default), "yes", or "local" (loopback clients).
  std::string enableDebugCommand = "no";
  // notify-keyspace-events (common/config/notify_flags.h); 0: none.
  std::uint32_t notifyKeyspaceEvents = 0;
  // client-output-buffer-limit pubsub (Redis's default 32mb 8mb 60).
  OutputLimit pubsubOutputLimit;
  std::uint64_t idleTimeoutSeconds = 0;  // 0 = never close idle clients
  // tracking-table-max-keys: keys client tracking remembers readers of (0: no limit).
  std::size_t trackingTableMaxKeys = 1000000;
  std::string requirePass;               // empty = no AUTH needed

  // expiry
  int expireHz = 10;                      // active expire cycles per second
  std::uint64_t expireBudgetMicros = 1000;  // per cycle

  // log
  std::string logLevel = "notice";  // debug | verbose | notice | warning
  std::string logFile;              // empty = stderr

  std::string pidFile;  // empty = none

  // metrics: GET /metrics and /healthz, served by the master
  bool metricsEnabled = true;
  ListenConfig metricsListen{"127.0.0.1", 9121, 128};

  ClusterConfig cluster;
  EncodingConfig encoding;
  PersistenceConfig persistence;
  MemoryLimitConfig maxmemory;
  IntrospectionConfig introspection;
};
// "50 99 99.9" (Redis's latency-tracking-info-percentiles: 0 to 100 each,
// "" none); nullopt if malformed.
std::optional<std::vector<double>> parsePercentiles(const std::string& text);
std::string formatPercentiles(const std::vector<double>& percentiles);

// The config, or what is wrong with it: "file:line:column: what is wrong".
using ConfigResult = Result<Config>;

// Loads and validates a YAML file. Never throws. `text`, if given, gets the
// file's contents (a reload hands exactly the validated text to workers).
ConfigResult loadConfig(const std::string& path, std::string* text = nullptr);
// The same, from text (tests); `name` stands for the file in messages.
ConfigResult parseConfig(const std::string& text, const std::string& name);

// Only the pidfile of a file that may not pass validation (keyloop -s
// reload must still find the master to let it report the error); nullopt if
// the file is unreadable YAML or names none.
std::optional<std::string> pidFileOf(const std::string& path);

// "512mb" → bytes; nullopt if malformed. Units: b k kb m mb g gb (1024-based,
// case-insensitive, like redis.conf).
std::optional<std::uint64_t> parseSize(const std::string& text);
// "30s" → milliseconds; nullopt if malformed. Units: ms s m h; bare = seconds.
std::optional<std::uint64_t> parseDurationMs(const std::string& text);

}  // namespace keyloop
