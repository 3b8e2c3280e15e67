// The nginx-style process model, tested from outside like nginx's own test
// suite: the real binary with 2 and 4 workers, real signals, real clients.
// Master and workers as `ps` shows them, a killed worker replaced while the
// others keep serving, graceful and fast shutdown, no orphans, keys spread
// over workers, and cross-worker commands that no client sees half done.
#include <gtest/gtest.h>
#include <algorithm>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <thread>

#include "common/ring/ring.h"
#include "tests/support/keyspace.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

using namespace std::chrono_literals;

bool alive(pid_t pid) { return ::kill(pid, 0) == 0 && commandLineOf(pid).rfind("keyloop", 0) == 0; }

// Waits until `condition` holds or `timeout` passes; returns whether it held.
template <typename Condition>
bool waitFor(Condition condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

std::string workers(int n) { return "workers: " + std::to_string(n) + "\nshutdown:\n  drain_timeout: 5s\n"; }

// The pid of the worker a connection landed on (INFO runs where it arrives).
pid_t workerOf(RespConnection& c) {
  const std::string info = c.command({"INFO", "server"});
  const auto at = info.find("process_id:");
  return at == std::string::npos ? -1 : static_cast<pid_t>(std::atoi(info.c_str() + at + 11));
}

// A key owned by `worker` of `workers`, different for each `index`.
std::string keyOwnedBy(int worker, int workers, int index = 0) {
  const ring::Ring ring(workers);
  for (int i = 0;; ++i) {
    std::string key = "key:" + std::to_string(i);
    if (ring.ownerOf(key) == worker && index-- == 0) return key;
  }
}

class Workers : public ::testing::TestWithParam<int> {};

TEST_P(Workers, PsShowsTheMasterAndOneProcessPerWorker) {
  KeyloopServer server(workers(GetParam()));
  std::map<pid_t, std::string> children;
  ASSERT_TRUE(waitFor([&] { return (children = childrenOf(server.process.pid())).size() == static_cast<std::size_t>(GetParam()); }, 5s));
  EXPECT_EQ(commandLineOf(server.process.pid()).rfind("keyloop: master process -c " + server.configPath, 0), 0u)
      << commandLineOf(server.process.pid());
  std::set<std::string> titles;
  for (const auto& [pid, title] : children) titles.insert(title);
  for (int w = 0; w < GetParam(); ++w) {
    EXPECT_TRUE(titles.count("keyloop: worker process " + std::to_string(w))) << "worker " << w;
  }
}

TEST_P(Workers, EveryConnectionSeesOneKeyspace) {
  KeyloopServer server(workers(GetParam()));
  std::vector<std::unique_ptr<RespConnection>> connections;
  std::set<pid_t> landedOn;
  for (int i = 0; i < 16; ++i) {
    connections.push_back(std::make_unique<RespConnection>(server.port));
    landedOn.insert(workerOf(*connections.back()));
  }
  EXPECT_GT(landedOn.size(), 1u) << "SO_REUSEPORT spread 16 connections over one worker only";
  for (int i = 0; i < 200; ++i) {
    auto& c = *connections[static_cast<std::size_t>(i) % connections.size()];
    ASSERT_EQ(c.command({"INCR", "shared"}), ":" + std::to_string(i + 1) + "\r\n");
    ASSERT_EQ(c.command({"SET", "k" + std::to_string(i), std::to_string(i)}), "+OK\r\n");
  }
  for (int i = 0; i < 200; ++i) {
    auto& c = *connections[static_cast<std::size_t>(i * 7) % connections.size()];
    const std::string v = std::to_string(i);
    ASSERT_EQ(c.command({"GET", "k" + v}), "$" + std::to_string(v.size()) + "\r\n" + v + "\r\n");
  }
  EXPECT_EQ(connections[3]->command({"DBSIZE"}), ":201\r\n");
}

// The commands about the connection itself answer the same on every
// worker: CLIENT INFO is this connection's line, COMMAND INFO the row.
TEST_P(Workers, ConnectionCommandsAnswerTheSameOnEveryWorker) {
  KeyloopServer server(workers(GetParam()));
  std::set<pid_t> landedOn;
  for (int i = 0; i < 16; ++i) {
    RespConnection c(server.port);
    landedOn.insert(workerOf(c));
    ASSERT_EQ(c.command({"CLIENT", "SETNAME", "conn" + std::to_string(i)}), "+OK\r\n");
    const std::string line = c.command({"CLIENT", "INFO"});
    EXPECT_EQ(line.find("id="), line.find("\r\n") + 2) << line;
    EXPECT_NE(line.find(" name=conn" + std::to_string(i) + " "), std::string::npos) << line;
    EXPECT_EQ(c.command({"COMMAND", "INFO", "get"}).rfind("*1\r\n*10\r\n$3\r\nget\r\n", 0), 0u);
  }
  EXPECT_GT(landedOn.size(), 1u) << "SO_REUSEPORT spread 16 connections over one worker only";
}

// CLIENT LIST lists the clients of every worker, each id once (ids are
// unique across workers, as CLIENT KILL ID needs), in id order.
TEST_P(Workers, ClientListShowsEveryWorkersClientsOnce) {
  KeyloopServer server(workers(GetParam()));
  std::vector<std::unique_ptr<RespConnection>> clients;
  std::set<std::string> ids;
  std::set<pid_t> landedOn;
  for (int i = 0; i < 12; ++i) {
    clients.push_back(std::make_unique<RespConnection>(server.port));
    landedOn.insert(workerOf(*clients.back()));
    ASSERT_EQ(clients.back()->command({"CLIENT", "SETNAME", "c" + std::to_string(i)}), "+OK\r\n");
    ids.insert(clients.back()->command({"CLIENT", "ID"}));
  }
  EXPECT_EQ(ids.size(), clients.size()) << "two connections share an id";
  ASSERT_GT(landedOn.size(), 1u);
  for (const auto& c : clients) {
    const std::string list = c->command({"CLIENT", "LIST"});
    long lastId = 0;
    int lines = 0;
    for (std::size_t at = list.find("id="); at != std::string::npos; at = list.find("\nid=", at + 1)) {
      const long id = std::atol(list.c_str() + list.find('=', at) + 1);
      EXPECT_GT(id, lastId) << list;
      lastId = id;
      ++lines;
    }
    EXPECT_EQ(lines, 12) << list;
    for (int i = 0; i < 12; ++i) EXPECT_NE(list.find(" name=c" + std::to_string(i) + " "), std::string::npos) << list;
  }
  // CLIENT LIST ID: the named ones, wherever they talk; an id no client has, nothing.
  const auto idOf = [](RespConnection& c) {
    const std::string reply = c.command({"CLIENT", "ID"});  // ":<id>\r\n"
    return reply.substr(1, reply.size() - 3);
  };
  const std::string some = clients[0]->command({"CLIENT", "LIST", "ID", idOf(*clients[3]), idOf(*clients[7]), "999999"});
  EXPECT_NE(some.find(" name=c3 "), std::string::npos) << some;
  EXPECT_NE(some.find(" name=c7 "), std::string::npos) << some;
  EXPECT_EQ(std::count(some.begin(), some.end(), '\n'), 4) << some;  // the bulk's header, two lines, its end
  EXPECT_EQ(clients[0]->command({"CLIENT", "LIST", "ID", "x"}), "-ERR Invalid client ID\r\n");
}

// A database smaller than COUNT comes back in one SCAN page with cursor 0,
// as from one redis-server, whichever workers hold its keys.
TEST_P(Workers, ASmallDatabaseScansInOnePage) {
  KeyloopServer server(workers(GetParam()));
  RespConnection c(server.port);
  std::set<std::string> keys;
  for (int w = 0; w < GetParam(); ++w) {
    const std::string key = keyOwnedBy(w, GetParam());
    ASSERT_EQ(c.command({"SET", key, "v"}), "+OK\r\n");
    keys.insert("$" + std::to_string(key.size()) + "\r\n" + key + "\r\n");
  }
  for (const char* count : {"1000", "10"}) {
    const std::string page = c.command({"SCAN", "0", "COUNT", count});
    const std::vector<std::string> parts = RespConnection::elements(page);
    ASSERT_EQ(parts.size(), 2u) << page;
    EXPECT_EQ(parts[0], "$1\r\n0\r\n") << page;
    const std::vector<std::string> found = RespConnection::elements(parts[1]);
    EXPECT_EQ(std::set<std::string>(found.begin(), found.end()), keys) << page;
  }
  // A smaller COUNT still pages, and the pages together hold every key once.
  std::multiset<std::string> seen;
  std::string cursor = "0";
  int pages = 0;
  do {
    const std::vector<std::string> parts = RespConnection::elements(c.command({"SCAN", cursor, "COUNT", "1"}));
    ASSERT_EQ(parts.size(), 2u);
    cursor = parts[0].substr(parts[0].find("\r\n") + 2);
    cursor.resize(cursor.size() - 2);
    for (const std::string& key : RespConnection::elements(parts[1])) seen.insert(key);
  } while (cursor != "0" && ++pages < 1000);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), keys);
  EXPECT_EQ(seen.size(), keys.size());
}

