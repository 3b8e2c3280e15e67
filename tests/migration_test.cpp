// Reloads that start a new generation of workers (worker count, listen
// addresses): the keys move to their new owners with their TTLs, clients
// under load see no error, no reset and no refused connect, a retiring
// worker finishes what it owes a slow reader, and drain_timeout bounds it.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <sstream>
#include <set>

#include "tests/support/command.h"
#include "tests/support/http.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string bulk(const std::string& s) { return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n"; }

long long integerOf(const std::string& reply) {
  return reply.size() > 1 && reply[0] == ':' ? std::stoll(reply.substr(1)) : -999;
}

TEST(Migration, KeysAndTtlsFollowTheWorkerCountThroughEveryReload) {
  ReloadableServer s("ttl", "workers: 2\n");
  RespConnection c(s.server.port);
  constexpr int kKeys = 3000;
  std::string batch;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = (i % 10 == 0 ? "{tag}" : "key:") + std::to_string(i);
    batch += i % 2 == 0 ? RespConnection::encode({"SET", key, "value-" + std::to_string(i), "PX", "600000"})
                        : RespConnection::encode({"SET", key, "value-" + std::to_string(i)});
  }
  c.send(batch);
  for (int i = 0; i < kKeys; ++i) ASSERT_EQ(c.readReply(), "+OK\r\n");
  const auto written = Clock::now();
  for (int workers : {4, 1, 3}) {
    const CommandResult r = s.reloadWorkers(workers);
    ASSERT_EQ(r.exitCode, 0) << r.output;
    const std::string serving = std::to_string(workers) + (workers == 1 ? " worker serving" : " workers serving");
    EXPECT_NE(r.output.find(serving), std::string::npos) << r.output;
    ASSERT_TRUE(s.settlesTo(workers)) << "the retiring workers did not leave";
    RespConnection fresh(s.server.port);
    EXPECT_EQ(integerOf(fresh.command({"DBSIZE"})), kKeys);
    // Each PTTL runs after `sent` (so the TTL is at most 600000 minus that
    // much) and before the last reply is read (`answered`: at least 600000
    // minus that, less the 5 s slack the lower bound allows).
    const auto sent = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - written).count();
    for (int i = 0; i < kKeys; ++i) {
      const std::string key = (i % 10 == 0 ? "{tag}" : "key:") + std::to_string(i);
      fresh.sendCommand({"GET", key});
      fresh.sendCommand({"PTTL", key});
    }
    std::vector<std::optional<std::string>> replies;
    for (int i = 0; i < 2 * kKeys; ++i) replies.push_back(fresh.readReply());
    const auto answered = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - written).count();
    std::size_t next = 0;
    for (int i = 0; i < kKeys; ++i) {
      ASSERT_EQ(replies[next++], bulk("value-" + std::to_string(i))) << "key " << i << " after " << workers;
      const long long ttl = integerOf(replies[next++].value_or(""));
      if (i % 2 == 1) {
        EXPECT_EQ(ttl, -1) << "key " << i << " gained a TTL";
      } else {
        EXPECT_LE(ttl, 600000 - sent + 5) << "key " << i << ": the TTL restarted";
        EXPECT_GT(ttl, 600000 - answered - 5000) << "key " << i << ": the TTL is wrong";
      }
    }
    // Every worker of the new generation holds its share.
    const auto workersInfo = fresh.command({"INFO", "workers"});
    EXPECT_NE(workersInfo.find("worker" + std::to_string(workers - 1) + ":"), std::string::npos) << workersInfo;
  }
  // The connection opened before the first reload still works.
  EXPECT_EQ(c.command({"GET", "key:1"}), bulk("value-1"));
}

// The load: 50 connections, each with its own keys, pipelining SET (with a
// TTL) and GET, MSET and MGET, and checking every reply. A connection the server ends
// gracefully (a retiring worker's drain) reconnects and resends what was
// not answered: the server never ran it (Client::finish).
struct LoadResult {
  std::atomic<long> ops{0}, errors{0}, resets{0}, refused{0}, reconnects{0};
  std::mutex mutex;
  std::vector<std::string> firstErrors;
  void error(const std::string& what) {
    ++errors;
    std::lock_guard lock(mutex);
    if (firstErrors.size() < 5) firstErrors.push_back(what);
  }
};

