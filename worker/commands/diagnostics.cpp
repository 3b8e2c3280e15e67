// What operators ask of a slow server: SLOWLOG (each worker's slow log,
// merged by the shared entry ids) and LATENCY (the latency monitor's events
// and the per-command histograms, read from every worker's shared block).
#include <climits>

#include "worker/commands/commands.h"
#include "worker/commands/latency_report.h"
#include "worker/execution/command_families.h"
#include "worker/execution/slowlog.h"
#include "worker/execution/worker_stats.h"

namespace keyloop::commands {

namespace {

Slowlog* slowlogOf(CommandContext& ctx) { return ctx.worker.slowlog(); }

// Every worker's series of each event that has one, merged.
LatencyEvents mergedEvents(CommandContext& ctx) {
  LatencyEvents events;
  WorkerStats* stats = ctx.worker.workerStats();
  for (std::size_t e = 0; e < metrics::kLatencyEvents.size(); ++e) {
    metrics::MergedSeries merged;
    if (stats != nullptr) {
      stats->forEachBlock([&](const metrics::WorkerMetrics& block) { merged.add(block.latencyEvents[e]); });
    }
    if (!merged.empty()) events.emplace_back(metrics::kLatencyEvents[e], std::move(merged));
  }
  return events;
}

const metrics::MergedSeries* seriesNamed(const LatencyEvents& events, std::string_view name) {
  for (const auto& [event, series] : events) {
    if (event == name) return &series;
  }
  return nullptr;
}

}  // namespace

void slowlogGet(CommandContext& ctx) {
  long long count = 10;
  if (ctx.args.size() == 3) {
    const auto n = parseInteger(ctx.args[2]);
    if (!n || *n < -1) return ctx.reply.error("ERR count should be greater than or equal to -1");
    count = *n;
  } else if (ctx.args.size() > 3) {
    return ctx.reply.error(subcommandSyntaxError(ctx.args[1], "SLOWLOG"));
  }
  Slowlog* log = slowlogOf(ctx);
  if (log == nullptr) return ctx.reply.array(0);
  log->write(ctx.reply, count < 0 ? SIZE_MAX : static_cast<std::size_t>(count));
}

void slowlogLen(CommandContext& ctx) {
  // Alone, the length; one worker's part of a broadcast, its entries' ids
  // (the merge counts the newest slowlog-max-len of every worker's).
  Slowlog* log = slowlogOf(ctx);
  if (ctx.client != nullptr || log == nullptr) {
    return ctx.reply.integer(log != nullptr ? static_cast<long long>(log->size()) : 0);
  }
  log->writeIds(ctx.reply);
}

void slowlogReset(CommandContext& ctx) {
  if (Slowlog* log = slowlogOf(ctx)) log->reset();
  ctx.reply.ok();
}

void slowlogHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GET [<count>]",
      "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
      "    Entries are made of:",
      "    id, timestamp, time in microseconds, arguments array, client IP and port,",
      "    client name",
      "LEN",
      "    Return the length of the slowlog.",
      "RESET",
      "    Reset the slowlog.",
      "HELP",
      "    Prints this help.",
  };
  replyHelp(ctx, kLines);
}

void latencyLatest(CommandContext& ctx) {
  const LatencyEvents events = mergedEvents(ctx);
  ctx.reply.array(events.size());
  for (const auto& [event, series] : events) {
    const auto& [second, ms] = *series.samples.rbegin();
    ctx.reply.array(4);
    ctx.reply.bulk(event);
    ctx.reply.integer(second);
    ctx.reply.integer(static_cast<long long>(ms));
    ctx.reply.integer(static_cast<long long>(series.max));
  }
}

void latencyHistory(CommandContext& ctx) {
  const LatencyEvents events = mergedEvents(ctx);
  const metrics::MergedSeries* series = seriesNamed(events, ctx.args[2]);
  if (series == nullptr) return ctx.reply.array(0);
  ctx.reply.array(series->samples.size());
  for (const auto& [second, ms] : series->samples) {
    ctx.reply.array(2);
    ctx.reply.integer(second);
    ctx.reply.integer(static_cast<long long>(ms));
  }
}

void latencyGraph(CommandContext& ctx) {
  const LatencyEvents events = mergedEvents(ctx);
  const metrics::MergedSeries* series = seriesNamed(events, ctx.args[2]);
  if (series == nullptr) {
    return ctx.reply.error("ERR No samples available for event '" + std::string(ctx.args[2]) + "'");
  }
  ctx.reply.verbatim(latencyGraph(ctx.args[2], *series, ctx.nowMs / 1000));
}

void latencyDoctor(CommandContext& ctx) {
  ctx.reply.verbatim(latencyDoctor(mergedEvents(ctx), ctx.worker.config(), ctx.nowMs / 1000));
}

void latencyReset(CommandContext& ctx) {
  // Every worker clears its own slot and answers the events it had: the
  // row counts the distinct names (CrossWorker::BroadcastCountUnion).
  std::vector<std::string_view> cleared;
  WorkerStats* stats = ctx.worker.workerStats();
  for (std::size_t e = 0; e < metrics::kLatencyEvents.size() && stats != nullptr; ++e) {
    bool named = ctx.args.size() == 2;
    for (std::size_t i = 2; i < ctx.args.size() && !named; ++i) named = ctx.args[i] == metrics::kLatencyEvents[e];
    if (!named) continue;
    bool had = false;
    stats->forOwnSlot([&](metrics::WorkerMetrics& block) {
      had = had || !block.latencyEvents[e].empty();
      block.latencyEvents[e].reset();
    });
    if (had) cleared.push_back(metrics::kLatencyEvents[e]);
  }
  ctx.reply.array(cleared.size());
  for (std::string_view name : cleared) ctx.reply.bulk(name);
}