INSTANTIATE_TEST_SUITE_P(TwoAndFour, Workers, ::testing::Values(2, 4));

// 100k random keys land within 10% of an even share on each of 4 workers.
TEST(Sharding, KeysSpreadEvenlyOverWorkers) {
  KeyloopServer server(workers(4));
  RespConnection c(server.port);
  std::mt19937_64 rng(7);
  constexpr int kKeys = 100000, kBatch = 1000;
  for (int sent = 0; sent < kKeys; sent += kBatch) {
    std::string batch;
    for (int i = 0; i < kBatch; ++i) batch += RespConnection::encode({"SET", "r:" + std::to_string(rng()), "v"});
    c.send(batch);
    for (int i = 0; i < kBatch; ++i) ASSERT_EQ(c.readReply(), "+OK\r\n");
  }
  const std::string info = c.command({"INFO", "workers"});
  for (int w = 0; w < 4; ++w) {
    const std::string field = "worker" + std::to_string(w) + ":keys=";
    const auto at = info.find(field);
    ASSERT_NE(at, std::string::npos) << info;
    const long keys = std::atol(info.c_str() + at + field.size());
    EXPECT_NEAR(keys, kKeys / 4, kKeys / 40) << info;
  }
  EXPECT_EQ(c.command({"DBSIZE"}), ":100000\r\n");
}