struct Acked {
  std::string value;
  Clock::time_point sentAt, ackedAt;  // the TTL started in between
  bool ttl;                           // written with PX 600000 (else no TTL)
};

void runConnection(std::uint16_t port, int id, const std::atomic<bool>& stop, long maxOps, LoadResult& result,
                   std::map<std::string, Acked>& acked) {
  constexpr int kKeysPerConnection = 100, kPairsPerBatch = 10;
  std::unique_ptr<RespConnection> c;
  auto connect = [&] {
    for (int attempt = 0; attempt < 50; ++attempt) {
      try {
        c = std::make_unique<RespConnection>(port);
        return true;
      } catch (const std::exception&) {
        ++result.refused;
        std::this_thread::sleep_for(10ms);
      }
    }
    return false;
  };
  if (!connect()) return;
  long round = 0, ops = 0;
  while (!stop && ops < maxOps) {
    // SET with a TTL then GET, on the connection's own keys; and an MSET
    // then MGET of two keys that usually live on different workers (a
    // cross-worker transaction, which must survive a hand-over too).
    struct Request {
      std::string command, expected;
      std::vector<std::pair<std::string, std::string>> writes;  // key, value
      bool ttl;
    };
    std::vector<Request> batch;
    const std::string prefix = "c" + std::to_string(id) + ":";
    for (int p = 0; p < kPairsPerBatch; ++p, ++round) {
      const std::string key = prefix + std::to_string(round % kKeysPerConnection);
      const std::string value = "v" + std::to_string(round);
      batch.push_back({RespConnection::encode({"SET", key, value, "PX", "600000"}), "+OK\r\n", {{key, value}}, true});
      batch.push_back({RespConnection::encode({"GET", key}), bulk(value), {}, false});
    }
    const std::string a = "m" + prefix + std::to_string(round % 50), b = "m" + prefix + std::to_string((round + 25) % 50);
    const std::string va = "a" + std::to_string(round), vb = "b" + std::to_string(round);
    batch.push_back({RespConnection::encode({"MSET", a, va, b, vb}), "+OK\r\n", {{a, va}, {b, vb}}, false});
    batch.push_back({RespConnection::encode({"MGET", a, b}), "*2\r\n" + bulk(va) + bulk(vb), {}, false});
    std::size_t answered = 0;
    const auto sentAt = Clock::now();
    while (answered < batch.size()) {
      std::string bytes;
      for (std::size_t i = answered; i < batch.size(); ++i) bytes += batch[i].command;
      c->send(bytes);
      while (answered < batch.size()) {
        const auto reply = c->readReply(20s);
        if (!reply) break;
        const Request& r = batch[answered];
        if (*reply != r.expected) result.error("got " + reply->substr(0, 60) + " wanted " + r.expected);
        if (*reply == r.expected) {
          for (const auto& [key, value] : r.writes) acked[key] = {value, sentAt, Clock::now(), r.ttl};
        }
        ++answered;
        ++ops;
      }
      if (answered == batch.size()) break;
      if (c->end() == RespConnection::End::Reset) ++result.resets;
      if (c->end() == RespConnection::End::None) {
        result.error("no reply within 20 s on connection " + std::to_string(id));
        return;
      }
      ++result.reconnects;
      if (!connect()) return;
    }
  }
  result.ops += ops;
}

