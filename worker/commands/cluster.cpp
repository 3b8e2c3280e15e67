// CLUSTER and its companions (ASKING, READONLY, READWRITE): keyloop's
// workers as the nodes of a Redis Cluster (worker/cluster.h). Replies are
// Redis 7.0's, byte for byte, with one master per worker and no replicas.
#include "worker/routing/cluster.h"
#include "worker/execution/command_families.h"
#include "worker/commands/commands.h"

namespace keyloop::commands {

namespace {

constexpr std::string_view kDisabled = "ERR This instance has cluster support disabled";

bool enabledOrReply(CommandContext& ctx) {
  if (ctx.worker.config().cluster.enabled && ctx.worker.ring() != nullptr) return true;
  ctx.reply.error(kDisabled);
  return false;
}

// The node this connection talks to: the one of its port, else this worker.
int myself(CommandContext& ctx) {
  if (ctx.client != nullptr && ctx.client->clusterNode() >= 0) return ctx.client->clusterNode();
  return std::max(0, ctx.worker.self());
}

// `node`'s share of `all` (Ring::ranges(), made once per reply).
std::vector<ring::Ring::Range> rangesOf(const std::vector<ring::Ring::Range>& all, int node) {
  std::vector<ring::Ring::Range> mine;
  for (const ring::Ring::Range& r : all) {
    if (r.owner == node) mine.push_back(r);
  }
  return mine;
}

// A slot argument, or nullopt once the error is replied.
std::optional<int> slotOrReply(CommandContext& ctx, std::string_view arg) {
  const auto slot = parseInteger(arg);
  if (!slot) {
    ctx.reply.error(kNotInteger);
    return std::nullopt;
  }
  if (*slot < 0 || *slot >= ring::kSlots) {
    ctx.reply.error("ERR Invalid slot");
    return std::nullopt;
  }
  return static_cast<int>(*slot);
}

}  // namespace

void clusterSlots(CommandContext& ctx) {
  if (!enabledOrReply(ctx)) return;
  const ClusterNodes nodes(ctx.worker.config());
  const auto ranges = ctx.worker.ring()->ranges();
  ctx.reply.array(ranges.size());
  for (const ring::Ring::Range& r : ranges) {
    ctx.reply.array(3);
    ctx.reply.integer(r.first);
    ctx.reply.integer(r.last);
    ctx.reply.array(4);
    ctx.reply.bulk(nodes.address());
    ctx.reply.integer(nodes.portOf(r.owner));
    ctx.reply.bulk(nodes.idOf(r.owner));
    ctx.reply.map(0);  // no other endpoints
  }
}

void clusterShards(CommandContext& ctx) {
  if (!enabledOrReply(ctx)) return;
  const ClusterNodes nodes(ctx.worker.config());
  const ring::Ring& ring = *ctx.worker.ring();
  const auto all = ring.ranges();
  ctx.reply.array(static_cast<std::size_t>(ring.workers()));
  for (int node = 0; node < ring.workers(); ++node) {
    const auto mine = rangesOf(all, node);
    ctx.reply.map(2);
    ctx.reply.bulk("slots");
    ctx.reply.array(mine.size() * 2);
    for (const ring::Ring::Range& r : mine) {
      ctx.reply.integer(r.first);
      ctx.reply.integer(r.last);
    }
    ctx.reply.bulk("nodes");
    ctx.reply.array(1);
    ctx.reply.map(7);
    ctx.reply.bulk("id");
    ctx.reply.bulk(nodes.idOf(node));
    ctx.reply.bulk("port");
    ctx.reply.integer(nodes.portOf(node));
    for (std::string_view field : {"ip", "endpoint"}) {
      ctx.reply.bulk(field);
      ctx.reply.bulk(nodes.address());
    }
    ctx.reply.bulk("role");
    ctx.reply.bulk("master");
    ctx.reply.bulk("replication-offset");
    ctx.reply.integer(0);
    ctx.reply.bulk("health");
    ctx.reply.bulk("online");
  }
}

void clusterNodes(CommandContext& ctx) {
  if (!enabledOrReply(ctx)) return;
  const ClusterNodes nodes(ctx.worker.config());
  const ring::Ring& ring = *ctx.worker.ring();
  const auto all = ring.ranges();
  const int me = myself(ctx);
  std::string text;
  for (int node = 0; node < ring.workers(); ++node) {
    const int port = nodes.portOf(node);
    text += nodes.idOf(node) + " " + nodes.address() + ":" + std::to_string(port) + "@" + std::to_string(port + 10000) +
            (node == me ? " myself,master - 0 0 " : " master - 0 " + std::to_string(unixMillis()) + " ") +
            std::to_string(node) + " connected";
    for (const ring::Ring::Range& r : rangesOf(all, node)) {
      text += " " + std::to_string(r.first);
      if (r.last != r.first) text += "-" + std::to_string(r.last);
    }
    text += "\n";
  }
  ctx.reply.verbatim(text);
}

void clusterInfo(CommandContext& ctx) {
  if (!enabledOrReply(ctx)) return;
  const std::string workers = std::to_string(ctx.worker.ring()->workers());
  ctx.reply.verbatim("cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n"
                     "cluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:" + workers +
                     "\r\ncluster_size:" + workers + "\r\ncluster_current_epoch:" +
                     std::to_string(ctx.worker.ring()->workers() - 1) + "\r\ncluster_my_epoch:" +
                     std::to_string(myself(ctx)) +
                     "\r\ncluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\n"
                     "total_cluster_links_buffer_limit_exceeded:0\r\n");
}

void clusterMyid(CommandContext& ctx) {
  if (!enabledOrReply(ctx)) return;
  ctx.reply.bulk(ClusterNodes(ctx.worker.config()).idOf(myself(ctx)));
}

void clusterKeyslot(CommandContext& ctx) {
  if (!enabledOrReply(ctx)) return;
  ctx.reply.integer(ring::slotOf(ctx.args[2]));
}

// Node-local, as on a Redis Cluster node: this runs on the node's worker
// (the table broadcasts it; on a node's port a broadcast asks that node).
// A walk over the worker's keys: keyloop keeps no per-slot index.
void clusterCountkeysinslot(CommandContext& ctx) {
  if (!enabledOrReply(ctx)) return;
  const auto slot = slotOrReply(ctx, ctx.args[2]);
  if (!slot) return;
  long long count = 0;
  ctx.store.forEach(ctx.nowMs, [&](const Store::Entry* e) { count += ring::slotOf(Store::key(e)) == *slot; });
  ctx.reply.integer(count);
}

void clusterGetkeysinslot(CommandContext& ctx) {
  if (!enabledOrReply(ctx)) return;
  const auto slot = parseInteger(ctx.args[2]);
  const auto count = parseInteger(ctx.args[3]);
  if (!slot || !count) return ctx.reply.error(kNotInteger);
  if (*slot < 0 || *slot >= ring::kSlots || *count < 0) return ctx.reply.error("ERR Invalid slot or number of keys");
  std::vector<std::string_view> keys;
  ctx.store.forEach(ctx.nowMs, [&](const Store::Entry* e) {
    if (static_cast<long long>(keys.size()) < *count && ring::slotOf(Store::key(e)) == *slot) keys.push_back(Store::key(e));
  });
  ctx.reply.array(keys.size());
  for (std::string_view k : keys) ctx.reply.bulk(k);
}

void clusterHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "COUNTKEYSINSLOT <slot>",
      "    Return the number of keys in <slot>.",
      "GETKEYSINSLOT <slot> <count>",
      "    Return key names stored by current node in a slot.",
      "INFO",
      "    Return information about the cluster.",
      "KEYSLOT <key>",
      "    Return the hash slot for <key>.",
      "MYID",
      "    Return the node id.",
      "NODES",
      "    Return cluster configuration seen by node. Output format:",
      "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
      "SHARDS",
      "    Return information about slot range mappings and the nodes associated with them.",
      "SLOTS",
      "    Return information about slots range mappings. Each range is made of:",
      "    start, end, master and replicas IP addresses, ports and ids",
      "HELP",
      "    Prints this help.",
  };
  replyHelp(ctx, kLines);
}