TEST(Supervision, AKilledWorkerIsReplacedWithinASecondWhileOthersServe) {
  KeyloopServer server(workers(2));
  const pid_t master = server.process.pid();
  ASSERT_TRUE(waitFor([&] { return childrenOf(master).size() == 2; }, 5s));
  // One connection on each worker.
  std::unique_ptr<RespConnection> onVictim, onSurvivor;
  pid_t victim = -1, survivor = -1;
  for (int i = 0; i < 64 && !(onVictim && onSurvivor); ++i) {
    auto c = std::make_unique<RespConnection>(server.port);
    const pid_t pid = workerOf(*c);
    if (!onVictim) {
      victim = pid;
      onVictim = std::move(c);
    } else if (pid != victim && !onSurvivor) {
      survivor = pid;
      onSurvivor = std::move(c);
    }
  }
  ASSERT_TRUE(onVictim && onSurvivor) << "could not land a connection on each worker";
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  const auto killedAt = std::chrono::steady_clock::now();
  // The survivor never stopped: its connection answers at once.
  EXPECT_EQ(onSurvivor->command({"PING"}), "+PONG\r\n");
  EXPECT_TRUE(onVictim->closedByPeer(2s));
  // A new worker takes the slot within a second.
  pid_t replacement = -1;
  EXPECT_TRUE(waitFor([&] {
    for (const auto& [pid, title] : childrenOf(master)) {
      if (pid != victim && pid != survivor && title.rfind("keyloop: worker process", 0) == 0) replacement = pid;
    }
    return replacement > 0;
  }, 1s));
  // ...and serves: keys of both workers work again, from any connection.
  EXPECT_TRUE(waitFor([&] {
    RespConnection fresh(server.port);
    return fresh.command({"SET", keyOwnedBy(0, 2), "x"}) == "+OK\r\n" &&
           fresh.command({"SET", keyOwnedBy(1, 2), "y"}) == "+OK\r\n";
  }, 2s));
  EXPECT_LT(std::chrono::steady_clock::now() - killedAt, 3s);
  EXPECT_EQ(onSurvivor->command({"PING"}), "+PONG\r\n");
  EXPECT_EQ(workerOf(*onSurvivor), survivor);
  EXPECT_TRUE(alive(survivor));
}

