// Server introspection: COMMAND, INFO, TIME.
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>


#include "worker/command_docs.h"
#include "worker/commands/commands.h"

namespace keyloop::commands {

namespace {

void replyFlags(CommandContext& ctx, const CommandSpec& spec) {
  std::vector<std::string_view> flags;
  if (spec.flags & kWrite) flags.push_back("write");
  if (spec.flags & kReadonly) flags.push_back("readonly");
  if (spec.flags & kWrite) flags.push_back("denyoom");
  if (spec.flags & kAdmin) flags.push_back("admin");
  if (spec.flags & kNoAuth) flags.push_back("no_auth");
  if (spec.flags & kFast) flags.push_back("fast");
  ctx.reply.set(flags.size());
  for (std::string_view f : flags) ctx.reply.simple(f);
}

void replyCommandInfo(CommandContext& ctx, const CommandSpec& spec, std::string_view name) {
  ctx.reply.array(10);
  ctx.reply.bulk(name);
  ctx.reply.integer(spec.arity);
  replyFlags(ctx, spec);
  ctx.reply.integer(spec.keys.first);
  ctx.reply.integer(spec.keys.last);
  ctx.reply.integer(spec.keys.step);
  ctx.reply.set(1);
  ctx.reply.simple("@" + std::string(spec.group));
  ctx.reply.set(0);  // tips
  ctx.reply.array(0);  // key specs: clients fall back to first/last/step
  ctx.reply.array(spec.subcommands.size());
  for (const CommandSpec& sub : spec.subcommands) {
    replyCommandInfo(ctx, sub, std::string(name) + "|" + std::string(sub.name));
  }
}

void replyCommandDocs(CommandContext& ctx, const CommandSpec& spec, std::string_view name) {
  ctx.reply.bulk(name);
  const bool hasArguments = !spec.syntax.empty();
  ctx.reply.map(3 + hasArguments + !spec.subcommands.empty());
  ctx.reply.bulk("summary");
  ctx.reply.bulk(spec.summary);
  ctx.reply.bulk("since");
  ctx.reply.bulk(spec.since);
  ctx.reply.bulk("group");
  ctx.reply.bulk(spec.group);
  if (hasArguments) {
    ctx.reply.bulk("arguments");
    replyArguments(ctx.reply, spec.syntax);
  }
  if (!spec.subcommands.empty()) {
    ctx.reply.bulk("subcommands");
    ctx.reply.map(spec.subcommands.size());
    for (const CommandSpec& sub : spec.subcommands) {
      replyCommandDocs(ctx, sub, std::string(name) + "|" + std::string(sub.name));
    }
  }
}

const CommandSpec* findByFullName(std::string_view name) {
  const std::size_t bar = name.find('|');
  const CommandSpec* spec = findCommand(name.substr(0, bar));
  if (spec == nullptr || bar == std::string_view::npos) return spec;
  return findSubcommand(*spec, name.substr(bar + 1));
}

// COMMAND GETKEYS[ANDFLAGS] command arg...: the keys the table declares,
// with Redis's errors for what has none.
void replyKeys(CommandContext& ctx, bool withFlags) {
  const auto request = ctx.args.subspan(2);
  const ResolvedCommand resolved = resolveCommand(request);
  if (resolved.spec == nullptr) return ctx.reply.error("ERR Invalid command specified");
  const CommandSpec& spec = *resolved.spec;
  if (!arityAllows(spec, request.size())) {
    return ctx.reply.error("ERR Invalid number of arguments specified for command");
  }
  std::vector<std::pair<std::string_view, std::size_t>> keys;  // (key, key-spec group)
  forEachKey(spec, request, [&](std::size_t i, std::size_t group) {
    keys.emplace_back(request[i], group);
    return true;
  });
  if (keys.empty()) return ctx.reply.error("ERR The command has no key arguments");
  const std::string_view declared = spec.variableKeyFlags ? spec.variableKeyFlags(request) : spec.keyFlags;
  std::vector<std::string_view> groups = splitOn(declared, ';');
  ctx.reply.array(keys.size());
  for (const auto& [key, group] : keys) {
    if (!withFlags) {
      ctx.reply.bulk(key);
      continue;
    }
    const std::vector<std::string_view> flags =
        splitOn(group < groups.size() ? groups[group] : std::string_view(), ' ');
    ctx.reply.array(2);
    ctx.reply.bulk(key);
    ctx.reply.array(flags.size());
    for (std::string_view f : flags) ctx.reply.simple(f);
  }
}

}  // namespace

void commandGetkeys(CommandContext& ctx) { replyKeys(ctx, false); }
void commandGetkeysAndFlags(CommandContext& ctx) { replyKeys(ctx, true); }

void command(CommandContext& ctx) {
  ctx.reply.array(allCommands().size());
  for (const CommandSpec& spec : allCommands()) replyCommandInfo(ctx, spec, spec.name);
}

void commandCount(CommandContext& ctx) { ctx.reply.integer(static_cast<long long>(allCommands().size())); }

void commandInfo(CommandContext& ctx) {
  if (ctx.args.size() == 2) return command(ctx);
  ctx.reply.array(ctx.args.size() - 2);
  for (std::size_t i = 2; i < ctx.args.size(); ++i) {
    const CommandSpec* spec = findByFullName(toLower(ctx.args[i]));
    spec ? replyCommandInfo(ctx, *spec, toLower(ctx.args[i])) : ctx.reply.nullArray();
  }
}

void commandDocs(CommandContext& ctx) {
  if (ctx.args.size() == 2) {
    ctx.reply.map(allCommands().size());
    for (const CommandSpec& spec : allCommands()) replyCommandDocs(ctx, spec, spec.name);
    return;
  }
  std::vector<std::pair<const CommandSpec*, std::string>> found;
  for (std::size_t i = 2; i < ctx.args.size(); ++i) {
    const std::string name = toLower(ctx.args[i]);
    if (const CommandSpec* spec = findByFullName(name)) found.emplace_back(spec, name);
  }
  ctx.reply.map(found.size());
  for (const auto& [spec, name] : found) replyCommandDocs(ctx, *spec, name);
}

void commandHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "(no subcommand)",
      "    Return details about all Redis commands.",
      "COUNT",
      "    Return the total number of commands in this Redis server.",
      "INFO [<command-name> ...]",
      "    Return details about multiple Redis commands.",
      "DOCS [<command-name> ...]",
      "    Return documentation details about multiple Redis commands.",
      "HELP",
      "    Print this help.",
  };
  replyHelp(ctx, kLines);
}

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

