// INFO: Redis 7.0's sections in Redis's order and field names, summed over
// all workers (the command gathers every worker's counters first), plus
// keyloop's own "workers" section. Features keyloop does not have yet
// (replication, persistence, scripting) report what is true of it: none.
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>

#include "worker/commands/commands.h"
#include "worker/execution/worker_stats.h"
#include "worker/execution/command_families.h"
#include "worker/persistence/persistence.h"

namespace keyloop::commands {

namespace {

// Summed over all workers when INFO was fanned out, else this worker's.
ServerStats totalsOf(CommandContext& ctx) {
  if (ctx.workerStats.empty()) return ctx.worker.totals();
  ServerStats sum{};
  for (const ServerStats& worker : ctx.workerStats) {
    for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += worker[i];
  }
  return sum;
}

struct Writer {
  std::string text;
  void add(std::string_view name, std::string_view value) {
    text.append(name).append(":").append(value).append("\r\n");
  }
  void add(std::string_view name, std::uint64_t value) { add(name, std::to_string(value)); }
  void addAll(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
    for (const auto& [name, value] : fields) add(name, value);
  }
};

std::string bytesHuman(std::size_t bytes) {
  char buf[64];
  const double b = static_cast<double>(bytes);
  if (b < 1024) std::snprintf(buf, sizeof buf, "%zuB", bytes);
  else if (b < 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.2fK", b / 1024);
  else if (b < 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.2fM", b / 1024 / 1024);
  else std::snprintf(buf, sizeof buf, "%.2fG", b / 1024 / 1024 / 1024);
  return buf;
}

std::string seconds(std::uint64_t micros) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llu.%06llu", static_cast<unsigned long long>(micros / 1000000),
                static_cast<unsigned long long>(micros % 1000000));
  return buf;
}

long long uptimeSeconds(CommandContext& ctx) {
  return std::chrono::duration_cast<std::chrono::seconds>(ctx.worker.now() - ctx.worker.startedAt()).count();
}

// A run id per process start, as Redis's (40 hex digits).
const std::string& runId() {
  static const std::string id = [] {
    char buf[41];
    const std::uint64_t a = static_cast<std::uint64_t>(::getpid()) * 0x9E3779B97F4A7C15ull ^ static_cast<std::uint64_t>(unixMillis());
    std::snprintf(buf, sizeof buf, "%016llx%016llx%08x", static_cast<unsigned long long>(a),
                  static_cast<unsigned long long>(a * 0xBF58476D1CE4E5B9ull), static_cast<unsigned>(a >> 17));
    return std::string(buf);
  }();
  return id;
}

void serverSection(CommandContext& ctx, Writer& w) {
  utsname uts{};
  ::uname(&uts);
  const Config& c = ctx.worker.config();
  const long long uptime = uptimeSeconds(ctx);
  w.add("redis_version", kRedisCompatibleVersion);
  w.addAll({{"redis_git_sha1", "00000000"}, {"redis_git_dirty", "0"}, {"redis_build_id", "0"}});
  w.add("keyloop_version", kKeyloopVersion);
  w.add("redis_mode", c.cluster.enabled ? "cluster" : "standalone");
  w.add("os", std::string(uts.sysname) + " " + uts.release + " " + uts.machine);
  w.addAll({{"arch_bits", "64"}, {"monotonic_clock", "POSIX clock_gettime"}, {"multiplexing_api", "epoll"},
            {"atomicvar_api", "c11-builtin"}, {"gcc_version", __VERSION__}});
  w.add("process_id", static_cast<std::uint64_t>(::getpid()));
  w.add("process_supervised", ::getenv("NOTIFY_SOCKET") ? "systemd" : "no");
  w.add("run_id", runId());
  w.add("tcp_port", ctx.worker.port());
  w.add("server_time_usec", static_cast<std::uint64_t>(ctx.nowMs) * 1000);
  w.add("uptime_in_seconds", static_cast<std::uint64_t>(uptime));
  w.add("uptime_in_days", static_cast<std::uint64_t>(uptime / 86400));
  w.add("hz", static_cast<std::uint64_t>(c.expireHz));
  w.add("configured_hz", static_cast<std::uint64_t>(c.expireHz));
  w.add("lru_clock", static_cast<std::uint64_t>(ctx.nowMs / 1000) & ((1u << 24) - 1));
  w.add("executable", "keyloop");
  w.add("config_file", c.path);
  w.add("io_threads_active", "0");
}

void clientsSection(CommandContext& ctx, Writer& w) {
  std::size_t maxInput = 0, maxOutput = 0;
  for (const auto& [id, client] : ctx.worker.clients()) {
    maxInput = std::max(maxInput, client->queryBufferBytes());
    maxOutput = std::max(maxOutput, client->outputBufferBytes());
  }
  w.add("connected_clients", totalsOf(ctx)[kConnectedClients]);
  w.add("cluster_connections", "0");
  w.add("maxclients", ctx.worker.config().maxClients);
  w.add("client_recent_max_input_buffer", maxInput);
  w.add("client_recent_max_output_buffer", maxOutput);
  w.add("blocked_clients", totalsOf(ctx)[kBlockedClients]);
  w.add("tracking_clients", totalsOf(ctx)[kTrackingClients]);
  w.addAll({{"clients_in_timeout_table", "0"}});
}

void memorySection(CommandContext& ctx, Writer& w) {
  const ServerStats st = totalsOf(ctx);
  const std::size_t used = st[kUsedMemory], rss = st[kResidentBytes];
  struct sysinfo si{};
  ::sysinfo(&si);
  const std::uint64_t system = static_cast<std::uint64_t>(si.totalram) * si.mem_unit;
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "%.2f", used > 0 ? static_cast<double>(rss) / static_cast<double>(used) : 0.0);
  w.add("used_memory", used);
  w.add("used_memory_human", bytesHuman(used));
  w.add("used_memory_rss", rss);
  w.add("used_memory_rss_human", bytesHuman(rss));
  w.add("total_system_memory", system);
  w.add("total_system_memory_human", bytesHuman(system));
  // Scripts: every worker keeps the same cache; this worker's interpreter.
  const WorkerServices::ScriptCacheFigures scripts = ctx.worker.scriptCache();
  w.add("used_memory_lua", scripts.memoryBytes);
  w.add("used_memory_scripts", 0);
  w.add("number_of_cached_scripts", scripts.scripts);
  const MemoryLimitConfig& limit = ctx.worker.config().maxmemory;
  w.add("maxmemory", limit.limit);
  w.add("maxmemory_human", bytesHuman(limit.limit));
  w.add("maxmemory_policy", nameOf(limit.policy));
  w.add("mem_fragmentation_ratio", ratio);
  w.add("mem_fragmentation_bytes", rss > used ? rss - used : 0);
  // maxmemory counts every byte keyloop measures (no replication buffers yet).
  w.addAll({{"mem_not_counted_for_evict", "0"}, {"mem_replication_backlog", "0"}, {"mem_total_replication_buffers", "0"},
            {"mem_clients_slaves", "0"}});
  w.add("mem_clients_normal", st[kClientsMemory]);
  w.addAll({{"mem_cluster_links", "0"}});
  w.add("mem_aof_buffer", st[kAofBuffer]);
  w.addAll({{"mem_allocator", "libc"}, {"active_defrag_running", "0"}});
  w.add("lazyfree_pending_objects", st[kLazyfreePending]);
  w.add("lazyfreed_objects", st[kLazyfreedObjects]);
}

void persistenceSection(CommandContext& ctx, Writer& w) {
  const ServerStats st = totalsOf(ctx);
  const metrics::SnapshotStatus* status = ctx.worker.snapshotStatus();
  const std::int64_t startedMs = status ? status->currentStartMs.load() : 0;
  const std::uint64_t atSave = status ? status->changesAtLastSave.load() : 0;
  const std::uint64_t changes = ctx.worker.changesEverywhere();
  w.addAll({{"loading", "0"}, {"async_loading", "0"}, {"current_cow_peak", "0"}, {"current_cow_size", "0"},
            {"current_cow_size_age", "0"}, {"current_fork_perc", "0.00"}, {"current_save_keys_processed", "0"},
            {"current_save_keys_total", "0"}});
  w.add("rdb_changes_since_last_save", changes > atSave ? changes - atSave : 0);
  w.add("rdb_bgsave_in_progress", std::uint64_t{startedMs != 0});
  w.add("rdb_last_save_time", status ? std::to_string(status->lastSaveUnix.load())
                                     : std::to_string(ctx.nowMs / 1000 - uptimeSeconds(ctx)));
  w.add("rdb_last_bgsave_status", status == nullptr || status->lastOk.load() ? "ok" : "err");
  w.add("rdb_last_bgsave_time_sec", std::to_string(status ? status->lastSeconds.load() : -1));
  w.add("rdb_current_bgsave_time_sec", std::to_string(startedMs != 0 ? (ctx.nowMs - startedMs) / 1000 : -1));
  w.add("rdb_saves", status ? status->saves.load() : 0);
  w.add("rdb_last_cow_size", "0");
  w.add("rdb_last_load_keys_expired", st[kLoadExpiredKeys]);
  w.add("rdb_last_load_keys_loaded", st[kLoadedKeys]);
  const metrics::AofStatus* aof = ctx.worker.aofStatus();
  Persistence* persistence = ctx.worker.persistence();
  const AofLog* log = persistence != nullptr ? persistence->log() : nullptr;
  const bool enabled = ctx.worker.config().persistence.aofEnabled;
  const std::int64_t rewriteMs = aof ? aof->rewriteStartMs.load() : 0;
  w.add("aof_enabled", std::uint64_t{enabled});
  w.add("aof_rewrite_in_progress", std::uint64_t{rewriteMs != 0});
  w.add("aof_rewrite_scheduled", std::uint64_t{aof != nullptr && aof->rewriteScheduled.load()});
  w.add("aof_last_rewrite_time_sec", std::to_string(aof ? aof->lastRewriteSeconds.load() : -1));
  w.add("aof_current_rewrite_time_sec", std::to_string(rewriteMs != 0 ? (ctx.nowMs - rewriteMs) / 1000 : -1));
  w.add("aof_last_bgrewrite_status", aof == nullptr || aof->lastRewriteOk.load() ? "ok" : "err");
  w.add("aof_rewrites", aof ? aof->rewrites.load() : 0);
  w.add("aof_rewrites_consecutive_failures", aof ? aof->consecutiveFailures.load() : 0);
  w.add("aof_last_write_status", log != nullptr && log->failing() ? "err" : "ok");
  w.addAll({{"aof_last_cow_size", "0"}, {"module_fork_in_progress", "0"}, {"module_fork_last_cow_size", "0"}});
  if (!enabled) return;
  w.add("aof_current_size", aof ? aof->currentSize.load() : 0);
  w.add("aof_base_size", aof ? aof->baseSize.load() : 0);
  w.add("aof_pending_rewrite", std::uint64_t{aof != nullptr && aof->rewriteScheduled.load()});
  w.add("aof_buffer_length", log != nullptr ? log->pendingBytes() : 0);
  w.add("aof_pending_bio_fsync", std::uint64_t{log != nullptr && log->fsyncInFlight()});
  w.add("aof_delayed_fsync", "0");
}

void statsSection(CommandContext& ctx, Writer& w) {
  const ServerStats st = totalsOf(ctx);
  const LagMonitor& lag = ctx.worker.lag();
  w.add("total_connections_received", st[kConnectionsReceived]);
  w.add("total_commands_processed", st[kCommandsProcessed]);
  w.add("total_net_input_bytes", st[kNetInputBytes]);
  w.add("total_net_output_bytes", st[kNetOutputBytes]);
  w.add("rejected_connections", st[kConnectionsRejected]);
  w.addAll({{"sync_full", "0"}, {"sync_partial_ok", "0"}, {"sync_partial_err", "0"}});
  w.add("expired_keys", st[kExpiredKeys]);
  w.add("evicted_keys", st[kEvictedKeys]);
  w.addAll({{"evicted_clients", "0"}});
  w.add("keyspace_hits", st[kKeyspaceHits]);
  w.add("keyspace_misses", st[kKeyspaceMisses]);
  w.add("pubsub_channels", st[kPubsubChannels]);
  w.add("pubsub_patterns", st[kPubsubPatterns]);
  w.addAll({{"latest_fork_usec", "0"}, {"total_forks", "0"}});
  w.add("tracking_total_keys", st[kTrackingKeys]);
  w.add("tracking_total_items", st[kTrackingItems]);
  w.add("tracking_total_prefixes", st[kTrackingPrefixes]);
  w.add("total_error_replies", st[kCommandErrors]);
  for (auto [name, value] : {std::pair{"event_loop_lag_p50_seconds", lag.p50()},
                             std::pair{"event_loop_lag_p99_seconds", lag.p99()},
                             std::pair{"event_loop_lag_max_seconds", lag.maxSeconds()}}) {
    w.add(name, printed("%.6f", value));
  }
}

void replicationSection(CommandContext&, Writer& w) {
  w.addAll({{"role", "master"}, {"connected_slaves", "0"}, {"master_failover_state", "no-failover"}});
  w.add("master_replid", runId());
  w.addAll({{"master_replid2", "0000000000000000000000000000000000000000"}, {"master_repl_offset", "0"},
            {"second_repl_offset", "-1"}, {"repl_backlog_active", "0"}, {"repl_backlog_size", "1048576"},
            {"repl_backlog_first_byte_offset", "0"}, {"repl_backlog_histlen", "0"}});
}

void cpuSection(CommandContext& ctx, Writer& w) {
  const ServerStats st = totalsOf(ctx);
  w.add("used_cpu_sys", seconds(st[kCpuSysMicros]));
  w.add("used_cpu_user", seconds(st[kCpuUserMicros]));
  w.addAll({{"used_cpu_sys_children", "0.000000"}, {"used_cpu_user_children", "0.000000"}});
  w.add("used_cpu_sys_main_thread", seconds(st[kCpuSysMainMicros]));
  w.add("used_cpu_user_main_thread", seconds(st[kCpuUserMainMicros]));
}

void modulesSection(CommandContext&, Writer&) {}

void commandstatsSection(CommandContext& ctx, Writer& w) {
  const ServerStats st = totalsOf(ctx);
  const auto table = commandTable();
  for (std::size_t i = 0; i < table.size(); ++i) {
    const std::uint64_t calls = st[kCallsByCommand + i], rejected = st[kRejectionsByCommand + i],
                        failed = st[kFailuresByCommand + i];
    if ((calls == 0 && rejected == 0 && failed == 0) || table[i].peer != peer::Kind::None) continue;
    const std::uint64_t usec = st[kMicrosByCommand + i];
    char line[160];
    std::snprintf(line, sizeof line, "calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,failed_calls=%llu",
                  static_cast<unsigned long long>(calls), static_cast<unsigned long long>(usec),
                  calls == 0 ? 0.0 : static_cast<double>(usec) / static_cast<double>(calls),
                  static_cast<unsigned long long>(rejected), static_cast<unsigned long long>(failed));
    w.add("cmdstat_" + std::string(table[i].name), line);
  }
}

void errorstatsSection(CommandContext& ctx, Writer& w) {
  const ServerStats st = totalsOf(ctx);
  for (std::size_t i = 0; i < kErrorCodeCount; ++i) {
    if (st[kErrorsByCode + i] != 0) w.add("errorstat_" + std::string(kErrorCodes[i]), "count=" + std::to_string(st[kErrorsByCode + i]));
  }
}

// Every worker's calls of each command (a subcommand by its full name, as
// Redis) by duration, at the configured percentiles.
void latencystatsSection(CommandContext& ctx, Writer& w) {
  WorkerStats* stats = ctx.worker.workerStats();
  const IntrospectionConfig& settings = ctx.worker.config().introspection;
  if (stats == nullptr || !settings.latencyTracking) return;
  const auto names = metrics::trackedCommandNames();
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) continue;
    metrics::LatencyCounts counts;
    stats->forEachBlock([&](const metrics::WorkerMetrics& block) { counts.add(block.commandLatency[i]); });
    if (counts.calls() == 0) continue;
    std::string line;
    for (double p : settings.latencyTrackingInfoPercentiles) {
      char value[64];
      std::snprintf(value, sizeof value, "=%.3f", static_cast<double>(counts.percentileNanos(p)) / 1000.0);
      line += (line.empty() ? "p" : ",p") + formatPercentiles({p}) + value;
    }
    w.add("latency_percentiles_usec_" + names[i], line);
  }
}