// Of two workers, stops (SIGSTOP) the one connection `c` is not on, and
// names a key it owns (so `c` must forward requests for it); pid -1 if
// there is no such worker.
struct OtherWorker {
  pid_t pid = -1;
  std::string key;
};
OtherWorker stopTheOtherWorker(KeyloopServer& server, RespConnection& c) {
  if (!waitFor([&] { return childrenOf(server.process.pid()).size() == 2; }, 5s)) return {};
  const pid_t here = workerOf(c);
  for (const auto& [pid, title] : childrenOf(server.process.pid())) {
    if (pid == here) continue;
    OtherWorker other{pid, keyOwnedBy(commandLineOf(pid).back() - '0', 2)};
    return ::kill(pid, SIGSTOP) == 0 ? other : OtherWorker{};
  }
  return {};
}

// A worker that stops answering (stopped, or being restarted) makes requests
// for its keys fail with -TRYAGAIN within seconds: they never hang.
TEST(Supervision, RequestsForAnUnresponsiveWorkersKeysFailWithTryagain) {
  KeyloopServer server(workers(2));
  RespConnection c(server.port);
  const auto [other, remote] = stopTheOtherWorker(server, c);
  ASSERT_GT(other, 0);
  const auto start = std::chrono::steady_clock::now();
  const auto reply = c.command({"GET", remote});
  const auto waited = std::chrono::steady_clock::now() - start;
  ::kill(other, SIGCONT);
  EXPECT_EQ(reply.rfind("-TRYAGAIN", 0), 0u) << reply;
  EXPECT_LT(waited, 5s);
  EXPECT_EQ(c.command({"SET", remote, "v"}), "+OK\r\n");  // served again once it is back
}

TEST(Supervision, AReplacementDoesNotReplayWhatItsPredecessorLeftUnread) {
  // A request a worker died on would kill its replacement too if replayed
  // (SETRANGE with an offset near 2^63 once did, every 5 s, for good).
  KeyloopServer server(workers(2));
  RespConnection c(server.port);
  const auto [other, remote] = stopTheOtherWorker(server, c);
  ASSERT_GT(other, 0);
  c.send(RespConnection::encode({"SET", remote, "unread"}));
  std::this_thread::sleep_for(200ms);  // forwarded into the stopped worker's inbox
  ASSERT_EQ(::kill(other, SIGKILL), 0);
  ASSERT_TRUE(waitFor([&] {
    const auto children = childrenOf(server.process.pid());
    return children.size() == 2 && !children.contains(other);
  }, 5s));
  EXPECT_EQ(c.readReply().value_or("(nothing)").rfind("-TRYAGAIN", 0), 0u);
  EXPECT_EQ(c.command({"GET", remote}), "$-1\r\n");
  EXPECT_EQ(c.command({"SET", remote, "v"}), "+OK\r\n");  // the replacement serves
  EXPECT_EQ(c.command({"GET", remote}), "$1\r\nv\r\n");
}

