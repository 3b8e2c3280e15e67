// Commands about values as objects: OBJECT, MEMORY, COPY, DUMP, RESTORE.
#include <malloc.h>

#include "worker/commands/commands.h"
#include "worker/keyspace/field_expiry.h"
#include "worker/execution/command_families.h"
#include "worker/keyspace/eviction.h"
#include "worker/persistence/dump.h"
#include "worker/persistence/value_codec.h"
#include "worker/keyspace/image.h"

namespace keyloop::commands {

namespace {

constexpr std::string_view kNoLfu =
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching "
    "between policies at runtime LRU and LFU data will take some time to adjust.";

// OBJECT ENCODING's name, as Redis's strEncoding() names the same value.
std::string_view encodingName(const Store::Entry* e, const collection::Limits& hash) {
  const std::string_view v = Store::value(e);
  switch (Store::kind(e)) {
    case Kind::String:
      if (v.size() <= 20 && parseInteger(v)) return "int";
      return v.size() <= 44 ? "embstr" : "raw";
    case Kind::StringText: return v.size() <= 44 ? "embstr" : "raw";
    case Kind::StringRaw: return "raw";
    case Kind::HashPacked:
    case Kind::SetPacked:
    case Kind::ZsetPacked: return "listpack";
    case Kind::SetInts: return "intset";
    case Kind::ListPacked:
    case Kind::ListChunked: return "quicklist";  // Redis 7.0 has no other list encoding
    case Kind::ZsetTree: return "skiplist";
    case Kind::Stream: return "stream";
    case Kind::HashTtl:
      return field_ttl::fitsListpack(e, hash.maxPackedEntries, hash.maxPackedValue) ? "listpackex" : "hashtable";
    default: return "hashtable";
  }
}

// Redis shares the objects of the integers 0..9999 (OBJ_SHARED_INTEGERS).
bool isSharedInteger(const Store::Entry* e) {
  if (Store::kind(e) != Kind::String) return false;
  const auto v = parseInteger(Store::value(e));
  return v && *v >= 0 && *v < 10000 && Store::value(e).size() <= 20;
}

Store::Entry* objectOrNull(CommandContext& ctx) {
  Store::Entry* e = lookupQuietly(ctx, ctx.args[2]);
  if (e == nullptr) ctx.reply.null();
  return e;
}

rdb::Limits limitsOf(const CommandContext& ctx) { return rdb::limitsOf(ctx.worker.config().encoding); }

}  // namespace

void objectEncoding(CommandContext& ctx) {
  if (Store::Entry* e = objectOrNull(ctx)) ctx.reply.bulk(encodingName(e, hashLimits(ctx)));
}

void objectRefcount(CommandContext& ctx) {
  if (Store::Entry* e = objectOrNull(ctx)) ctx.reply.integer(isSharedInteger(e) ? 2147483647 : 1);
}

void objectIdletime(CommandContext& ctx) {
  Store::Entry* e = objectOrNull(ctx);
  if (e == nullptr) return;
  if (ctx.store.lfu()) {
    return ctx.reply.error("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
                           "switching between policies at runtime LRU and LFU data will take some time to adjust.");
  }
  ctx.reply.integer(ctx.store.idleSeconds(e));
}

void objectFreq(CommandContext& ctx) {
  Store::Entry* e = objectOrNull(ctx);
  if (e == nullptr) return;
  if (!ctx.store.lfu()) return ctx.reply.error(kNoLfu);
  ctx.reply.integer(ctx.store.frequency(e));
}

void objectHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "ENCODING <key>",
      "    Return the kind of internal representation used in order to store the value",
      "    associated with a <key>.",
      "FREQ <key>",
      "    Return the access frequency index of the <key>. The returned integer is",
      "    proportional to the logarithm of the recent access frequency of the key.",
      "IDLETIME <key>",
      "    Return the idle time of the <key>, that is the approximated number of",
      "    seconds elapsed since the last access to the key.",
      "REFCOUNT <key>",
      "    Return the number of references of the value associated with the specified",
      "    <key>.",
      "HELP",
      "    Prints this help.",
  };
  replyHelp(ctx, kLines);
}

void memoryUsage(CommandContext& ctx) {
  for (std::size_t j = 3; j < ctx.args.size(); j += 2) {
    if (!equalsIgnoreCase(ctx.args[j], "samples") || j + 1 >= ctx.args.size()) return ctx.reply.error(kSyntaxError);
    auto n = parseInteger(ctx.args[j + 1]);
    if (!n) return ctx.reply.error(kNotInteger);
    if (*n < 0) return ctx.reply.error(kSyntaxError);
  }
  Store::Entry* e = lookupQuietly(ctx, ctx.args[2]);
  if (e == nullptr) return ctx.reply.null();
  ctx.reply.integer(static_cast<long long>(memoryOf(e)));
}