// keyloop's own section: how the work is spread over the workers.
std::string workersSection(CommandContext& ctx) {
  std::vector<ServerStats> own;
  std::span<const ServerStats> workers = ctx.workerStats;
  if (workers.empty()) {
    own.push_back(ctx.worker.totals());
    workers = own;
  }
  std::string s;
  for (std::size_t w = 0; w < workers.size(); ++w) {
    s += "worker" + std::to_string(w) + ":keys=" + std::to_string(workers[w][kKeys]) +
         ",expires=" + std::to_string(workers[w][kExpires]) +
         ",clients=" + std::to_string(workers[w][kConnectedClients]) +
         ",commands=" + std::to_string(workers[w][kCommandsProcessed]) + "\r\n";
  }
  return s;
}

// One INFO section: the name it is asked by, the title it prints, its text.
struct Section {
  std::string_view name, title;
  std::string (*build)(CommandContext&);
};

std::string serverSection(CommandContext& ctx) {
  utsname uts{};
  ::uname(&uts);
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
      ctx.worker.now() - ctx.worker.startedAt()).count();
  const Config& c = ctx.worker.config();
  std::string s;
  s += "redis_version:" + std::string(kRedisCompatibleVersion) + "\r\n";
  s += "keyloop_version:" + std::string(kKeyloopVersion) + "\r\n";
  s += ctx.worker.config().cluster.enabled ? "redis_mode:cluster\r\n" : "redis_mode:standalone\r\n";
  s += "os:" + std::string(uts.sysname) + " " + uts.release + " " + uts.machine + "\r\n";
  s += "arch_bits:64\r\n";
  s += "multiplexing_api:epoll\r\n";
  s += "process_id:" + std::to_string(::getpid()) + "\r\n";
  s += "tcp_port:" + std::to_string(ctx.worker.port()) + "\r\n";
  s += "uptime_in_seconds:" + std::to_string(uptime) + "\r\n";
  s += "uptime_in_days:" + std::to_string(uptime / 86400) + "\r\n";
  s += "hz:" + std::to_string(c.expireHz) + "\r\n";
  s += "executable:" + std::string("keyloop") + "\r\n";
  s += "config_file:" + c.path + "\r\n";
  return s;
}

std::string clientsSection(CommandContext& ctx) {
  std::size_t maxInput = 0, maxOutput = 0;
  for (const auto& [id, client] : ctx.worker.clients()) {
    maxInput = std::max(maxInput, client->queryBufferBytes());
    maxOutput = std::max(maxOutput, client->outputBufferBytes());
  }
  std::string s;
  s += "connected_clients:" + std::to_string(totalsOf(ctx)[kConnectedClients]) + "\r\n";
  s += "maxclients:" + std::to_string(ctx.worker.config().maxClients) + "\r\n";
  s += "client_recent_max_input_buffer:" + std::to_string(maxInput) + "\r\n";
  s += "client_recent_max_output_buffer:" + std::to_string(maxOutput) + "\r\n";
  s += "blocked_clients:0\r\n";
  return s;
}