TEST(Migration, ReloadsUnderLoadLoseNothing) {
  ReloadableServer s("load", "workers: 2\nshutdown:\n  drain_timeout: 2s\n");
  // Enough data that each hand-over takes a while: a worker that served a
  // key before its old owner sent it would answer from an empty store.
  constexpr int kSentinels = 100000;
  {
    RespConnection loader(s.server.port);
    for (int from = 0; from < kSentinels; from += 1000) {
      std::string batch;
      for (int i = from; i < from + 1000; ++i) {
        batch += RespConnection::encode({"SET", "sentinel:" + std::to_string(i), "s" + std::to_string(i)});
      }
      loader.send(batch);
      for (int i = from; i < from + 1000; ++i) ASSERT_EQ(loader.readReply(), "+OK\r\n");
    }
  }
  std::atomic<bool> stop{false};
  LoadResult result;
  constexpr int kConnections = 50;
  constexpr long kMaxOpsPerConnection = 8000;  // 400,000 in all at most
  std::vector<std::map<std::string, Acked>> acked(kConnections);
  std::vector<std::thread> threads;
  for (int i = 0; i < kConnections; ++i) {
    threads.emplace_back(runConnection, s.server.port, i, std::cref(stop), kMaxOpsPerConnection, std::ref(result),
                         std::ref(acked[static_cast<std::size_t>(i)]));
  }
  // New connections all the while (they land on the newest workers): none
  // may be refused or reset, and each reads a key written before the load.
  std::atomic<long> connects{0};
  std::thread connector([&] {
    for (int n = 0; !stop; ++n) {
      try {
        RespConnection c(s.server.port);
        const std::string key = "sentinel:" + std::to_string(n * 7919 % kSentinels);
        const std::string got = c.command({"GET", key});
        if (got != bulk("s" + key.substr(9))) {
          if (c.end() == RespConnection::End::Reset) ++result.resets;
          else result.error("GET " + key + " on a new connection: " + got);
        }
        ++connects;
      } catch (const std::exception&) {
        ++result.refused;
      }
      std::this_thread::sleep_for(5ms);
    }
  });

  struct Step {
    std::string settings;
    bool ok;
  };
  const std::vector<Step> steps = {
      {"workers: 4\n", true},
      {"workers: 1\n", true},
      {"workers: 1\nlimits:\n  maxclient: 9\n", false},  // invalid: nothing changes
      {"workers: 3\n", true},
      {"workers: 3\nlimits:\n  maxclients: 5000\n", true},  // settings only: same workers
      {"workers: 2\n", true},
      {"workers: 4\nthread_pool: 2\n", true},
      {"workers: 1\n", true},
      {"workers: 3\nlimits:\n  timeout: 300s\n", true},
      {"workers: 2\n", true},
  };
  std::this_thread::sleep_for(300ms);
  for (const Step& step : steps) {
    const CommandResult r = s.reload(step.settings + "shutdown:\n  drain_timeout: 2s\n");
    EXPECT_EQ(r.exitCode == 0, step.ok) << step.settings << r.output;
    RespConnection probe(s.server.port);
    EXPECT_EQ(probe.command({"PING"}), "+PONG\r\n") << "not serving after: " << step.settings;
    std::this_thread::sleep_for(250ms);
  }
  stop = true;
  for (auto& t : threads) t.join();
  connector.join();

  EXPECT_EQ(result.errors, 0) << (result.firstErrors.empty() ? "" : result.firstErrors.front());
  EXPECT_EQ(result.resets, 0);
  EXPECT_EQ(result.refused, 0);
  EXPECT_EQ(result.reconnects, 0) << "connections should move to the new workers, not end";
  EXPECT_GT(result.ops, 20000) << "the load hardly ran";
  EXPECT_GT(connects, 100);
  std::cout << "ops " << result.ops << ", graceful reconnects " << result.reconnects << ", new connections "
            << connects << "\n";

  // Every acknowledged write, read back with its value and its TTL.
  RespConnection check(s.server.port);
  std::size_t keys = 0;
  for (const auto& perConnection : acked) {
    for (const auto& [key, a] : perConnection) {
      ASSERT_EQ(check.command({"GET", key}), bulk(a.value)) << key;
      const auto before = Clock::now();
      const long long ttl = integerOf(check.command({"PTTL", key}));
      const auto after = Clock::now();
      const auto between = [](Clock::time_point from, Clock::time_point to) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
      };
      if (!a.ttl) {
        EXPECT_EQ(ttl, -1) << key;
        ++keys;
        continue;
      }
      // The TTL started between send and ack of the SET; PTTL was read
      // between `before` and `after`.
      EXPECT_LE(ttl, 600000 - between(a.ackedAt, before) + 1) << key << ": the TTL restarted";
      EXPECT_GE(ttl, 600000 - between(a.sentAt, after) - 1) << key << ": the TTL shrank";
      ++keys;
    }
  }
  EXPECT_EQ(integerOf(check.command({"DBSIZE"})), static_cast<long long>(keys) + kSentinels);
}