// The tracked indices a LATENCY HISTOGRAM argument names: a command, a
// container's every subcommand, or "container|sub".
void markAsked(std::string_view asked, std::span<const std::string> names, std::vector<bool>& marked) {
  const std::string lower = toLower(asked);
  const bool whole = lower.find('|') == std::string::npos;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string& n = names[i];
    if (n == lower || (whole && n.size() > lower.size() && n.compare(0, lower.size(), lower) == 0 && n[lower.size()] == '|')) {
      marked[i] = true;
    }
  }
}

void latencyHistogram(CommandContext& ctx) {
  // Calls by duration of each command asked for (every command when none
  // is), as Redis's cumulative HDR steps; commands never called are left out.
  const auto names = metrics::trackedCommandNames();
  std::vector<bool> asked(names.size(), ctx.args.size() == 2);
  for (std::size_t i = 2; i < ctx.args.size(); ++i) markAsked(ctx.args[i], names, asked);
  std::vector<std::pair<std::size_t, metrics::LatencyCounts>> found;
  WorkerStats* stats = ctx.worker.workerStats();
  for (std::size_t c = 0; c < names.size() && stats != nullptr; ++c) {
    if (!asked[c] || names[c].empty()) continue;
    metrics::LatencyCounts counts;
    stats->forEachBlock([&](const metrics::WorkerMetrics& block) { counts.add(block.commandLatency[c]); });
    if (counts.calls() != 0) found.emplace_back(c, counts);
  }
  ctx.reply.map(found.size());
  for (const auto& [c, counts] : found) {
    ctx.reply.bulk(names[c]);
    ctx.reply.map(2);
    ctx.reply.bulk("calls");
    ctx.reply.integer(static_cast<long long>(counts.calls()));
    ctx.reply.bulk("histogram_usec");
    std::size_t steps = 0;
    for (std::uint64_t b : counts.buckets) steps += b != 0 ? 1 : 0;
    ctx.reply.map(steps);
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < counts.buckets.size(); ++b) {
      if (counts.buckets[b] == 0) continue;
      cumulative += counts.buckets[b];
      ctx.reply.integer(static_cast<long long>(metrics::commandLatencyBoundNanos(b) / 1000));
      ctx.reply.integer(static_cast<long long>(cumulative));
    }
  }
}

void latencyHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "DOCTOR",
      "    Return a human readable latency analysis report.",
      "GRAPH <event>",
      "    Return an ASCII latency graph for the <event> class.",
      "HISTORY <event>",
      "    Return time-latency samples for the <event> class.",
      "LATEST",
      "    Return the latest latency samples for all events.",
      "RESET [<event> ...]",
      "    Reset latency data of one or more <event> classes.",
      "    (default: reset all data for all event classes)",
      "HISTOGRAM [COMMAND ...]",
      "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
      "    If no commands are specified then all histograms are replied.",
      "HELP",
      "    Prints this help.",
  };
  replyHelp(ctx, kLines);
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> diagnosticsCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kSlowlogSubcommands[] = {
      {.name = "get", .arity = -2, .flags = kAdmin | kNoScript,
       .cross = CrossWorker::BroadcastNewest, .handler = slowlogGet},
      {.name = "help", .arity = 2, .flags = 0,
       .handler = slowlogHelp},
      {.name = "len", .arity = 2, .flags = kAdmin | kNoScript,
       .cross = CrossWorker::BroadcastNewestCount, .handler = slowlogLen},
      {.name = "reset", .arity = 2, .flags = kAdmin | kNoScript,
       .cross = CrossWorker::BroadcastSame, .handler = slowlogReset},
  };
  static constexpr CommandSpec kLatencySubcommands[] = {
      {.name = "doctor", .arity = 2, .flags = kAdmin | kNoScript,
       .handler = latencyDoctor},
      {.name = "graph", .arity = 3, .flags = kAdmin | kNoScript,
       .handler = latencyGraph},
      {.name = "help", .arity = 2, .flags = 0,
       .handler = latencyHelp},
      {.name = "histogram", .arity = -2, .flags = kAdmin | kNoScript,
       .handler = latencyHistogram},
      {.name = "history", .arity = 3, .flags = kAdmin | kNoScript,
       .handler = latencyHistory},
      {.name = "latest", .arity = 2, .flags = kAdmin | kNoScript,
       .handler = latencyLatest},
      {.name = "reset", .arity = -2, .flags = kAdmin | kNoScript,
       .cross = CrossWorker::BroadcastCountUnion, .handler = latencyReset},
  };
  static constexpr CommandSpec kRows[] = {
      {.name = "latency", .arity = -2, .flags = 0,
       .subcommands = kLatencySubcommands},
      {.name = "slowlog", .arity = -2, .flags = 0,
       .subcommands = kSlowlogSubcommands},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
