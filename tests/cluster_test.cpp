// Cluster emulation (cluster.enabled): keyloop's workers answer as the nodes
// of a Redis Cluster, each on its own port, and real cluster clients,
// unmodified, send every command straight to the worker that owns its key:
// redis-cli -c, redis-py's RedisCluster, ioredis's Cluster, node-redis's
// createCluster and redis-benchmark --cluster. keyloop_forwarded_commands_total
// stays flat under them, values are right, and a reload from 2 to 3 workers
// is followed with no error and no lost key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <thread>

#include "tests/support/command.h"
#include "tests/support/hiredis.h"
#include "tests/support/http.h"
#include "tests/support/node_clients.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

using namespace std::chrono_literals;

std::string text(const Reply& r) { return r ? std::string(r->str != nullptr ? r->str : "", r->len) : "(no reply)"; }

std::string clusterSettings(int workers, std::uint16_t clusterPort) {
  return "workers: " + std::to_string(workers) + "\ncluster:\n  enabled: yes\n  port: " + std::to_string(clusterPort) +
         "\n";
}

// keyloop with its cluster ports and its metrics, restartable on the same
// config (a node id must survive that).
struct ClusterServer {
  explicit ClusterServer(int workers, int spare = 0) {
    for (int attempt = 0;; ++attempt) {
      clusterPort = freePortRange(workers + spare);
      try {
        server = std::make_unique<ReloadableServer>("cluster", clusterSettings(workers, clusterPort));
      } catch (const std::runtime_error&) {
        if (attempt < 3) continue;  // a port went between the check and the bind
        throw;
      }
      break;
    }
    metricsPort = metricsPortFromLog(server->server.configPath + ".log");
    for (int i = 0; i < workers; ++i) EXPECT_TRUE(waitForPort(static_cast<std::uint16_t>(clusterPort + i)));
  }
  std::uint16_t nodePort(int node) const { return static_cast<std::uint16_t>(clusterPort + node); }
  std::uint16_t sharedPort() const { return server->server.port; }
  // keyloop_forwarded_commands_total over every worker.
  double forwarded() const {
    const std::string scrape = httpGet(metricsPort, "/metrics").body;
    double total = 0;
    for (std::size_t at = scrape.find("\nkeyloop_forwarded_commands_total{"); at != std::string::npos;
         at = scrape.find("\nkeyloop_forwarded_commands_total{", at + 1)) {
      total += std::atof(scrape.c_str() + scrape.find(' ', at) + 1);
    }
    return total;
  }

  std::uint16_t clusterPort = 0;
  std::unique_ptr<ReloadableServer> server;
  std::uint16_t metricsPort = 0;
};

// CLUSTER SLOTS as (first, last, port, id), checked for shape on the way.
struct SlotRange {
  long long first, last, port;
  std::string id;
};
std::vector<SlotRange> slotsOf(redisContext* c) {
  std::vector<SlotRange> ranges;
  Reply r = run(c, {"CLUSTER", "SLOTS"});
  EXPECT_TRUE(r && r->type == REDIS_REPLY_ARRAY);
  if (!r || r->type != REDIS_REPLY_ARRAY) return ranges;
  for (std::size_t i = 0; i < r->elements; ++i) {
    const redisReply* range = r->element[i];
    EXPECT_EQ(range->elements, 3u);
    const redisReply* node = range->element[2];
    EXPECT_EQ(node->elements, 4u);
    EXPECT_EQ(std::string(node->element[0]->str), "127.0.0.1");
    ranges.push_back({range->element[0]->integer, range->element[1]->integer, node->element[1]->integer,
                      std::string(node->element[2]->str, node->element[2]->len)});
  }
  return ranges;
}

int ownerPort(const std::vector<SlotRange>& ranges, long long slot) {
  for (const SlotRange& r : ranges) {
    if (slot >= r.first && slot <= r.last) return static_cast<int>(r.port);
  }
  return -1;
}

long long keyslot(redisContext* c, const std::string& key) { return run(c, {"CLUSTER", "KEYSLOT", key})->integer; }