TEST(Migration, ARetiringWorkerDeliversEveryReplyToASlowReader) {
  ReloadableServer s("slow", "workers: 1\nshutdown:\n  drain_timeout: 20s\n");
  RespConnection writer(s.server.port);
  const std::string big(100 * 1024, 'x');
  ASSERT_EQ(writer.command({"SET", "big", big}), "+OK\r\n");
  const auto oldWorker = workerPidsBySlot(s.server.process.pid(), 1);
  ASSERT_EQ(oldWorker.size(), 1u);

  // 200 GETs of 100 KB: 20 MB of replies, read in pauses.
  RespConnection slow(s.server.port);
  std::string gets;
  for (int i = 0; i < 200; ++i) gets += RespConnection::encode({"GET", "big"});
  slow.send(gets);
  std::this_thread::sleep_for(50ms);
  ASSERT_EQ(s.reloadWorkers(2, "shutdown:\n  drain_timeout: 20s\n").exitCode, 0);
  int whole = 0;
  for (int i = 0; i < 200; ++i) {
    const auto reply = slow.readReply(10s);
    if (!reply) break;
    whole += *reply == bulk(big);
    if (i % 20 == 0) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(whole, 200) << "a retiring worker dropped replies it owed";
  // Then the connection moves to a new worker: same socket, still served.
  ASSERT_TRUE(s.settlesTo(2, 5s));
  EXPECT_EQ(::kill(oldWorker.begin()->second, 0), -1);
  EXPECT_EQ(slow.command({"STRLEN", "big"}), ":102400\r\n");
  EXPECT_EQ(writer.command({"PING"}), "+PONG\r\n");
}

// The listening sockets on `port` that process `pid` holds open.
int listeningSocketsOn(pid_t pid, std::uint16_t port) {
  std::set<std::string> inodes;  // of sockets listening on the port
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
      const auto colon = local.rfind(':');
      if (state == "0A" && colon != std::string::npos && std::stoul(local.substr(colon + 1), nullptr, 16) == port) {
        inodes.insert(inode);
      }
    }
  }
  int held = 0;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    std::error_code error;
    const std::string target = std::filesystem::read_symlink(fd.path(), error).string();
    if (!error && target.rfind("socket:[", 0) == 0 && inodes.count(target.substr(8, target.size() - 9))) ++held;
  }
  return held;
}

// A reload while the previous generation still drains waits for it to be
// gone; the workers it then forks hold their own listening socket and no
// other (one inherited from the gone generation would stay in the port's
// SO_REUSEPORT group, and connections put in it would never be accepted).
TEST(Migration, AReloadThatWaitsForThePreviousOneLeavesNoStraySockets) {
  ReloadableServer s("stray", "workers: 2\nshutdown:\n  drain_timeout: 1s\n");
  // A client in the middle of a request cannot be handed over: it keeps
  // its retiring worker until drain_timeout.
  RespConnection partial(s.server.port);
  ASSERT_EQ(partial.command({"PING"}), "+PONG\r\n");
  partial.send("*2\r\n$3\r\nGET\r\n");
  ASSERT_EQ(s.reloadWorkers(4, "shutdown:\n  drain_timeout: 1s\n").exitCode, 0);
  const CommandResult second = s.reloadWorkers(3, "shutdown:\n  drain_timeout: 1s\n");
  ASSERT_EQ(second.exitCode, 0) << second.output;
  ASSERT_TRUE(s.settlesTo(3));
  std::ifstream log(s.server.configPath + ".log");
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("Ending the drain of the workers of the previous generation first"), std::string::npos)
      << "the second reload did not have to wait: this test proved nothing";
  const auto workers = workerPidsBySlot(s.server.process.pid(), 3);
  ASSERT_EQ(workers.size(), 3u);
  for (const auto& [slot, pid] : workers) EXPECT_EQ(listeningSocketsOn(pid, s.server.port), 1) << "worker " << slot;
  EXPECT_EQ(listeningSocketsOn(s.server.process.pid(), s.server.port), 3) << "the master: one per slot";
  for (int i = 0; i < 30; ++i) {  // new connections land on every slot, and each is served
    RespConnection c(s.server.port);
    ASSERT_EQ(c.command({"PING"}), "+PONG\r\n") << "connection " << i;
  }
}