namespace {
// Every worker's totals (the row gathers them), or this worker's alone.
ServerStats summedTotals(const CommandContext& ctx) {
  if (ctx.workerStats.empty()) return ctx.worker.totals();
  ServerStats sum{};
  for (const ServerStats& w : ctx.workerStats) {
    for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += w[i];
  }
  return sum;
}
}  // namespace

void memoryDoctor(CommandContext& ctx) {
  // Redis's getMemoryDoctorReport, for the figures keyloop has: every
  // worker's (the row gathers their totals).
  const ServerStats st = summedTotals(ctx);
  const std::uint64_t used = st[kUsedMemory], rss = st[kResidentBytes];
  if (used < 5 * 1024 * 1024) {
    return ctx.reply.verbatim(
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these "
        "conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back "
        "to our programming as soon as I finished rebooting.\n");
  }
  std::string issues;
  if (static_cast<double>(rss) / static_cast<double>(used) > 1.4 && rss - used > (10u << 20)) {
    issues += " * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means "
              "that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations "
              "Redis performed). This problem is usually due either to a large peak memory (check if there is a peak "
              "memory entry above in the report) or may result from a workload that causes the allocator to fragment "
              "memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are "
              "using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is "
              "\"libc\".\n\n";
  }
  if (ctx.worker.scriptCache().scripts > 1000) {
    issues += " * Many scripts: There seem to be many cached scripts in this instance (more than 1000). This may be "
              "because scripts are generated and `EVAL`ed, instead of being parameterized (with KEYS and ARGV), `SCRIPT "
              "LOAD`ed and `EVALSHA`ed. Unless `SCRIPT FLUSH` is called periodically, the scripts' caches may end up "
              "consuming most of your memory.\n\n";
  }
  if (issues.empty()) {
    return ctx.reply.verbatim(
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n");
  }
  ctx.reply.verbatim("Sam, I detected a few issues in this Redis instance memory implants:\n\n" + issues +
                     "I'm here to keep you safe, Sam. I want to help you.\n");
}


// Redis 7.0's getMemoryOverheadData, in keyloop's terms: the heap and the
// peak are every worker's added up; the tables' overhead is each database's
// bucket arrays; libc reports no allocator figures beyond what is in use.
void memoryStats(CommandContext& ctx) {
  const ServerStats st = summedTotals(ctx);
  const auto used = static_cast<double>(st[kUsedMemory]), rss = static_cast<double>(st[kResidentBytes]);
  const std::uint64_t startup = st[kStartupMemory], peak = std::max(st[kPeakMemory], st[kUsedMemory]);
  const WorkerServices::ScriptCacheFigures scripts = ctx.worker.scriptCache();
  std::vector<std::size_t> dbs;
  std::uint64_t overhead = startup + st[kClientsMemory] + st[kAofBuffer] + scripts.memoryBytes;
  for (std::size_t db = 0; db < kDatabaseSlots; ++db) {
    if (st[kKeysByDb + db] == 0) continue;
    dbs.push_back(db);
    overhead += st[kTableBytesByDb + db] + st[kExpiresBytesByDb + db];
  }
  const std::uint64_t net = st[kUsedMemory] > startup ? st[kUsedMemory] - startup : 0;
  const std::uint64_t dataset = st[kUsedMemory] > overhead ? st[kUsedMemory] - overhead : 0;
  auto count = [&](std::string_view name, std::uint64_t n) {
    ctx.reply.bulk(name);
    ctx.reply.integer(static_cast<long long>(n));
  };
  auto ratio = [&](std::string_view name, double n) {
    ctx.reply.bulk(name);
    ctx.reply.doubleValue(n);
  };
  ctx.reply.map(27 + dbs.size());
  count("peak.allocated", peak);
  count("total.allocated", st[kUsedMemory]);
  count("startup.allocated", startup);
  count("replication.backlog", 0);
  count("clients.slaves", 0);
  count("clients.normal", st[kClientsMemory]);
  count("cluster.links", 0);
  count("aof.buffer", st[kAofBuffer]);
  count("lua.caches", scripts.memoryBytes);
  count("functions.caches", 0);
  for (std::size_t db : dbs) {
    ctx.reply.bulk("db." + std::to_string(db));
    ctx.reply.map(3);
    count("overhead.hashtable.main", st[kTableBytesByDb + db]);
    count("overhead.hashtable.expires", st[kExpiresBytesByDb + db]);
    count("overhead.hashtable.slot-to-keys", 0);
  }
  count("overhead.total", overhead);
  count("keys.count", st[kKeys]);
  count("keys.bytes-per-key", st[kKeys] != 0 ? net / st[kKeys] : 0);
  count("dataset.bytes", dataset);
  ratio("dataset.percentage", net != 0 ? static_cast<double>(dataset) * 100 / static_cast<double>(net) : 0);
  ratio("peak.percentage", peak != 0 ? used * 100 / static_cast<double>(peak) : 0);
  count("allocator.allocated", st[kUsedMemory]);
  count("allocator.active", st[kUsedMemory]);
  count("allocator.resident", st[kResidentBytes]);
  ratio("allocator-fragmentation.ratio", 1);
  count("allocator-fragmentation.bytes", 0);
  ratio("allocator-rss.ratio", used > 0 ? rss / used : 0);
  count("allocator-rss.bytes", rss > used ? st[kResidentBytes] - st[kUsedMemory] : 0);
  ratio("rss-overhead.ratio", 1);
  count("rss-overhead.bytes", 0);
  ratio("fragmentation", used > 0 ? rss / used : 0);
  count("fragmentation.bytes", rss > used ? st[kResidentBytes] - st[kUsedMemory] : 0);
}

void memoryMallocStats(CommandContext& ctx) { ctx.reply.verbatim("Stats not supported for the current allocator"); }

void memoryPurge(CommandContext& ctx) {
  ::malloc_trim(0);
  ctx.reply.ok();
}

void memoryHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "DOCTOR",
      "    Return memory problems reports.",
      "MALLOC-STATS",
      "    Return internal statistics report from the memory allocator.",
      "PURGE",
      "    Attempt to purge dirty pages for reclamation by the allocator.",
      "STATS",
      "    Return information about the memory usage of the server.",
      "USAGE <key> [SAMPLES <count>]",
      "    Return memory in bytes used by <key> and its value. Nested values are",
      "    sampled up to <count> times (default: 5, 0 means sample all).",
      "HELP",
      "    Prints this help.",
  };
  replyHelp(ctx, kLines);
}