std::string bytesHuman(std::size_t bytes) {
  char buf[64];
  const double b = static_cast<double>(bytes);
  if (b < 1024) std::snprintf(buf, sizeof buf, "%zuB", bytes);
  else if (b < 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.2fK", b / 1024);
  else if (b < 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.2fM", b / 1024 / 1024);
  else std::snprintf(buf, sizeof buf, "%.2fG", b / 1024 / 1024 / 1024);
  return buf;
}

std::string memorySection(CommandContext& ctx) {
  const ServerStats st = totalsOf(ctx);
  const std::size_t used = st[kUsedMemory], rss = st[kResidentBytes];
  std::string s;
  s += "used_memory:" + std::to_string(used) + "\r\n";
  s += "used_memory_human:" + bytesHuman(used) + "\r\n";
  s += "used_memory_rss:" + std::to_string(rss) + "\r\n";
  s += "used_memory_rss_human:" + bytesHuman(rss) + "\r\n";
  s += "maxmemory:0\r\nmaxmemory_human:0B\r\nmaxmemory_policy:noeviction\r\n";
  s += "mem_allocator:libc\r\n";
  return s;
}

std::string statsSection(CommandContext& ctx) {
  const ServerStats st = totalsOf(ctx);
  const LagMonitor& lag = ctx.worker.lag();
  char lagLine[160];
  std::snprintf(lagLine, sizeof lagLine,
                "event_loop_lag_p50_seconds:%.6f\r\nevent_loop_lag_p99_seconds:%.6f\r\n"
                "event_loop_lag_max_seconds:%.6f\r\n",
                lag.p50(), lag.p99(), lag.maxSeconds());
  std::string s;
  s += "total_connections_received:" + std::to_string(st[kConnectionsReceived]) + "\r\n";
  s += "total_commands_processed:" + std::to_string(st[kCommandsProcessed]) + "\r\n";
  s += "total_net_input_bytes:" + std::to_string(st[kNetInputBytes]) + "\r\n";
  s += "total_net_output_bytes:" + std::to_string(st[kNetOutputBytes]) + "\r\n";
  s += "rejected_connections:" + std::to_string(st[kConnectionsRejected]) + "\r\n";
  s += "expired_keys:" + std::to_string(st[kExpiredKeys]) + "\r\n";
  s += "keyspace_hits:" + std::to_string(st[kKeyspaceHits]) + "\r\n";
  s += "keyspace_misses:" + std::to_string(st[kKeyspaceMisses]) + "\r\n";
  s += "total_error_replies:" + std::to_string(st[kCommandErrors]) + "\r\n";
  s += lagLine;
  return s;
}

std::string clusterSection(CommandContext& ctx) {
  return ctx.worker.config().cluster.enabled ? "cluster_enabled:1\r\n" : "cluster_enabled:0\r\n";
}

std::string keyspaceSection(CommandContext& ctx) {
  const ServerStats st = totalsOf(ctx);
  if (st[kKeys] == 0) return {};
  return "db0:keys=" + std::to_string(st[kKeys]) + ",expires=" + std::to_string(st[kExpires]) + ",avg_ttl=0\r\n";
}

// In the order INFO prints them.
constexpr Section kSections[] = {
    {"server", "Server", serverSection},       {"clients", "Clients", clientsSection},
    {"memory", "Memory", memorySection},       {"stats", "Stats", statsSection},
    {"cluster", "Cluster", clusterSection},    {"keyspace", "Keyspace", keyspaceSection},
    {"workers", "Workers", workersSection},
};
// Names that ask for every section.
constexpr std::string_view kEverySection[] = {"all", "default", "everything"};

}  // namespace

void info(CommandContext& ctx) {
  bool all = ctx.args.size() == 1;
  std::vector<std::string> wanted;
  for (std::size_t i = 1; i < ctx.args.size(); ++i) {
    std::string name = toLower(ctx.args[i]);
    all = all || std::find(std::begin(kEverySection), std::end(kEverySection), name) != std::end(kEverySection);
    wanted.push_back(std::move(name));
  }
  std::string text;
  for (const Section& section : kSections) {
    if (!all && std::find(wanted.begin(), wanted.end(), section.name) == wanted.end()) continue;
    if (!text.empty()) text += "\r\n";
    text += "# " + std::string(section.title) + "\r\n" + section.build(ctx);
  }
  ctx.reply.verbatim(text);
}

void totals(CommandContext& ctx) {
  const ServerStats all = ctx.worker.totals();
  ctx.reply.array(all.size());
  for (std::uint64_t value : all) ctx.reply.integer(static_cast<long long>(value));
}

void time(CommandContext& ctx) {
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  ctx.reply.array(2);
  ctx.reply.bulk(std::to_string(tv.tv_sec));
  ctx.reply.bulk(std::to_string(tv.tv_usec));
}

}  // namespace keyloop::commands