TEST(Migration, DrainTimeoutBoundsARetiringWorker) {
  ReloadableServer s("timeout", "workers: 1\nshutdown:\n  drain_timeout: 1s\n");
  RespConnection writer(s.server.port);
  ASSERT_EQ(writer.command({"SET", "big", std::string(100 * 1024, 'x')}), "+OK\r\n");
  // Never reads its 20 MB of replies: never between two requests, so only
  // drain_timeout (then the linger time) can end it.
  RespConnection stuck(s.server.port);
  std::string gets;
  for (int i = 0; i < 200; ++i) gets += RespConnection::encode({"GET", "big"});
  stuck.send(gets);
  std::this_thread::sleep_for(100ms);
  const auto start = Clock::now();
  ASSERT_EQ(s.reloadWorkers(2, "shutdown:\n  drain_timeout: 1s\n").exitCode, 0);
  EXPECT_TRUE(s.settlesTo(2, 10s));
  const auto took = Clock::now() - start;
  EXPECT_GE(took, 900ms) << "the retiring worker did not wait for its client";
  EXPECT_LT(took, 5s) << "drain_timeout was not respected";
  EXPECT_EQ(writer.command({"STRLEN", "big"}), ":102400\r\n");  // moved on, data intact
}

// Writes the server's config with `listen` entries (ports, in order).
CommandResult reloadListening(ReloadableServer& s, const std::vector<std::uint16_t>& ports, int workers) {
  std::ofstream config(s.server.configPath, std::ios::trunc);
  config << "listen:\n";
  for (std::uint16_t port : ports) config << "  - address: 127.0.0.1\n    port: " << port << "\n";
  config << "pidfile: " << s.pidfile << "\nworkers: " << workers << "\n" << testDefaults(s.server.configPath, "");
  config.close();
  return runCommand(keyloopBinary() + " -s reload -c " + s.server.configPath, 90);
}

std::string processOf(std::uint16_t port) {
  RespConnection c(port);
  const std::string info = c.command({"INFO", "server"});
  const auto at = info.find("process_id:");
  return at == std::string::npos ? "" : info.substr(at + 11, info.find("\r\n", at) - at - 11);
}

TEST(Migration, ListenChangesOpenAndCloseSockets) {
  ReloadableServer s("listen", "workers: 2\n");
  const std::uint16_t first = s.server.port, second = freePort();
  // A new address in front of the old one, and one worker fewer: the old
  // address keeps its sockets (now the second entry), steered to worker 0.
  CommandResult r = reloadListening(s, {second, first}, 1);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  {
    RespConnection c(second);
    EXPECT_EQ(c.command({"SET", "via", "second"}), "+OK\r\n");
  }
  const auto serving = workerPidsBySlot(s.server.process.pid(), 1);
  ASSERT_EQ(serving.size(), 1u);
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(processOf(first), std::to_string(serving.begin()->second)) << "connection " << i;
  }
  RespConnection old(first);
  EXPECT_EQ(old.command({"GET", "via"}), bulk("second"));
  // Only the second address now; the first goes away with the retiring workers.
  r = reloadListening(s, {second}, 2);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_EQ(old.command({"GET", "via"}), bulk("second"));  // an open connection is still served
  ASSERT_TRUE(s.settlesTo(2));
  EXPECT_EQ(old.command({"GET", "via"}), bulk("second"));  // and moved to a new worker
  // The master closes the address once it has reaped the retiring workers.
  bool refused = false;
  for (int attempt = 0; attempt < 100 && !refused; ++attempt) {
    try {
      RespConnection probe(first);
      std::this_thread::sleep_for(20ms);
    } catch (const std::runtime_error&) {
      refused = true;
    }
  }
  EXPECT_TRUE(refused) << "the removed address still accepts connections";
  RespConnection c(second);
  EXPECT_EQ(c.command({"GET", "via"}), bulk("second"));
}