TEST(Shutdown, SigquitDrainsAPipelinedClientBeforeExiting) {
  KeyloopServer server(workers(2));
  RespConnection c(server.port);
  ASSERT_EQ(c.command({"PING"}), "+PONG\r\n");  // accepted, not just queued
  constexpr int kRequests = 20000;
  std::string pipeline;
  for (int i = 0; i < kRequests; ++i) pipeline += RespConnection::encode({"SET", "p:" + std::to_string(i), "v"});
  std::thread sender([&] { c.send(pipeline); });
  // In flight: the server has started answering (a client idle when the
  // signal comes is closed at once, like nginx's idle keep-alives).
  int ok = c.readReply() == "+OK\r\n" ? 1 : 0;
  ASSERT_EQ(::kill(server.process.pid(), SIGQUIT), 0);
  for (int i = 1; i < kRequests; ++i) {
    if (c.readReply() == "+OK\r\n") ++ok;
  }
  sender.join();
  EXPECT_EQ(ok, kRequests);
  EXPECT_TRUE(c.closedByPeer(3s));
  auto status = server.process.stop(0, 10s);  // signal 0: only wait
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
}

TEST(Shutdown, SigtermExitsPromptlyWithClientsConnected) {
  KeyloopServer server(workers(4));
  std::vector<std::unique_ptr<RespConnection>> idle;
  for (int i = 0; i < 8; ++i) idle.push_back(std::make_unique<RespConnection>(server.port));
  ASSERT_EQ(idle[0]->command({"PING"}), "+PONG\r\n");
  const auto workersBefore = childrenOf(server.process.pid());
  const auto start = std::chrono::steady_clock::now();
  auto status = server.process.stop(SIGTERM, 5s);
  ASSERT_TRUE(status.has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  for (const auto& [pid, title] : workersBefore) EXPECT_FALSE(alive(pid)) << title;
}

TEST(Shutdown, KillingTheMasterLeavesNoWorkerBehind) {
  KeyloopServer server(workers(4));
  std::map<pid_t, std::string> before;
  ASSERT_TRUE(waitFor([&] { return (before = childrenOf(server.process.pid())).size() == 4; }, 5s));
  server.process.stop(SIGKILL);
  for (const auto& [pid, title] : before) {
    EXPECT_TRUE(waitFor([pid] { return !alive(pid); }, 2s)) << title << " outlived its master";
  }
}

// The master SIGKILLed while a worker is deep in a long operation: every
// keyloop process it had (and any it forked meanwhile) is gone at once,
// since a worker's death signal is SIGKILL, which nothing it runs can
// block. `busy` returns once the operation is under way.
void expectNoOrphansAfterKillingTheMasterDuring(KeyloopServer& server, const std::function<bool()>& busy) {
  ASSERT_TRUE(busy()) << "the operation never started";
  const std::map<pid_t, std::string> before = childrenOf(server.process.pid());
  ASSERT_FALSE(before.empty());
  server.process.stop(SIGKILL);
  for (const auto& [pid, title] : before) {
    EXPECT_TRUE(waitFor([pid] { return !alive(pid); }, 2s)) << title << " outlived its master";
  }
}

// Values no compression shrinks, so writing them takes a while.
void fillIncompressible(RespConnection& c, int values, std::size_t bytes) {
  std::mt19937_64 rng(7);
  std::string value(bytes, '\0');
  for (std::size_t i = 0; i + 8 <= bytes; i += 8) {
    const std::uint64_t word = rng();
    std::memcpy(value.data() + i, &word, 8);
  }
  for (int i = 0; i < values; ++i) {
    value[0] = static_cast<char>(i);
    ASSERT_EQ(c.command({"SET", "big:" + std::to_string(i), value}), "+OK\r\n");
  }
}

TEST(Orphans, NoneWhenTheMasterDiesDuringAScript) {
  KeyloopServer server("workers: 1\nbusy_reply_threshold: 50ms\n");
  RespConnection script(server.port), probe(server.port);
  script.sendCommand({"EVAL", "while true do end", "0"});
  expectNoOrphansAfterKillingTheMasterDuring(server, [&] {
    return waitFor([&] { return probe.command({"PING"}).rfind("-BUSY", 0) == 0; }, 10s);
  });
}

// A background write (BGSAVE, BGREWRITEAOF) of 128 MB, killed while INFO
// persistence's `field` says it is in progress.
void expectNoOrphansDuringBackgroundWrite(KeyloopServer& server, const std::string& command, const std::string& field) {
  RespConnection c(server.port);
  fillIncompressible(c, 16, 8 << 20);
  ASSERT_EQ(c.command({command}).rfind("+Background ", 0), 0u);
  expectNoOrphansAfterKillingTheMasterDuring(server, [&] {
    return waitFor([&] { return infoField(c, field) == "1"; }, 10s);
  });
}

TEST(Orphans, NoneWhenTheMasterDiesDuringASnapshotWrite) {
  KeyloopServer server("workers: 1\n");
  expectNoOrphansDuringBackgroundWrite(server, "BGSAVE", "rdb_bgsave_in_progress");
}

TEST(Orphans, NoneWhenTheMasterDiesDuringAnAofRewrite) {
  const TempDir dir("keyloop-orphans-aof-");
  KeyloopServer server("workers: 1\npersistence:\n  dir: " + dir.path + "\n  snapshot:\n    save: \"\"\n  aof:\n    enabled: yes\n");
  expectNoOrphansDuringBackgroundWrite(server, "BGREWRITEAOF", "aof_rewrite_in_progress");
}

TEST(Orphans, NoneWhenTheMasterDiesDuringAHandOver) {
  ReloadableServer s("orphans", "workers: 1\n");
  {
    RespConnection c(s.server.port);
    for (int batch = 0; batch < 200; ++batch) {
      std::vector<std::string> mset{"MSET"};
      for (int i = 0; i < 1000; ++i) {
        mset.push_back("k:" + std::to_string(batch) + ":" + std::to_string(i));
        mset.push_back(std::string(200, 'v'));
      }
      ASSERT_EQ(c.command(mset), "+OK\r\n");
    }
  }
  const pid_t master = s.server.process.pid();
  s.rewrite("workers: 2\n");
  ASSERT_EQ(::kill(master, SIGHUP), 0);  // not `keyloop -s reload`: it answers after the hand-over
  expectNoOrphansAfterKillingTheMasterDuring(s.server, [&] {
    return waitFor([&] {
      for (const auto& [pid, title] : childrenOf(master)) {
        if (title.find("is retiring") != std::string::npos) return true;
      }
      return false;
    }, 10s);
  });
}

TEST(Orphans, NoneWhenTheMasterDiesDuringABigFreeOnThePool) {
  KeyloopServer server("workers: 1\n");
  RespConnection c(server.port);
  for (int batch = 0; batch < 500; ++batch) {
    std::vector<std::string> sadd{"SADD", "huge"};
    for (int i = 0; i < 2000; ++i) sadd.push_back(std::to_string(batch) + ":" + std::to_string(i));
    ASSERT_EQ(c.command(sadd), ":2000\r\n");
  }
  ASSERT_EQ(c.command({"DEL", "huge"}), ":1\r\n");
  expectNoOrphansAfterKillingTheMasterDuring(server, [] { return true; });
}

// Cross-worker MSET and MGET are atomic: writers set two keys that live on
// different workers to the same value while readers MGET both; no reader
// ever sees them differ. RENAME across workers likewise: exactly one of the
// two names exists at every moment.
TEST(Atomicity, NoClientSeesACrossWorkerCommandHalfDone) {
  KeyloopServer server(workers(2));
  const std::string x = keyOwnedBy(0, 2), y = keyOwnedBy(1, 2);
  const std::string from = keyOwnedBy(0, 2, 1), to = keyOwnedBy(1, 2, 1);
  {
    RespConnection setup(server.port);
    ASSERT_EQ(setup.command({"MSET", x, "0", y, "0"}), "+OK\r\n");
    ASSERT_EQ(setup.command({"SET", from, "payload"}), "+OK\r\n");
  }
  std::atomic<bool> done{false};
  std::atomic<int> torn{0}, reads{0};
  auto writer = [&](int id) {
    RespConnection c(server.port);
    for (int i = 0; i < 400; ++i) {
      const std::string v = std::to_string(id * 100000 + i);
      if (c.command({"MSET", x, v, y, v}) != "+OK\r\n") ++torn;
    }
  };
  auto renamer = [&] {
    RespConnection c(server.port);
    for (int i = 0; i < 200; ++i) {
      if (c.command({"RENAME", i % 2 ? to : from, i % 2 ? from : to}) != "+OK\r\n") ++torn;
    }
  };
  auto reader = [&] {
    RespConnection c(server.port);
    while (!done) {
      const auto pair = RespConnection::elements(c.command({"MGET", x, y}));
      if (pair.size() != 2 || pair[0] != pair[1]) ++torn;
      const auto names = RespConnection::elements(c.command({"MGET", from, to}));
      if (names.size() != 2 || (names[0] == "$-1\r\n") == (names[1] == "$-1\r\n")) ++torn;
      ++reads;
    }
  };
  std::vector<std::thread> readers, writers;
  for (int i = 0; i < 3; ++i) readers.emplace_back(reader);
  for (int i = 0; i < 3; ++i) writers.emplace_back(writer, i);
  writers.emplace_back(renamer);
  for (auto& t : writers) t.join();
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(torn, 0);
  EXPECT_GT(reads, 100);
}

// MSETNX across workers: of many clients racing to claim overlapping key
// pairs, claims never overlap, and a refused MSETNX wrote nothing.
TEST(Atomicity, MsetnxAcrossWorkersIsAllOrNothing) {
  KeyloopServer server(workers(4));
  std::vector<std::string> keys;
  for (int w = 0; w < 4; ++w) keys.push_back(keyOwnedBy(w, 4, 2));
  std::atomic<int> won{0};
  std::vector<std::thread> racers;
  for (int id = 0; id < 8; ++id) {
    racers.emplace_back([&, id] {
      RespConnection c(server.port);
      const std::string& a = keys[static_cast<std::size_t>(id) % 4];
      const std::string& b = keys[static_cast<std::size_t>(id + 1) % 4];
      const std::string me = "client" + std::to_string(id);
      if (c.command({"MSETNX", a, me, b, me}) == ":1\r\n") ++won;
    });
  }
  for (auto& t : racers) t.join();
  RespConnection c(server.port);
  const auto values = RespConnection::elements(c.command({"MGET", keys[0], keys[1], keys[2], keys[3]}));
  ASSERT_EQ(values.size(), 4u);
  // Each winner owns exactly its two keys; every set key belongs to a winner
  // whose other key holds the same name.
  std::map<std::string, int> owned;
  for (const std::string& v : values) {
    if (v != "$-1\r\n") ++owned[v];
  }
  EXPECT_GE(won, 1);
  EXPECT_EQ(owned.size(), static_cast<std::size_t>(won.load()));
  for (const auto& [name, count] : owned) EXPECT_EQ(count, 2) << name;
}

}  // namespace
}  // namespace keyloop::test