void clusterSection(CommandContext& ctx, Writer& w) { w.add("cluster_enabled", ctx.worker.config().cluster.enabled ? "1" : "0"); }

void keyspaceSection(CommandContext& ctx, Writer& w) {
  const ServerStats st = totalsOf(ctx);
  if (st[kKeys] == 0) return;
  for (std::size_t db = 0; db < kDatabaseSlots; ++db) {
    const std::uint64_t keys = st[kKeysByDb + db];
    if (keys == 0) continue;
    w.add("db" + std::to_string(db),
          "keys=" + std::to_string(keys) + ",expires=" + std::to_string(st[kExpiresByDb + db]) + ",avg_ttl=0");
  }
}

// keyloop's own section: how the work is spread over the workers.
void workersSection(CommandContext& ctx, Writer& w) {
  std::vector<ServerStats> own;
  std::span<const ServerStats> workers = ctx.workerStats;
  if (workers.empty()) {
    own.push_back(ctx.worker.totals());
    workers = own;
  }
  for (std::size_t i = 0; i < workers.size(); ++i) {
    w.add("worker" + std::to_string(i), "keys=" + std::to_string(workers[i][kKeys]) +
                                            ",expires=" + std::to_string(workers[i][kExpires]) +
                                            ",clients=" + std::to_string(workers[i][kConnectedClients]) +
                                            ",commands=" + std::to_string(workers[i][kCommandsProcessed]));
  }
}