TEST(Cluster, WorkerPortsAnswerAsTheNodesOfARedisCluster) {
  ClusterServer cluster(2);
  Context node0 = connect(cluster.nodePort(0)), node1 = connect(cluster.nodePort(1));
  Context shared = connect(cluster.sharedPort());

  // Every slot has exactly one owner, in at most 256 ranges, in slot order.
  const auto ranges = slotsOf(node0.get());
  ASSERT_FALSE(ranges.empty());
  EXPECT_LE(ranges.size(), 256u);
  long long next = 0;
  std::set<std::string> ids;
  for (const SlotRange& r : ranges) {
    EXPECT_EQ(r.first, next);
    next = r.last + 1;
    EXPECT_TRUE(r.port == cluster.nodePort(0) || r.port == cluster.nodePort(1)) << r.port;
    EXPECT_EQ(r.id.size(), 40u);
    ids.insert(r.id);
  }
  EXPECT_EQ(next, 16384);
  EXPECT_EQ(ids.size(), 2u);
  for (const SlotRange& r : ranges) {
    EXPECT_EQ(r.id, text(run(r.port == cluster.nodePort(0) ? node0.get() : node1.get(), {"CLUSTER", "MYID"})));
  }

  // A node answers for its own slots and redirects the rest to their owner.
  int local = 0, moved = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string key = "key:" + std::to_string(i);
    const long long slot = keyslot(node0.get(), key);
    const int owner = ownerPort(ranges, slot);
    Reply r = run(node0.get(), {"SET", key, "v" + std::to_string(i)});
    if (owner == cluster.nodePort(0)) {
      EXPECT_EQ(text(r), "OK");
      ++local;
    } else {
      EXPECT_EQ(text(r), "MOVED " + std::to_string(slot) + " 127.0.0.1:" + std::to_string(owner));
      EXPECT_EQ(text(run(node1.get(), {"SET", key, "v" + std::to_string(i)})), "OK");
      ++moved;
    }
  }
  EXPECT_GT(local, 20);
  EXPECT_GT(moved, 20);
  EXPECT_EQ(text(run(node0.get(), {"MSET", "a", "1", "b", "2"})), "CROSSSLOT Keys in request don't hash to the same slot");
  const long long tagged = keyslot(node0.get(), "t");
  const int taggedOwner = ownerPort(ranges, tagged);
  EXPECT_EQ(text(run(node0.get(), {"MSET", "{t}a", "1", "{t}b", "2"})),
            taggedOwner == cluster.nodePort(0) ? "OK"
                                               : "MOVED " + std::to_string(tagged) + " 127.0.0.1:" + std::to_string(taggedOwner));

  // Keyless commands are the node's own: DBSIZE counts its keys, and the
  // nodes' counts add up to what the shared port (plain Redis) counts.
  const long long mine = run(node0.get(), {"DBSIZE"})->integer, theirs = run(node1.get(), {"DBSIZE"})->integer;
  const long long all = run(shared.get(), {"DBSIZE"})->integer;
  EXPECT_GE(mine, local);
  EXPECT_EQ(mine + theirs, all);
  const std::string key = "key:7";
  const std::string slot = std::to_string(keyslot(node0.get(), key));
  redisContext* owner = ownerPort(ranges, std::stoll(slot)) == cluster.nodePort(0) ? node0.get() : node1.get();
  redisContext* other = owner == node0.get() ? node1.get() : node0.get();
  EXPECT_GE(run(owner, {"CLUSTER", "COUNTKEYSINSLOT", slot})->integer, 1);
  EXPECT_EQ(run(other, {"CLUSTER", "COUNTKEYSINSLOT", slot})->integer, 0);
  EXPECT_EQ(run(shared.get(), {"CLUSTER", "COUNTKEYSINSLOT", slot})->integer,
            run(owner, {"CLUSTER", "COUNTKEYSINSLOT", slot})->integer);
  Reply inSlot = run(owner, {"CLUSTER", "GETKEYSINSLOT", slot, "100"});
  ASSERT_EQ(inSlot->type, REDIS_REPLY_ARRAY);
  bool found = false;
  for (std::size_t i = 0; i < inSlot->elements; ++i) found = found || std::string(inSlot->element[i]->str) == key;
  EXPECT_TRUE(found);

  // The shared port keeps plain Redis semantics: any key, from anywhere.
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(text(run(shared.get(), {"GET", "key:" + std::to_string(i)})), "v" + std::to_string(i));
  }
  EXPECT_NE(text(run(shared.get(), {"INFO", "cluster"})).find("cluster_enabled:1\r\n"), std::string::npos);
  const std::string nodes = text(run(node1.get(), {"CLUSTER", "NODES"}));
  EXPECT_NE(nodes.find(text(run(node1.get(), {"CLUSTER", "MYID"})) + " 127.0.0.1:" + std::to_string(cluster.nodePort(1)) +
                       "@" + std::to_string(cluster.nodePort(1) + 10000) + " myself,master - 0 0 1 connected "),
            std::string::npos)
      << nodes;
  EXPECT_NE(text(run(node0.get(), {"CLUSTER", "INFO"})).find("cluster_state:ok\r\ncluster_slots_assigned:16384\r\n"),
            std::string::npos);

  // Node ids are the same after a restart on the same config.
  const std::string id0 = text(run(node0.get(), {"CLUSTER", "MYID"}));
  node0.reset();
  node1.reset();
  shared.reset();
  const std::string config = cluster.server->server.configPath;
  ASSERT_TRUE(cluster.server->server.process.stop(SIGTERM).has_value());
  Process again(keyloopBinary(), {"-c", config}, config + ".again.log");
  ASSERT_TRUE(waitForPort(cluster.nodePort(0)));
  EXPECT_EQ(text(run(connect(cluster.nodePort(0)).get(), {"CLUSTER", "MYID"})), id0);
}