// ASKING, READONLY, READWRITE: accepted, as a cluster node does. keyloop
// never answers -ASK (a reload forwards what moves; see route_plan.h), and
// every node is a master, so they change nothing.
void clusterAccept(CommandContext& ctx) {
  if (enabledOrReply(ctx)) ctx.reply.ok();
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> clusterCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kClusterSubcommands[] = {
      {.name = "countkeysinslot", .arity = 3, .flags = 0,
       .cross = CrossWorker::BroadcastSum, .handler = clusterCountkeysinslot},
      {.name = "getkeysinslot", .arity = 4, .flags = 0,
       .cross = CrossWorker::BroadcastConcat, .handler = clusterGetkeysinslot},
      {.name = "help", .arity = 2, .flags = 0,
       .handler = clusterHelp},
      {.name = "info", .arity = 2, .flags = 0,
       .handler = clusterInfo},
      {.name = "keyslot", .arity = 3, .flags = 0,
       .handler = clusterKeyslot},
      {.name = "myid", .arity = 2, .flags = 0,
       .handler = clusterMyid},
      {.name = "nodes", .arity = 2, .flags = 0,
       .handler = clusterNodes},
      {.name = "shards", .arity = 2, .flags = 0,
       .handler = clusterShards},
      {.name = "slots", .arity = 2, .flags = 0,
       .handler = clusterSlots},
  };
  static constexpr CommandSpec kRows[] = {
      {.name = "asking", .arity = 1, .flags = kFast, .acl = acl::kConnection,
       .handler = clusterAccept},
      {.name = "cluster", .arity = -2, .flags = 0,
       .subcommands = kClusterSubcommands},
      {.name = "readonly", .arity = 1, .flags = kFast | kConnection, .acl = acl::kConnection,
       .handler = clusterAccept},
      {.name = "readwrite", .arity = 1, .flags = kFast | kConnection, .acl = acl::kConnection,
       .handler = clusterAccept},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