void copy(CommandContext& ctx) {
  const auto& a = ctx.args;
  bool replace = false;
  int db = ctx.db;
  for (std::size_t j = 3; j < a.size(); ++j) {
    if (equalsIgnoreCase(a[j], "replace")) {
      replace = true;
    } else if (equalsIgnoreCase(a[j], "db") && j + 1 < a.size()) {
      const auto chosen = databaseArgument(ctx, a[++j]);
      if (!chosen) return;
      Databases* databases = ctx.worker.databases();
      if (databases != nullptr ? !databases->valid(*chosen) : *chosen != 0) {
        return ctx.reply.error("ERR DB index is out of range");
      }
      db = *chosen;
    } else {
      return ctx.reply.error(kSyntaxError);
    }
  }
  if (ctx.worker.config().cluster.enabled && (ctx.db != 0 || db != 0)) {
    return ctx.reply.error("ERR Copying to another database is not allowed in cluster mode");
  }
  if (db == ctx.db && a[1] == a[2]) return ctx.reply.error("ERR source and destination objects are the same");
  Store* to = &ctx.store;
  if (db != ctx.db && (to = otherDatabase(ctx, db)) == nullptr) return;
  const Store::Entry* source = lookupRead(ctx, a[1]);
  if (source == nullptr) return ctx.reply.integer(0);
  if (to->find(a[2], ctx.nowMs) != nullptr && !replace) return ctx.reply.integer(0);
  const std::string image = imageOf(source);
  const std::int64_t expireAt = Store::expireAt(source);
  if (db != ctx.db) keepForSnapshot(ctx, *to, a[2]);
  restoreImage(*to, a[2], image, expireAt);
  if (db != ctx.db) ctx.wroteIn(db, a[2]);
  ctx.raiseIn(db, 'n', "new", a[2]);  // Redis's dbAdd, even over a replaced key
  ctx.raiseIn(db, 'g', "copy_to", a[2]);
  ctx.reply.integer(1);
}

void dump(CommandContext& ctx) {
  const Store::Entry* e = lookupRead(ctx, ctx.args[1]);
  e ? ctx.reply.bulk(rdb::dumpPayload(e)) : ctx.reply.null();
}

