// CONFIG GET / SET over one table of keyloop's settings under Redis's
// names. CONFIG SET runs on every worker (the table row broadcasts it)
// and lasts until the next reload, which reads the YAML file again (as a
// Redis restart reads redis.conf).
#include <cctype>
#include <climits>
#include <variant>

#include "common/config/notify_flags.h"
#include "worker/commands/commands.h"
#include "worker/execution/worker_stats.h"
#include "worker/execution/command_families.h"
#include "common/result/result.h"

namespace keyloop::commands {

namespace {

// How a value is read, with Redis's error texts.
// Same: only the value it has is accepted (keyloop has no other yet).
// Events: notify-keyspace-events' letters, kept as their flags.
// Policy: one of maxmemory-policy's names, kept as its EvictionPolicy.
// YesNo: yes or no, kept as 1 or 0. Protected: Redis refuses it unless
// enable-protected-configs (dir, dbfilename). Text: a value of several
// words (`save`, the percentiles), read by the row's setText.
enum class Format { Integer, Memory, Fixed, Same, Events, Policy, YesNo, Protected, Text, Fsync };

struct Setting {
  std::string_view name, alias;
  Format format;
  long long min, max;
  std::string (*get)(const Config&);
  void (*set)(Config&, long long);  // null: immutable (unless setText)
  // Text: sets the value from its text, or returns Redis's complaint.
  Status (*setText)(Config&, std::string_view) = nullptr;
};

// Redis's memtoull: a number with an optional unit (b, k, kb, m, mb, g, gb).
std::optional<long long> parseMemory(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  auto number = parseInteger(text.substr(0, digits));
  if (digits == 0 || !number) return std::nullopt;
  const std::string unit = toLower(text.substr(digits));
  long long scale = 1;
  if (unit.empty() || unit == "b") scale = 1;
  else if (unit == "k") scale = 1000;
  else if (unit == "kb") scale = 1024;
  else if (unit == "m") scale = 1000 * 1000;
  else if (unit == "mb") scale = 1024 * 1024;
  else if (unit == "g") scale = 1000ll * 1000 * 1000;
  else if (unit == "gb") scale = 1024ll * 1024 * 1024;
  else return std::nullopt;
  long long bytes;
  if (__builtin_mul_overflow(*number, scale, &bytes)) return std::nullopt;
  return bytes;
}

#define SIZE_SETTING(field)                                                    \
  [](const Config& c) { return std::to_string(c.field); },                    \
  [](Config& c, long long v) { c.field = static_cast<decltype(c.field)>(v); }

// A setting only a new config file changes (read-only here).
#define FIXED(expression) Format::Fixed, 0, 0, []([[maybe_unused]] const Config& c) { return std::string(expression); }, nullptr

// A setting that takes only the value it has: `save ""` (no snapshots to
// schedule) succeeds, as it would on a Redis without save rules; so does
// setting one Redis can change at runtime (port, loglevel...) and keyloop
// only through its YAML to what it is (Redis's own CONFIG sanity test sets
// every setting CONFIG GET lists to its value).
#define SAME(expression)                                                              \
  Format::Same, 0, 0, []([[maybe_unused]] const Config& c) { return std::string(expression); }, \
      [](Config&, long long) {}

std::string yesNo(bool b) { return b ? "yes" : "no"; }
constexpr const char* kFsyncNames[] = {"always", "everysec", "no"};

// Sorted by name, Redis's first; keyloop's own settings (no Redis name)
// under keyloop-*, as the YAML names them. The encoding thresholds keep
// Redis 7.0's ziplist aliases.
constexpr long long kLong = LLONG_MAX;
const Setting kSettings[] = {
    {"aof-disable-auto-gc", "", SAME("no")},
    {"aof-load-truncated", "", Format::YesNo, 0, 1, [](const Config& c) { return yesNo(c.persistence.aofLoadTruncated); },
     [](Config& c, long long v) { c.persistence.aofLoadTruncated = v != 0; }},
    {"aof-rewrite-incremental-fsync", "", SAME("yes")},
    {"aof-timestamp-enabled", "", SAME("no")},
    {"aof-use-rdb-preamble", "", SAME("yes")},
    {"appenddirname", "", FIXED(c.persistence.aofDir)},
    {"appendfilename", "", FIXED(c.persistence.aofFile)},
    {"appendfsync", "", Format::Fsync, 0, 0, [](const Config& c) { return c.persistence.aofFsync; },
     [](Config& c, long long v) { c.persistence.aofFsync = kFsyncNames[v]; }},
    {"appendonly", "", Format::YesNo, 0, 1, [](const Config& c) { return yesNo(c.persistence.aofEnabled); },
     [](Config& c, long long v) { c.persistence.aofEnabled = v != 0; }},
    {"auto-aof-rewrite-min-size", "", Format::Memory, 0, kLong, SIZE_SETTING(persistence.autoRewriteMinSize)},
    {"auto-aof-rewrite-percentage", "", Format::Integer, 0, INT_MAX, SIZE_SETTING(persistence.autoRewritePercentage)},
    {"bind", "", SAME(c.listen.front().address)},
    {"busy-reply-threshold", "lua-time-limit", Format::Integer, 0, kLong, SIZE_SETTING(busyReplyThresholdMs)},
    {"client-output-buffer-limit", "", SAME("normal " + std::to_string(c.clientOutputBufferLimit) + " 0 0 slave 0 0 0 pubsub " +
                                             std::to_string(c.pubsubOutputLimit.hard) + " " +
                                             std::to_string(c.pubsubOutputLimit.soft) + " " +
                                             std::to_string(c.pubsubOutputLimit.softSeconds))},
    {"client-query-buffer-limit", "", Format::Memory, 1024 * 1024, kLong, SIZE_SETTING(clientQueryBufferLimit)},
    {"cluster-announce-ip", "", SAME(c.cluster.announce)},
    {"cluster-enabled", "", FIXED(yesNo(c.cluster.enabled))},
    {"cluster-port", "", FIXED(std::to_string(c.cluster.enabled ? c.cluster.port : 0))},
    {"databases", "", FIXED(std::to_string(c.databases))},
    {"dbfilename", "", Format::Protected, 0, 0, [](const Config& c) { return c.persistence.snapshotFile; }, nullptr},
    {"dir", "", Format::Protected, 0, 0, [](const Config& c) { return c.persistence.dir; }, nullptr},
    {"enable-debug-command", "", FIXED(c.enableDebugCommand)},
    {"hash-max-listpack-entries", "hash-max-ziplist-entries", Format::Integer, 0, kLong, SIZE_SETTING(encoding.hashMaxListpackEntries)},
    {"hash-max-listpack-value", "hash-max-ziplist-value", Format::Memory, 0, kLong, SIZE_SETTING(encoding.hashMaxListpackValue)},
    {"hll-sparse-max-bytes", "", Format::Memory, 0, kLong, SIZE_SETTING(encoding.hllSparseMaxBytes)},
    {"hz", "", Format::Integer, 0, INT_MAX, [](const Config& c) { return std::to_string(c.expireHz); },
     [](Config& c, long long v) { c.expireHz = static_cast<int>(std::clamp(v, 1ll, 500ll)); }},
    {"keyloop-cpu-affinity", "", SAME(c.pinWorkers ? "auto" : "off")},
    {"keyloop-drain-timeout", "", SAME(std::to_string(c.drainTimeoutMs) + "ms")},
    {"keyloop-expiry-cycle-budget", "", SAME(std::to_string(c.expireBudgetMicros) + "us")},
    {"keyloop-metrics", "", SAME(c.metricsEnabled ? c.metricsListen.address + ":" + std::to_string(c.metricsListen.port) : "no")},
    {"keyloop-thread-pool", "", SAME(std::to_string(c.threadPool))},
    {"keyloop-workers", "", SAME(c.workers == 0 ? "auto" : std::to_string(c.workers))},
    {"latency-monitor-threshold", "", Format::Integer, 0, kLong, SIZE_SETTING(introspection.latencyMonitorThresholdMs)},
    {"latency-tracking", "", Format::YesNo, 0, 1, [](const Config& c) { return yesNo(c.introspection.latencyTracking); },
     [](Config& c, long long v) { c.introspection.latencyTracking = v != 0; }},
    {"latency-tracking-info-percentiles", "", Format::Text, 0, 0,
     [](const Config& c) { return formatPercentiles(c.introspection.latencyTrackingInfoPercentiles); }, nullptr,
     [](Config& c, std::string_view text) -> Status {
       std::vector<double> percentiles;
       for (std::string_view word : splitOn(text, ' ')) {
         if (word.empty()) continue;
         const auto v = parseDouble(word);
         if (!v) return fail("Invalid latency-tracking-info-percentiles parameters");
         if (*v > 100.0 || *v < 0.0) return fail("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]");
         percentiles.push_back(*v);
       }
       c.introspection.latencyTrackingInfoPercentiles = std::move(percentiles);
       return {};
     }},
    {"list-compress-depth", "", Format::Integer, 0, INT_MAX,
     [](const Config& c) { return std::to_string(c.encoding.listCompressDepth); },
     [](Config& c, long long v) { c.encoding.listCompressDepth = static_cast<int>(v); }},
    {"list-max-listpack-size", "list-max-ziplist-size", Format::Integer, INT_MIN, INT_MAX,
     [](const Config& c) { return std::to_string(c.encoding.listMaxListpackSize); },
     [](Config& c, long long v) { c.encoding.listMaxListpackSize = v; }},
    {"logfile", "", FIXED(c.logFile)},
    {"loglevel", "", SAME(c.logLevel)},
    {"maxclients", "", Format::Integer, 1, UINT_MAX, SIZE_SETTING(maxClients)},
    {"notify-keyspace-events", "", Format::Events, 0, 0,
     [](const Config& c) { return keyspace_events::format(c.notifyKeyspaceEvents); },
     [](Config& c, long long v) { c.notifyKeyspaceEvents = static_cast<std::uint32_t>(v); }},
    {"lfu-decay-time", "", Format::Integer, 0, INT_MAX, [](const Config& c) { return std::to_string(c.maxmemory.lfuDecayMinutes); },
     [](Config& c, long long v) { c.maxmemory.lfuDecayMinutes = static_cast<int>(v); }},
    {"lfu-log-factor", "", Format::Integer, 0, INT_MAX, [](const Config& c) { return std::to_string(c.maxmemory.lfuLogFactor); },
     [](Config& c, long long v) { c.maxmemory.lfuLogFactor = static_cast<int>(v); }},
    {"maxmemory", "", Format::Memory, 0, kLong, SIZE_SETTING(maxmemory.limit)},
    {"maxmemory-policy", "", Format::Policy, 0, 0, [](const Config& c) { return std::string(nameOf(c.maxmemory.policy)); },
     [](Config& c, long long v) { c.maxmemory.policy = static_cast<EvictionPolicy>(v); }},
    {"maxmemory-samples", "", Format::Integer, 1, INT_MAX, [](const Config& c) { return std::to_string(c.maxmemory.samples); },
     [](Config& c, long long v) { c.maxmemory.samples = static_cast<int>(std::min(v, 64ll)); }},
    {"pidfile", "", FIXED(c.pidFile)},
    {"port", "", SAME(std::to_string(c.listen.front().port))},
    {"proto-max-bulk-len", "", Format::Memory, 1024 * 1024, kLong, SIZE_SETTING(protoMaxBulkLen)},
    {"requirepass", "", SAME(c.requirePass)},
    {"save", "", Format::Text, 0, 0, [](const Config& c) { return formatSaveRules(c.persistence.save); }, nullptr,
     [](Config& c, std::string_view text) -> Status {
       const auto rules = parseSaveRules(std::string(text));
       if (!rules) return fail("Invalid save parameters");
       c.persistence.save = *rules;
       return {};
     }},
    {"slowlog-log-slower-than", "", Format::Integer, -1, kLong,
     [](const Config& c) { return std::to_string(c.introspection.slowlogLogSlowerThanMicros); },
     [](Config& c, long long v) { c.introspection.slowlogLogSlowerThanMicros = v; }},
    {"slowlog-max-len", "", Format::Integer, 0, LONG_MAX, SIZE_SETTING(introspection.slowlogMaxLen)},
    {"stop-writes-on-bgsave-error", "", Format::YesNo, 0, 1, [](const Config& c) { return yesNo(c.persistence.stopWritesOnError); },
     [](Config& c, long long v) { c.persistence.stopWritesOnError = v != 0; }},
    {"set-max-intset-entries", "", Format::Integer, 0, kLong, SIZE_SETTING(encoding.setMaxIntsetEntries)},
    {"set-max-listpack-entries", "", Format::Integer, 0, kLong, SIZE_SETTING(encoding.setMaxListpackEntries)},
    {"set-max-listpack-value", "", Format::Memory, 0, kLong, SIZE_SETTING(encoding.setMaxListpackValue)},
    {"zset-max-listpack-entries", "zset-max-ziplist-entries", Format::Integer, 0, kLong, SIZE_SETTING(encoding.zsetMaxListpackEntries)},
    {"zset-max-listpack-value", "zset-max-ziplist-value", Format::Memory, 0, kLong, SIZE_SETTING(encoding.zsetMaxListpackValue)},
    {"stream-node-max-bytes", "", Format::Memory, 0, kLong, SIZE_SETTING(encoding.streamNodeMaxBytes)},
    {"stream-node-max-entries", "", Format::Integer, 0, kLong, SIZE_SETTING(encoding.streamNodeMaxEntries)},
    {"tcp-backlog", "", FIXED(std::to_string(c.listen.front().backlog))},
    {"timeout", "", Format::Integer, 0, INT_MAX, SIZE_SETTING(idleTimeoutSeconds)},
    {"tracking-table-max-keys", "", Format::Integer, 0, kLong, SIZE_SETTING(trackingTableMaxKeys)},
};

#undef SIZE_SETTING
#undef FIXED

const Setting* findSetting(std::string_view name) {
  for (const Setting& s : kSettings) {
    if (equalsIgnoreCase(s.name, name) || (!s.alias.empty() && equalsIgnoreCase(s.alias, name))) return &s;
  }
  return nullptr;
}

// The value as the setting reads it, or Redis's complaint.
Result<long long> parseValue(const Setting& s, std::string_view text, const Config& now) {
  if (s.format == Format::Same) {
    if (text == s.get(now)) return 0ll;
    return fail("can't set immutable config");
  }
  if (s.format == Format::YesNo) {
    if (equalsIgnoreCase(text, "yes")) return 1ll;
    if (equalsIgnoreCase(text, "no")) return 0ll;
    return fail("argument must be 'yes' or 'no'");
  }
  if (s.format == Format::Fsync) {
    for (std::size_t i = 0; i < std::size(kFsyncNames); ++i) {
      if (equalsIgnoreCase(text, kFsyncNames[i])) return static_cast<long long>(i);
    }
    return fail("argument(s) must be one of the following: everysec, always, no");
  }
  if (s.format == Format::Policy) {
    if (const auto policy = parseEvictionPolicy(text)) return static_cast<long long>(*policy);
    std::string names;
    for (const char* n : kEvictionPolicyNames) names += (names.empty() ? "" : ", ") + std::string(n);
    return fail("argument(s) must be one of the following: " + names);
  }
  if (s.format == Format::Events) {
    const auto flags = keyspace_events::parse(text);
    if (!flags) return fail("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
    return static_cast<long long>(*flags);
  }
  const auto v = s.format == Format::Memory ? parseMemory(text) : parseInteger(text);
  if (!v) {
    return fail(s.format == Format::Memory ? "argument must be a memory value"
                                           : "argument couldn't be parsed into an integer");
  }
  if (*v < s.min || *v > s.max) {
    return fail("argument must be between " + std::to_string(s.min) + " and " + std::to_string(s.max) + " inclusive");
  }
  return *v;
}

// The values of Redis's sensitive settings are not logged (CommandSpec::redacts).
bool configSetRedacts(std::span<const std::string_view> args, std::size_t index) {
  if (index < 3 || index % 2 == 0) return false;
  const std::string_view name = args[index - 1];
  return equalsIgnoreCase(name, "requirepass") || equalsIgnoreCase(name, "masterauth") ||
         equalsIgnoreCase(name, "masteruser");
}

}  // namespace

void configGet(CommandContext& ctx) {
  // A name as asked for (an exact one keeps the client's spelling, as in
  // Redis), each setting once per name.
  std::vector<std::pair<std::string_view, const Setting*>> matched;
  auto add = [&](std::string_view name, const Setting& s) {
    for (const auto& [n, setting] : matched) {
      if (setting == &s && equalsIgnoreCase(n, name)) return;
    }
    matched.emplace_back(name, &s);
  };
  for (std::size_t i = 2; i < ctx.args.size(); ++i) {
    const std::string_view pattern = ctx.args[i];
    const bool glob = pattern.find_first_of("[*?") != std::string_view::npos;
    for (const Setting& s : kSettings) {
      if (!glob) {
        if (equalsIgnoreCase(pattern, s.name) || (!s.alias.empty() && equalsIgnoreCase(pattern, s.alias))) {
          add(pattern, s);
        }
        continue;
      }
      if (globMatch(pattern, s.name, true)) add(s.name, s);
      if (!s.alias.empty() && globMatch(pattern, s.alias, true)) add(s.alias, s);
    }
  }
  ctx.reply.map(matched.size());
  for (const auto& [name, s] : matched) {
    ctx.reply.bulk(name);
    ctx.reply.bulk(s->get(ctx.worker.config()));
  }
}

void configSet(CommandContext& ctx) {
  const auto& a = ctx.args;
  if (a.size() % 2 != 0) return ctx.reply.error(kSyntaxError);
  Config next = ctx.worker.config();
  std::vector<const Setting*> seen;
  // Every name is checked before any value, as Redis does: an unknown
  // name anywhere wins over a bad value.
  for (std::size_t i = 2; i < a.size(); i += 2) {
    if (findSetting(a[i]) == nullptr) {
      return ctx.reply.error("ERR Unknown option or number of arguments for CONFIG SET - '" + std::string(a[i]) + "'");
    }
  }
  for (std::size_t i = 2; i < a.size(); i += 2) {
    const Setting* s = findSetting(a[i]);
    auto refuse = [&](std::string_view why) {
      ctx.reply.error("ERR CONFIG SET failed (possibly related to argument '" + std::string(a[i]) + "') - " +
                      std::string(why));
    };
    if (s->format == Format::Protected) return refuse("can't set protected config");
    if (s->set == nullptr && s->setText == nullptr) return refuse("can't set immutable config");
    if (std::find(seen.begin(), seen.end(), s) != seen.end()) return refuse("duplicate parameter");
    seen.push_back(s);
  }
  for (std::size_t i = 2; i < a.size(); i += 2) {
    const Setting* s = findSetting(a[i]);
    auto refuse = [&](std::string_view why) {
      ctx.reply.error("ERR CONFIG SET failed (possibly related to argument '" + std::string(s->name) + "') - " +
                      std::string(why));
    };
    if (s->setText != nullptr) {
      if (Status set = s->setText(next, a[i + 1]); !set) return refuse(set.error());
      continue;
    }
    auto value = parseValue(*s, a[i + 1], next);
    if (!value) return refuse(value.error());
    s->set(next, *value);
  }
  ctx.worker.applyConfig(next);
  ctx.reply.ok();
}

void configResetstat(CommandContext& ctx) {
  ctx.worker.stats().fill(0);
  // The per-command latency histograms too (INFO latencystats, LATENCY
  // HISTOGRAM), as Redis's resetCommandTableStats.
  if (WorkerStats* stats = ctx.worker.workerStats()) {
    stats->forOwnSlot([](metrics::WorkerMetrics& block) {
      for (metrics::CommandLatency& c : block.commandLatency) c.reset();
    });
  }
  ctx.reply.ok();
}

void configRewrite(CommandContext& ctx) {
  ctx.reply.error("ERR CONFIG REWRITE is not supported: keyloop's configuration is its YAML file (" +
                  ctx.worker.config().path + "); edit it and reload");
}

void configHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GET <pattern>",
      "    Return parameters matching the glob-like <pattern> and their values.",
      "SET <directive> <value>",
      "    Set the configuration <directive> to <value>.",
      "RESETSTAT",
      "    Reset statistics reported by the INFO command.",
      "REWRITE",
      "    Rewrite the configuration file.",
      "HELP",
      "    Prints this help.",
  };
  replyHelp(ctx, kLines);
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> configCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kConfigSubcommands[] = {
      {.name = "get", .arity = -3, .flags = kAdmin | kNoScript,
       .keyFlags = "RO access", .handler = configGet},
      {.name = "help", .arity = 2, .flags = 0,
       .handler = configHelp},
      {.name = "resetstat", .arity = 2, .flags = kAdmin | kNoScript,
       .cross = CrossWorker::BroadcastSame, .handler = configResetstat},
      {.name = "rewrite", .arity = 2, .flags = kAdmin | kNoScript,
       .handler = configRewrite},
      {.name = "set", .arity = -4, .flags = kAdmin | kNoScript,
       .cross = CrossWorker::BroadcastSame, .handler = configSet, .redacts = configSetRedacts},
  };
  static constexpr CommandSpec kRows[] = {
      {.name = "config", .arity = -2, .flags = 0,
       .subcommands = kConfigSubcommands},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