struct Section {
  std::string_view name, title;
  void (*write)(CommandContext&, Writer&);
  bool byDefault;
  std::string_view alias = {};  // another name INFO takes for it
};

// In the order Redis prints them.
constexpr Section kSections[] = {
    {"server", "Server", serverSection, true},
    {"clients", "Clients", clientsSection, true},
    {"memory", "Memory", memorySection, true},
    {"persistence", "Persistence", persistenceSection, true},
    {"stats", "Stats", statsSection, true},
    {"replication", "Replication", replicationSection, true},
    {"cpu", "CPU", cpuSection, true},
    {"modules", "Modules", modulesSection, true, "module_list"},
    {"commandstats", "Commandstats", commandstatsSection, false},
    {"errorstats", "Errorstats", errorstatsSection, true},
    {"latencystats", "Latencystats", latencystatsSection, false},
    {"cluster", "Cluster", clusterSection, true},
    {"keyspace", "Keyspace", keyspaceSection, true},
    {"workers", "Workers", workersSection, true},
};

// Names that ask for a group of sections rather than one.
enum class Group { All, Defaults };
constexpr std::pair<std::string_view, Group> kGroups[] = {
    {"all", Group::All}, {"everything", Group::All}, {"default", Group::Defaults}};

}  // namespace

void info(CommandContext& ctx) {
  bool all = false, defaults = ctx.args.size() == 1;
  std::vector<const Section*> wanted;
  for (std::size_t i = 1; i < ctx.args.size(); ++i) {
    const std::string_view arg = ctx.args[i];
    for (const auto& [name, group] : kGroups) {
      if (equalsIgnoreCase(arg, name)) (group == Group::All ? all : defaults) = true;
    }
    for (const Section& section : kSections) {
      if (equalsIgnoreCase(arg, section.name) || (!section.alias.empty() && equalsIgnoreCase(arg, section.alias))) {
        wanted.push_back(&section);
      }
    }
  }
  Writer w;
  for (const Section& section : kSections) {
    const bool asked = std::find(wanted.begin(), wanted.end(), &section) != wanted.end();
    if (!all && !asked && !(defaults && section.byDefault)) continue;
    if (!w.text.empty()) w.text += "\r\n";
    w.text += "# " + std::string(section.title) + "\r\n";
    section.write(ctx, w);
  }
  ctx.reply.verbatim(w.text);
}

void totals(CommandContext& ctx) {
  peer::replyTotals(ctx.reply, ctx.worker.totals());
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> infoCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "peer-totals", .arity = 0, .flags = 0,
       .handler = totals, .peer = peer::Kind::Totals},
      {.name = "info", .arity = -1, .flags = 0, .acl = acl::kDangerous,
       .cross = CrossWorker::GatherTotals, .handler = info},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