void restore(CommandContext& ctx) {
  const auto& a = ctx.args;
  bool replace = false, absTtl = false;
  long long idle = -1, freq = -1;
  for (std::size_t j = 4; j < a.size(); ++j) {
    const bool more = j + 1 < a.size();
    if (equalsIgnoreCase(a[j], "replace")) {
      replace = true;
    } else if (equalsIgnoreCase(a[j], "absttl")) {
      absTtl = true;
    } else if (equalsIgnoreCase(a[j], "idletime") && more && freq == -1) {
      auto n = parseInteger(a[++j]);
      if (!n) return ctx.reply.error(kNotInteger);
      if (*n < 0) return ctx.reply.error("ERR Invalid IDLETIME value, must be >= 0");
      idle = *n;
    } else if (equalsIgnoreCase(a[j], "freq") && more && idle == -1) {
      auto n = parseInteger(a[++j]);
      if (!n) return ctx.reply.error(kNotInteger);
      if (*n < 0 || *n > 255) return ctx.reply.error("ERR Invalid FREQ value, must be >= 0 and <= 255");
      freq = *n;
    } else {
      return ctx.reply.error(kSyntaxError);
    }
  }
  if (!replace && lookupWrite(ctx, a[1]) != nullptr) return ctx.reply.error("BUSYKEY Target key name already exists.");
  auto ttl = parseInteger(a[2]);
  if (!ttl) return ctx.reply.error(kNotInteger);
  if (*ttl < 0) return ctx.reply.error("ERR Invalid TTL value, must be >= 0");
  auto value = rdb::verifiedValue(a[3]);
  if (!value) return ctx.reply.error("ERR DUMP payload version or checksum are wrong");
  Store scratch(1);
  Store::Entry* loaded = rdb::readValue(*value, scratch, a[1], limitsOf(ctx));
  if (loaded == nullptr) return ctx.reply.error("ERR Bad data format");
  long long expireAt = *ttl;
  if (expireAt != 0 && !absTtl) expireAt += ctx.nowMs;
  if (replace) ctx.store.erase(a[1]);
  if (expireAt != 0 && expireAt <= ctx.nowMs) {  // already expired: only the delete happens
    replace ? ctx.propagateAs({"DEL", std::string(a[1])}) : ctx.changedNothing();
    return ctx.reply.ok();
  }
  if (expireAt != 0 && !absTtl) {
    // A relative TTL propagates as the absolute time (as Redis's RESTORE ... ABSTTL).
    std::vector<std::string> absolute(a.begin(), a.end());
    absolute[2] = std::to_string(expireAt);
    absolute.emplace_back("ABSTTL");
    ctx.propagateAs(std::move(absolute));
  }
  Store::Entry* e = ctx.store.adopt(scratch, loaded, a[1]);
  if (expireAt != 0) ctx.store.setExpire(e, expireAt);
  // The hint the policy reads (Redis's objectSetLRUOrLFU); a new key's otherwise.
  if (ctx.store.lfu()) ctx.store.setFrequency(e, static_cast<std::uint8_t>(freq >= 0 ? freq : 5));
  else ctx.store.setIdle(e, idle > 0 ? idle : 0);
  ctx.reply.ok();
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> objectCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kMemorySubcommands[] = {
      {.name = "doctor", .arity = 2, .flags = 0,
       .cross = CrossWorker::GatherTotals, .handler = memoryDoctor},
      {.name = "help", .arity = 2, .flags = 0,
       .handler = memoryHelp},
      {.name = "malloc-stats", .arity = 2, .flags = 0,
       .handler = memoryMallocStats},
      {.name = "purge", .arity = 2, .flags = 0,
       .cross = CrossWorker::BroadcastSame, .handler = memoryPurge},
      {.name = "stats", .arity = 2, .flags = 0,
       .cross = CrossWorker::GatherTotals, .handler = memoryStats},
      {.name = "usage", .arity = -3, .flags = kReadonly,
       .keys = {2, 2, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO", .handler = memoryUsage},
  };
  static constexpr CommandSpec kObjectSubcommands[] = {
      {.name = "encoding", .arity = 3, .flags = kReadonly, .acl = acl::kKeyspace,
       .keys = {2, 2, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO", .handler = objectEncoding},
      {.name = "freq", .arity = 3, .flags = kReadonly, .acl = acl::kKeyspace,
       .keys = {2, 2, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO", .handler = objectFreq},
      {.name = "help", .arity = 2, .flags = 0, .acl = acl::kKeyspace,
       .handler = objectHelp},
      {.name = "idletime", .arity = 3, .flags = kReadonly, .acl = acl::kKeyspace,
       .keys = {2, 2, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO", .handler = objectIdletime},
      {.name = "refcount", .arity = 3, .flags = kReadonly, .acl = acl::kKeyspace,
       .keys = {2, 2, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO", .handler = objectRefcount},
  };
  static constexpr CommandSpec kRows[] = {
      {.name = "copy", .arity = -3, .flags = kWrite, .acl = acl::kKeyspace,
       .keys = {1, 2, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RO access;OW update", .handler = copy},
      {.name = "dump", .arity = 2, .flags = kReadonly, .acl = acl::kKeyspace,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = dump},
      {.name = "memory", .arity = -2, .flags = 0,
       .subcommands = kMemorySubcommands},
      {.name = "object", .arity = -2, .flags = 0,
       .subcommands = kObjectSubcommands},
      {.name = "restore", .arity = -4, .flags = kWrite, .acl = acl::kKeyspace | acl::kDangerous,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "OW update", .handler = restore, .events = {.type = 'g', .event = "restore"}},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