// Values of every type move with a reload, big tables in parts (each
// part a slice of the copy): their contents, encodings and TTLs arrive.
TEST(Migration, ValuesOfEveryTypeAndBigTablesMoveIntact) {
  ReloadableServer s("typed", "workers: 2\n");
  RespConnection c(s.server.port);
  constexpr int kBig = 100000;
  std::string batch;
  for (int i = 0; i < kBig; i += 1000) {
    std::vector<std::string> hset{"HSET", "bighash"}, sadd{"SADD", "bigset"};
    for (int j = i; j < i + 1000; ++j) {
      hset.insert(hset.end(), {"field:" + std::to_string(j), std::to_string(j)});
      sadd.push_back("member:" + std::to_string(j));
    }
    batch += RespConnection::encode(hset) + RespConnection::encode(sadd);
  }
  c.send(batch);
  for (int i = 0; i < 2 * kBig / 1000; ++i) ASSERT_EQ(c.readReply().value_or("").substr(0, 1), ":");
  const std::vector<std::vector<std::string>> small = {
      {"HSET", "small", "a", "1", "b", "2"}, {"SADD", "ints", "3", "1", "2"}, {"SADD", "strs", "x", "y"},
      {"PFADD", "hll", "a", "b", "c"}, {"SETBIT", "bits", "100", "1"}, {"PEXPIRE", "small", "600000"},
      {"PEXPIRE", "bighash", "600000"}};
  for (const auto& command : small) ASSERT_NE(c.command(command).substr(0, 1), "-");
  // A stream big enough to move in parts, with a group whose pending entries move last.
  std::string xadds;
  for (int i = 1; i <= 5000; ++i) xadds += RespConnection::encode({"XADD", "bigstream", std::to_string(i) + "-1", "n", std::to_string(i)});
  c.send(xadds);
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(c.readReply().value_or("").substr(0, 1), "$");
  ASSERT_EQ(c.command({"XGROUP", "CREATE", "bigstream", "g", "0"}), "+OK\r\n");
  ASSERT_EQ(c.command({"XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "bigstream", ">"}).substr(0, 1), "*");
  const std::string pending = c.command({"XPENDING", "bigstream", "g"});
  const std::string tail = c.command({"XREVRANGE", "bigstream", "+", "-", "COUNT", "2"});
  const std::string hll = c.command({"GET", "hll"});
  for (int workers : {3, 1}) {
    ASSERT_EQ(s.reloadWorkers(workers).exitCode, 0);
    ASSERT_TRUE(s.settlesTo(workers));
    RespConnection fresh(s.server.port);
    EXPECT_EQ(fresh.command({"HLEN", "bighash"}), ":" + std::to_string(kBig) + "\r\n");
    EXPECT_EQ(fresh.command({"SCARD", "bigset"}), ":" + std::to_string(kBig) + "\r\n");
    for (int j = 0; j < kBig; j += 9973) {
      EXPECT_EQ(fresh.command({"HGET", "bighash", "field:" + std::to_string(j)}), bulk(std::to_string(j)));
      EXPECT_EQ(fresh.command({"SISMEMBER", "bigset", "member:" + std::to_string(j)}), ":1\r\n");
    }
    EXPECT_EQ(fresh.command({"OBJECT", "ENCODING", "bighash"}), bulk("hashtable"));
    EXPECT_EQ(fresh.command({"HGETALL", "small"}), "*4\r\n" + bulk("a") + bulk("1") + bulk("b") + bulk("2"));
    EXPECT_EQ(fresh.command({"SMEMBERS", "ints"}), "*3\r\n" + bulk("1") + bulk("2") + bulk("3"));
    EXPECT_EQ(fresh.command({"OBJECT", "ENCODING", "ints"}), bulk("intset"));
    EXPECT_EQ(fresh.command({"SCARD", "strs"}), ":2\r\n");
    EXPECT_EQ(fresh.command({"GET", "hll"}), hll);
    EXPECT_EQ(fresh.command({"GETBIT", "bits", "100"}), ":1\r\n");
    EXPECT_GT(integerOf(fresh.command({"PTTL", "bighash"})), 0) << "the big hash lost its TTL";
    EXPECT_GT(integerOf(fresh.command({"PTTL", "small"})), 0);
    EXPECT_EQ(fresh.command({"XLEN", "bigstream"}), ":5000\r\n");
    EXPECT_EQ(fresh.command({"XREVRANGE", "bigstream", "+", "-", "COUNT", "2"}), tail);
    EXPECT_EQ(fresh.command({"XPENDING", "bigstream", "g"}), pending);
    EXPECT_EQ(fresh.command({"XRANGE", "bigstream", "2500-1", "2500-1"}),
              "*1\r\n*2\r\n" + bulk("2500-1") + "*2\r\n" + bulk("n") + bulk("2500"));
  }
}

TEST(Migration, RetiredSlotsGetNoNewConnections) {
  ReloadableServer s("steer", "workers: 4\n");
  ASSERT_EQ(s.reloadWorkers(1).exitCode, 0);
  const auto serving = workerPidsBySlot(s.server.process.pid(), 1);
  ASSERT_EQ(serving.size(), 1u);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(processOf(s.server.port), std::to_string(serving.begin()->second))
        << "connection " << i << " landed on a retiring worker";
  }
  ASSERT_TRUE(s.settlesTo(1));
  // And the other way: from 1 to 3, new connections reach every worker.
  ASSERT_EQ(s.reloadWorkers(3).exitCode, 0);
  const auto three = workerPidsBySlot(s.server.process.pid(), 3);
  ASSERT_EQ(three.size(), 3u);
  std::map<std::string, int> seen;
  for (int i = 0; i < 120; ++i) seen[processOf(s.server.port)]++;
  EXPECT_EQ(seen.size(), 3u);
}

// A retiring worker that dies before it handed its keys over: its keys are
// lost (there is no persistence), but nobody waits for it forever: the
// reload completes and the rest of the data is served.
TEST(Migration, ARetiringWorkerThatDiesDoesNotHangTheReload) {
  ReloadableServer s("crash", "workers: 2\n");
  RespConnection c(s.server.port);
  constexpr int kKeys = 2000;
  for (int i = 0; i < kKeys; ++i) c.sendCommand({"SET", "k" + std::to_string(i), "v"});
  for (int i = 0; i < kKeys; ++i) ASSERT_EQ(c.readReply(), "+OK\r\n");
  const auto old = workerPidsBySlot(s.server.process.pid(), 2);
  ASSERT_EQ(old.size(), 2u);
  ::kill(old.at(1), SIGSTOP);  // it will never hand over
  CommandResult r;
  std::thread reload([&] { r = s.reloadWorkers(3); });
  std::this_thread::sleep_for(300ms);
  ::kill(old.at(1), SIGKILL);
  reload.join();
  EXPECT_EQ(r.exitCode, 0) << r.output;
  ASSERT_TRUE(s.settlesTo(3));
  RespConnection fresh(s.server.port);
  const long long left = integerOf(fresh.command({"DBSIZE"}));
  EXPECT_GT(left, kKeys / 4) << "worker 0's keys should have moved";
  EXPECT_LT(left, kKeys) << "worker 1's keys cannot have moved";
  EXPECT_EQ(fresh.command({"SET", "after", "crash"}), "+OK\r\n");
  EXPECT_EQ(fresh.command({"GET", "after"}), bulk("crash"));
}

TEST(Migration, MetricsShowTheHandOver) {
  const std::uint16_t metricsPort = freePort();
  const std::string metrics = "metrics:\n  port: " + std::to_string(metricsPort) + "\n";
  ReloadableServer s("metrics", "workers: 2\n" + metrics);
  ASSERT_TRUE(waitForPort(metricsPort));
  RespConnection c(s.server.port);
  for (int i = 0; i < 500; ++i) c.sendCommand({"SET", "k" + std::to_string(i), "v"});
  for (int i = 0; i < 500; ++i) ASSERT_EQ(c.readReply(), "+OK\r\n");
  ASSERT_EQ(s.reloadWorkers(3, metrics).exitCode, 0);
  const std::string scrape = httpGet(metricsPort, "/metrics").body;
  EXPECT_NE(scrape.find("\nkeyloop_config_generation 2\n"), std::string::npos) << scrape;
  EXPECT_NE(scrape.find("\nkeyloop_migrated_keys_total 500\n"), std::string::npos) << scrape;
  EXPECT_NE(scrape.find("\nkeyloop_draining_connections "), std::string::npos) << scrape;
  EXPECT_NE(scrape.find("\nkeyloop_reload_duration_seconds "), std::string::npos);
  EXPECT_NE(scrape.find("keyloop_keys{worker=\"2\"}"), std::string::npos);
}

}  // namespace
}  // namespace keyloop::test