// Against a real redis-server in cluster mode with one node owning every
// slot, and keyloop with one worker: the same bytes for the same requests
// (node ids and addresses aside, which differ by nature).
TEST(Cluster, RepliesMatchARedisClusterNodeByteForByte) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("keyloop-cluster-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  // Its cluster bus port is set too: by default it is the port + 10000,
  // which may be anyone's.
  const std::uint16_t redisPort = freePortRange(2);
  Process redis("redis-server", {"--port", std::to_string(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                 "no", "--cluster-enabled", "yes", "--cluster-port", std::to_string(redisPort + 1),
                                 "--cluster-config-file", (dir / "nodes.conf").string(), "--dir", dir.string()});
  ASSERT_TRUE(waitForPort(redisPort));
  RespConnection reference(redisPort);
  ASSERT_EQ(reference.command({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"}), "+OK\r\n");
  // Its cluster is up once its cron has seen the slots (10 times a second).
  for (int i = 0; i < 500 && reference.command({"CLUSTER", "INFO"}).find("cluster_state:ok") == std::string::npos; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ClusterServer cluster(1);
  RespConnection ours(cluster.nodePort(0));
  const std::vector<std::vector<std::string>> requests = {
      {"SET", "foo", "bar"},
      {"CLUSTER", "KEYSLOT", "foo"},
      {"CLUSTER", "KEYSLOT", "{user1}.following"},
      {"CLUSTER", "COUNTKEYSINSLOT", "12182"},
      {"CLUSTER", "COUNTKEYSINSLOT", "99999"},
      {"CLUSTER", "COUNTKEYSINSLOT", "-1"},
      {"CLUSTER", "COUNTKEYSINSLOT", "x"},
      {"CLUSTER", "GETKEYSINSLOT", "12182", "10"},
      {"CLUSTER", "GETKEYSINSLOT", "12182", "-1"},
      {"CLUSTER", "GETKEYSINSLOT", "x", "1"},
      {"CLUSTER", "GETKEYSINSLOT", "16384", "1"},
      {"CLUSTER", "KEYSLOT"},
      {"CLUSTER", "NOSUCH"},
      {"MSET", "a", "1", "b", "2"},
      {"DEL", "a", "b"},
      {"MSET", "{a}1", "1", "{a}2", "2"},
      {"MGET", "{a}1", "{a}2"},
      {"ASKING"},
      {"READONLY"},
      {"READWRITE"},
      {"INFO", "cluster"},
      {"CLUSTER", "INFO", "extra"},
      {"SELECT", "0"},
      {"SELECT", "1"},
  };
  for (const auto& request : requests) {
    EXPECT_EQ(ours.command(request), reference.command(request)) << RespConnection::encode(request);
  }
  // HELLO's mode, and CLUSTER INFO's lines (messages counts aside).
  const std::string hello = ours.command({"HELLO", "3"});
  EXPECT_NE(hello.find("$4\r\nmode\r\n$7\r\ncluster\r\n"), std::string::npos) << hello;
  EXPECT_NE(reference.command({"HELLO", "3"}).find("$4\r\nmode\r\n$7\r\ncluster\r\n"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// Without cluster.enabled, the cluster commands fail as on a plain redis-server.
TEST(Cluster, DisabledClusterCommandsFailAsOnAPlainRedis) {
  KeyloopServer keyloop;
  RedisServer redis;
  RespConnection ours(keyloop.port), reference(redis.port);
  for (const std::vector<std::string>& request : std::vector<std::vector<std::string>>{
           {"CLUSTER", "SLOTS"}, {"CLUSTER", "NODES"}, {"CLUSTER", "KEYSLOT", "foo"}, {"CLUSTER", "MYID"},
           {"READONLY"}, {"ASKING"}, {"READWRITE"}, {"INFO", "cluster"}}) {
    EXPECT_EQ(ours.command(request), reference.command(request)) << RespConnection::encode(request);
  }
}

std::string nodeClients() { return nodeClientModules(); }

// One client's run against a 2-worker cluster: its output must say `ok`,
// and nothing was forwarded (a handful at most: a client's start-up probes).
void expectZeroHops(const std::string& clientCommand, const std::string& ok, int requests) {
  ClusterServer cluster(2);
  const double before = cluster.forwarded();
  std::string command = clientCommand;
  for (std::size_t at; (at = command.find("PORT")) != std::string::npos;) {
    command.replace(at, 4, std::to_string(cluster.nodePort(0)));
  }
  const CommandResult r = runCommand(command + " 2>&1", 300);
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find(ok), std::string::npos) << r.output;
  // Published by the workers with every batch: wait until the totals hold still.
  double after = cluster.forwarded();
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(20ms);
    const double now = cluster.forwarded();
    if (now == after) break;
    after = now;
  }
  EXPECT_LE(after - before, 10) << "of " << requests << " requests";
  // And the values are there, for a plain client too.
  Context shared = connect(cluster.sharedPort());
  EXPECT_GE(run(shared.get(), {"DBSIZE"})->integer, 1);
}

TEST(Cluster, RedisCliFollowsMovedRedirections) {
  expectZeroHops("for i in $(seq 1 40); do redis-cli -c -p PORT set cli:$i v$i >/dev/null || exit 1; done; "
                 "ok=0; for i in $(seq 1 40); do [ \"$(redis-cli -c -p PORT get cli:$i)\" = v$i ] && ok=$((ok+1)); done; "
                 "echo \"redis-cli ok: $ok\"",
                 "redis-cli ok: 40", 80);
}

TEST(Cluster, RedisPyRedisCluster) {
  expectZeroHops("/usr/bin/python3 " + sourceDir() + "/tests/cluster/redis_py_cluster.py PORT 500", "redis-py ok: 2 masters",
                 1000);
}

TEST(Cluster, IoredisCluster) {
  const std::string modules = nodeClients();
  expectZeroHops("node " + sourceDir() + "/tests/cluster/ioredis_cluster.js " + modules + " PORT 500",
                 "ioredis ok: 2 masters", 1000);
}

TEST(Cluster, NodeRedisCreateCluster) {
  const std::string modules = nodeClients();
  expectZeroHops("node " + sourceDir() + "/tests/cluster/node_redis_cluster.js " + modules + " PORT 500",
                 "node-redis ok", 1000);
}

TEST(Cluster, RedisBenchmarkCluster) {
  expectZeroHops("redis-benchmark --cluster -p PORT -n 5000 -c 10 -t set,get,incr -q", "INCR: ", 15000);
}

// A cluster client that keeps reading and writing until told to stop
// (tests/cluster/*: the `ready` and `stop` files of its own folder).
struct Follower {
  Follower(const std::string& name, const std::string& program, std::vector<std::string> args)
      : dir(std::filesystem::temp_directory_path() / ("keyloop-follower-" + name + "-" + std::to_string(::getpid()))),
        log((dir / "client.log").string()),
        process((std::filesystem::remove_all(dir), std::filesystem::create_directories(dir), program),
                (args.push_back(dir.string()), args), log) {}
  ~Follower() { std::filesystem::remove_all(dir); }
  bool ready(std::chrono::steady_clock::time_point deadline) {
    while (!std::filesystem::exists(dir / "ready") && process.running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    return std::filesystem::exists(dir / "ready");
  }
  std::string output() const {
    std::ifstream in(log);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  // Tells it to stop, waits for its exit; returns its output (and whether it exited 0).
  std::pair<bool, std::string> finish(std::chrono::steady_clock::time_point deadline) {
    std::ofstream(dir / "stop").close();
    while (process.running() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
    const auto status = process.stop(SIGTERM);
    return {status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0, output()};
  }
  std::filesystem::path dir;
  std::string log;
  Process process;
};

// A reload from 2 to 3 workers under RedisCluster and ioredis clients that
// read and write the whole time: every reply right, the new node's port
// in CLUSTER SLOTS, and the clients end up using it.
TEST(Cluster, ClientsFollowAReloadFromTwoToThreeWorkers) {
  ClusterServer cluster(2, /*spare=*/1);
  const std::string port = std::to_string(cluster.nodePort(0));
  ::setenv("MASTERS", "3", 1);  // what the ioredis client waits to see at the end
  Follower python("redis-py", "/usr/bin/python3", {sourceDir() + "/tests/cluster/redis_py_cluster.py", port, "300"});
  Follower node("ioredis", "/usr/bin/env",
                {"node", sourceDir() + "/tests/cluster/ioredis_cluster.js", nodeClients(), port, "300"});
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  ASSERT_TRUE(python.ready(deadline)) << python.output();
  ASSERT_TRUE(node.ready(deadline)) << node.output();
  const CommandResult reload = cluster.server->reload(clusterSettings(3, cluster.clusterPort));
  EXPECT_EQ(reload.exitCode, 0) << reload.output;
  EXPECT_TRUE(cluster.server->settlesTo(3));
  ASSERT_TRUE(waitForPort(cluster.nodePort(2)));
  std::set<long long> ports;
  for (const SlotRange& r : slotsOf(connect(cluster.nodePort(2)).get())) ports.insert(r.port);
  EXPECT_EQ(ports, (std::set<long long>{cluster.nodePort(0), cluster.nodePort(1), cluster.nodePort(2)}));
  // The clients keep going over the new layout for a while before they stop.
  Context node2 = connect(cluster.nodePort(2));
  for (int i = 0; i < 300; ++i) run(node2.get(), {"GET", "py:" + std::to_string(i)});
  const auto [pythonOk, pythonOutput] = python.finish(deadline + 60s);
  EXPECT_TRUE(pythonOk) << pythonOutput;
  EXPECT_NE(pythonOutput.find("redis-py ok: 3 masters"), std::string::npos) << pythonOutput;
  const auto [nodeOk, nodeOutput] = node.finish(deadline + 60s);
  EXPECT_TRUE(nodeOk) << nodeOutput;
  EXPECT_NE(nodeOutput.find("ioredis ok: 3 masters"), std::string::npos) << nodeOutput;
}

}  // namespace
}  // namespace keyloop::test
