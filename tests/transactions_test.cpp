// Transactions and pub/sub across workers, against the real binary with 4
// workers: a reader never sees half of an EXEC whose keys live on
// different workers; WATCH races between two writers lose no increment;
// a message published on any worker reaches every subscriber on every
// worker once and in the publisher's order, and PUBLISH counts them all;
// a subscriber handed over by a reload keeps its subscriptions. Waits are
// for conditions (a reply, a count), never for a fixed time.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <thread>

#include "common/ring/ring.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

using namespace std::chrono_literals;

constexpr int kWorkers = 4;

std::string keyOn(int worker, const std::string& prefix = "k:") {
  const ring::Ring ring(kWorkers);
  for (int i = 0;; ++i) {
    std::string key = prefix + std::to_string(i);
    if (ring.ownerOf(key) == worker) return key;
  }
}

std::string bulk(const std::string& s) { return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n"; }

std::string message(const std::string& channel, const std::string& text) {
  return "*3\r\n" + bulk("message") + bulk(channel) + bulk(text);
}

struct Transactions : ::testing::Test {
  KeyloopServer server{"workers: 4\n"};
  RespConnection control{server.port};

  // Reads `keys` with MGET while `write(round)` sets all of them to the
  // round's number, rounds 1..kRounds, each atomically across the workers:
  // every read must see one round's value in every key. Returns the reads.
  static constexpr int kRounds = 300;
  int readWholeRounds(const std::vector<std::string>& keys, const std::function<void(RespConnection&, int)>& write) {
    for (const auto& k : keys) EXPECT_EQ(control.command({"SET", k, "0"}), "+OK\r\n");
    std::thread writer([&] {
      RespConnection w(server.port);
      for (int round = 1; round <= kRounds; ++round) write(w, round);
    });
    RespConnection reader(server.port);
    int reads = 0;
    std::string last = "0";
    while (last != std::to_string(kRounds)) {
      std::vector<std::string> mget{"MGET"};
      mget.insert(mget.end(), keys.begin(), keys.end());
      const auto values = RespConnection::elements(reader.command(mget));
      EXPECT_EQ(values.size(), keys.size());
      if (values.size() != keys.size()) break;
      bool whole = true;
      for (const auto& v : values) whole = whole && v == values.front();
      EXPECT_TRUE(whole) << "a read saw part of one write";
      if (!whole) break;
      last = values.front().substr(values.front().find("\r\n") + 2);
      last.resize(last.size() - 2);
      ++reads;
    }
    writer.join();
    return reads;
  }
};

TEST_F(Transactions, AReaderNeverSeesHalfOfAnExecAcrossFourWorkers) {
  const std::vector<std::string> keys{keyOn(0), keyOn(1), keyOn(2), keyOn(3)};
  const int reads = readWholeRounds(keys, [&](RespConnection& w, int round) {
    w.sendCommand({"MULTI"});
    for (const auto& k : keys) w.sendCommand({"SET", k, std::to_string(round)});
    w.sendCommand({"EXEC"});
    for (std::size_t i = 0; i < keys.size() + 1; ++i) w.readReply();
    const auto exec = w.readReply();
    ASSERT_TRUE(exec.has_value());
    ASSERT_EQ(exec->substr(0, 4), "*4\r\n");
  });
  EXPECT_GT(reads, 0);
}

TEST_F(Transactions, AReaderNeverSeesHalfOfAScriptAcrossFourWorkers) {
  const std::vector<std::string> keys{keyOn(0, "s:"), keyOn(1, "s:"), keyOn(2, "s:"), keyOn(3, "s:")};
  const int reads = readWholeRounds(keys, [&](RespConnection& w, int round) {
    std::vector<std::string> eval{"EVAL", "for i, k in ipairs(KEYS) do redis.call('SET', k, ARGV[1]) end return #KEYS", "4"};
    eval.insert(eval.end(), keys.begin(), keys.end());
    eval.push_back(std::to_string(round));
    ASSERT_EQ(w.command(eval), ":4\r\n");
  });
  EXPECT_GT(reads, 0);
}

TEST_F(Transactions, WatchRacesLoseNoIncrementWhenTheKeysLiveOnTwoWorkers) {
  const std::string counter = keyOn(1), mirror = keyOn(2);
  constexpr int kPerWriter = 100;
  auto incrementWithWatch = [&](int* retries) {
    RespConnection c(server.port);
    for (int done = 0; done < kPerWriter;) {
      ASSERT_EQ(c.command({"WATCH", counter, mirror}), "+OK\r\n");
      const std::string value = c.command({"GET", counter});
      const long long n = value == "$-1\r\n" ? 0 : std::atoll(value.c_str() + value.find("\r\n") + 2);
      c.sendCommand({"MULTI"});
      c.sendCommand({"SET", counter, std::to_string(n + 1)});
      c.sendCommand({"SET", mirror, std::to_string(n + 1)});
      c.sendCommand({"EXEC"});
      for (int i = 0; i < 3; ++i) c.readReply();
      const auto exec = c.readReply();
      ASSERT_TRUE(exec.has_value());
      if (*exec == "*-1\r\n") {
        ++*retries;
      } else {
        ASSERT_EQ(*exec, "*2\r\n+OK\r\n+OK\r\n");
        ++done;
      }
    }
  };
  int retriesA = 0, retriesB = 0;
  std::thread a(incrementWithWatch, &retriesA), b(incrementWithWatch, &retriesB);
  a.join();
  b.join();
  EXPECT_EQ(control.command({"GET", counter}), bulk(std::to_string(2 * kPerWriter)));
  EXPECT_EQ(control.command({"GET", mirror}), bulk(std::to_string(2 * kPerWriter)));
}

TEST_F(Transactions, EveryMessageReachesEverySubscriberOnEveryWorkerInOrder) {
  // Connections land on workers by the kernel's choice: eight of them
  // cover several workers, and the publishers use their own.
  constexpr int kSubscribers = 8, kMessages = 200;
  std::vector<std::unique_ptr<RespConnection>> subscribers;
  for (int i = 0; i < kSubscribers; ++i) {
    subscribers.push_back(std::make_unique<RespConnection>(server.port));
    EXPECT_EQ(subscribers.back()->command({"SUBSCRIBE", "jobs"}), "*3\r\n" + bulk("subscribe") + bulk("jobs") + ":1\r\n");
  }
  EXPECT_EQ(control.command({"PUBSUB", "NUMSUB", "jobs"}), "*2\r\n" + bulk("jobs") + ":" + std::to_string(kSubscribers) + "\r\n");
  std::vector<std::unique_ptr<RespConnection>> publishers;
  for (int p = 0; p < 2; ++p) publishers.push_back(std::make_unique<RespConnection>(server.port));
  for (int i = 0; i < kMessages; ++i) {
    for (int p = 0; p < 2; ++p) {
      publishers[p]->sendCommand({"PUBLISH", "jobs", std::to_string(p) + ":" + std::to_string(i)});
    }
  }
  for (int p = 0; p < 2; ++p) {
    for (int i = 0; i < kMessages; ++i) ASSERT_EQ(publishers[p]->readReply(), ":" + std::to_string(kSubscribers) + "\r\n");
  }
  for (auto& s : subscribers) {
    int next[2] = {0, 0};
    for (int i = 0; i < 2 * kMessages; ++i) {
      const auto m = s->readReply();
      ASSERT_TRUE(m.has_value());
      const auto parts = RespConnection::elements(*m);
      ASSERT_EQ(parts.size(), 3u);
      const std::string text = parts[2].substr(parts[2].find("\r\n") + 2, parts[2].size() - parts[2].find("\r\n") - 4);
      const int p = text[0] - '0';
      ASSERT_TRUE(p == 0 || p == 1) << text;
      ASSERT_EQ(*m, message("jobs", std::to_string(p) + ":" + std::to_string(next[p]))) << "out of order";
      ++next[p];
    }
  }
}

TEST(TransactionsReload, ASubscriberHandedOverByAReloadKeepsItsSubscriptions) {
  ReloadableServer s("pubsub", "workers: 2\n");
  RespConnection subscriber(s.server.port);
  ASSERT_EQ(subscriber.command({"SUBSCRIBE", "ops"}), "*3\r\n" + bulk("subscribe") + bulk("ops") + ":1\r\n");
  ASSERT_EQ(subscriber.command({"PSUBSCRIBE", "op*"}), "*3\r\n" + bulk("psubscribe") + bulk("op*") + ":2\r\n");
  const CommandResult r = s.reloadWorkers(3);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  ASSERT_TRUE(s.settlesTo(3)) << "the retiring workers did not leave";
  // Only new workers run now: the subscriber's connection moved to one.
  RespConnection control(s.server.port);
  EXPECT_EQ(control.command({"PUBLISH", "ops", "after"}), ":2\r\n");
  EXPECT_EQ(subscriber.readReply(), message("ops", "after"));
  EXPECT_EQ(subscriber.readReply(), "*4\r\n" + bulk("pmessage") + bulk("op*") + bulk("ops") + bulk("after"));
  EXPECT_EQ(subscriber.command({"UNSUBSCRIBE"}), "*3\r\n" + bulk("unsubscribe") + bulk("ops") + ":1\r\n");
}

TEST(Functions, DumpsRestoreBothWaysWithRedisServer) {
  RedisServer redis;
  KeyloopServer keyloop("workers: 4\n");
  RespConnection r(redis.port), k(keyloop.port);
  // Long enough that redis-server compresses it (LZF) in its dump.
  const std::string fromRedis =
      "#!lua name=fromredis\nredis.register_function('hello', function(keys, args) return 'hello from a library "
      "long enough to be compressed ' .. args[1] end)";
  ASSERT_EQ(r.command({"FUNCTION", "LOAD", fromRedis}), bulk("fromredis"));
  const std::string dump = r.command({"FUNCTION", "DUMP"});
  const std::string payload = dump.substr(dump.find("\r\n") + 2, dump.size() - dump.find("\r\n") - 4);
  ASSERT_EQ(k.command({"FUNCTION", "RESTORE", payload}), "+OK\r\n");
  EXPECT_EQ(k.command({"FCALL", "hello", "0", "x"}), bulk("hello from a library long enough to be compressed x"));
  const std::string fromKeyloop =
      "#!lua name=fromkeyloop\nredis.register_function('setget', function(keys, args) redis.call('set', keys[1], args[1]) "
      "return redis.call('get', keys[1]) end)";
  ASSERT_EQ(k.command({"FUNCTION", "LOAD", fromKeyloop}), bulk("fromkeyloop"));
  const std::string ours = k.command({"FUNCTION", "DUMP"});
  const std::string ourPayload = ours.substr(ours.find("\r\n") + 2, ours.size() - ours.find("\r\n") - 4);
  ASSERT_EQ(r.command({"FUNCTION", "FLUSH"}), "+OK\r\n");
  ASSERT_EQ(r.command({"FUNCTION", "RESTORE", ourPayload}), "+OK\r\n");
  EXPECT_EQ(r.command({"FCALL", "setget", "1", "k", "v"}), bulk("v"));
  EXPECT_EQ(r.command({"FCALL", "hello", "0", "y"}), bulk("hello from a library long enough to be compressed y"));
  // Every worker has the restored libraries: calls on keys of each of them.
  for (int w = 0; w < kWorkers; ++w) {
    EXPECT_EQ(k.command({"FCALL", "setget", "1", keyOn(w, "fn:"), "v" + std::to_string(w)}), bulk("v" + std::to_string(w)));
  }
}

TEST(Scripts, EvalshaFindsAScriptWhicheverWorkerAClientLandsOn) {
  KeyloopServer keyloop("workers: 4\n");
  RespConnection loader(keyloop.port);
  const std::string sha = loader.command({"SCRIPT", "LOAD", "return KEYS[1] .. ARGV[1]"});
  ASSERT_EQ(sha.size(), 47u) << sha;
  const std::string id = sha.substr(5, 40);
  // EVAL's scripts too: the worker that compiled one tells the others.
  const std::string evalSha = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db";  // sha1 of "return 1"
  ASSERT_EQ(loader.command({"EVAL", "return 1", "0"}), ":1\r\n");
  for (int w = 0; w < kWorkers; ++w) {
    RespConnection c(keyloop.port);
    EXPECT_EQ(c.command({"EVALSHA", id, "1", keyOn(w), "!"}), bulk(keyOn(w) + "!"));
    // Keyed by a key of worker w: the script runs there.
    bool found = false;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!found && std::chrono::steady_clock::now() < deadline) {
      const std::string r = c.command({"EVALSHA", evalSha, "1", keyOn(w)});
      found = r == ":1\r\n";
      if (!found) {
        ASSERT_EQ(r.substr(0, 9), "-NOSCRIPT") << r;
        std::this_thread::sleep_for(1ms);  // the message to that worker is on its way
      }
    }
    EXPECT_TRUE(found);
  }
}

// A script past busy-reply-threshold keeps its worker busy, and what speaks
// for the whole server answers -BUSY from every worker, as one redis-server
// would (a health check's PING, INFO, DBSIZE, KEYS, SCAN, FLUSHALL, SCRIPT
// and FUNCTION management), while the keys of the other workers are
// served; SCRIPT KILL from any worker stops it.
// A connection on each worker, by slot (SO_REUSEPORT spreads them).
std::map<int, std::unique_ptr<RespConnection>> connectionOnEachWorker(KeyloopServer& keyloop) {
  std::map<pid_t, int> slotOf;
  for (const auto& [slot, pid] : workerPidsBySlot(keyloop.process.pid(), kWorkers)) slotOf[pid] = slot;
  std::map<int, std::unique_ptr<RespConnection>> on;
  for (int i = 0; i < 400 && on.size() < slotOf.size(); ++i) {
    auto c = std::make_unique<RespConnection>(keyloop.port);
    const std::string info = c->command({"INFO", "server"});
    const auto at = info.find("process_id:");
    if (at == std::string::npos) continue;
    const int slot = slotOf[static_cast<pid_t>(std::atoi(info.c_str() + at + 11))];
    if (!on.count(slot)) on.emplace(slot, std::move(c));
  }
  return on;
}

// Starts `call` (a script that never ends) on `runner`'s worker and waits
// until `probe`, on another worker, answers PING with `busy`.
bool startBusyScript(RespConnection& runner, const std::vector<std::string>& call, RespConnection& probe,
                     const std::string& busy) {
  runner.sendCommand(call);
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (probe.command({"PING"}) == busy) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

TEST(Scripts, ABusyScriptIsVisibleFromEveryWorkerWhileTheirKeysAreServed) {
  KeyloopServer keyloop("workers: 4\nbusy_reply_threshold: 50ms\n");
  auto on = connectionOnEachWorker(keyloop);
  ASSERT_EQ(on.size(), static_cast<std::size_t>(kWorkers)) << "SO_REUSEPORT never gave some worker a connection";
  for (int w = 0; w < kWorkers; ++w) ASSERT_EQ(on[0]->command({"SET", keyOn(w), "v"}), "+OK\r\n");
  // EVAL without keys runs where it arrives: worker 0.
  const std::string busy = "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
  ASSERT_TRUE(startBusyScript(*on[0], {"EVAL", "local i = 0 while true do i = i + 1 end", "0"}, *on[1], busy));
  const std::vector<std::vector<std::string>> wholeServer = {
      {"PING"}, {"INFO"}, {"DBSIZE"}, {"KEYS", "*"}, {"SCAN", "0"}, {"RANDOMKEY"}, {"FLUSHALL"}, {"FLUSHDB"},
      {"SCRIPT", "FLUSH"}, {"SCRIPT", "LOAD", "return 1"}, {"FUNCTION", "FLUSH"}, {"FUNCTION", "LIST"}};
  for (int w = 1; w < kWorkers; ++w) {
    RespConnection& c = *on[w];
    for (const auto& command : wholeServer) EXPECT_EQ(c.command(command), busy) << "worker " << w << ": " << command[0];
    EXPECT_EQ(c.command({"GET", keyOn(w)}), "$1\r\nv\r\n") << "worker " << w << " stopped serving its keys";
    EXPECT_EQ(c.command({"GET", keyOn(0)}), busy);
    // A transaction over this worker's keys runs; one touching the busy worker's cannot.
    ASSERT_EQ(c.command({"MULTI"}), "+OK\r\n");
    ASSERT_EQ(c.command({"GET", keyOn(w)}), "+QUEUED\r\n");
    EXPECT_EQ(c.command({"EXEC"}), "*1\r\n$1\r\nv\r\n");
    ASSERT_EQ(c.command({"MULTI"}), "+OK\r\n");
    ASSERT_EQ(c.command({"GET", keyOn(0)}), "+QUEUED\r\n");
    const std::string refused = c.command({"EXEC"});
    EXPECT_NE(refused.find("BUSY Redis is busy running a script"), std::string::npos) << refused;
  }
  EXPECT_EQ(on[2]->command({"SCRIPT", "KILL"}), "+OK\r\n");
  const auto reply = on[0]->readReply();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->rfind("-ERR Script killed by user with SCRIPT KILL... script: ", 0), 0u) << *reply;
  for (auto& [w, c] : on) {
    EXPECT_EQ(c->command({"PING"}), "+PONG\r\n");
    EXPECT_EQ(c->command({"DBSIZE"}), ":4\r\n");
  }
  EXPECT_EQ(on[3]->command({"SCRIPT", "KILL"}), "-NOTBUSY No scripts in execution right now.\r\n");
}

// FUNCTION KILL and SHUTDOWN NOSAVE reach the busy worker from any other.
TEST(Scripts, FunctionKillAndShutdownNosaveFromAnyWorkerEndABusyFunction) {
  KeyloopServer keyloop("workers: 4\nbusy_reply_threshold: 50ms\n");
  auto on = connectionOnEachWorker(keyloop);
  ASSERT_EQ(on.size(), static_cast<std::size_t>(kWorkers));
  ASSERT_EQ(on[0]->command({"FUNCTION", "LOAD",
                            "#!lua name=spin\nredis.register_function{function_name='spin', callback=function() "
                            "while true do end end, flags={'no-writes'}}"}),
            "$4\r\nspin\r\n");
  const std::string busy = "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";
  ASSERT_TRUE(startBusyScript(*on[0], {"FCALL", "spin", "0"}, *on[1], busy));
  EXPECT_EQ(on[2]->command({"SCRIPT", "KILL"}), busy);
  EXPECT_EQ(on[2]->command({"FUNCTION", "KILL"}), "+OK\r\n");
  const auto killed = on[0]->readReply();
  ASSERT_TRUE(killed.has_value());
  // Redis 7.0 words it so for a function too.
  EXPECT_EQ(killed->rfind("-ERR Script killed by user with SCRIPT KILL...", 0), 0u) << *killed;
  ASSERT_TRUE(startBusyScript(*on[0], {"FCALL", "spin", "0"}, *on[1], busy));
  on[3]->sendCommand({"SHUTDOWN", "NOSAVE"});
  EXPECT_TRUE(on[3]->closedByPeer(10s));
  // Well before the master's last resort (SIGKILL to workers after 5 s):
  // the script itself ends at once.
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (keyloop.process.running() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  EXPECT_FALSE(keyloop.process.running()) << "SHUTDOWN NOSAVE left the busy worker running";
}

TEST(Scripts, AScriptThatWroteCannotBeKilledAndItsKeysAnswerBusyMeanwhile) {
  KeyloopServer keyloop("workers: 2\nbusy_reply_threshold: 50ms\n");
  const std::string key = [] {
    const ring::Ring ring(2);
    for (int i = 0;; ++i) {
      if (ring.ownerOf("busy:" + std::to_string(i)) == 0) return "busy:" + std::to_string(i);
    }
  }();
  RespConnection runner(keyloop.port);
  // Writes, then runs for about 600 ms by the server's clock.
  runner.sendCommand({"EVAL",
                      "redis.call('SET', KEYS[1], 'during') local t = redis.call('TIME') local start = t[1] * 1000000 + t[2] "
                      "repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - start > 600000 "
                      "redis.call('SET', KEYS[1], 'after') return 'done'",
                      "1", key});
  RespConnection killer(keyloop.port);
  std::string kill;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  do {
    kill = killer.command({"SCRIPT", "KILL"});
  } while (kill.rfind("-NOTBUSY", 0) == 0 && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(kill.rfind("-UNKILLABLE Sorry the script already executed write commands", 0), 0u) << kill;
  // A read of the key from any worker meanwhile: -BUSY, never "during".
  RespConnection reader(keyloop.port);
  const std::string value = reader.command({"GET", key});
  EXPECT_TRUE(value == "$5\r\nafter\r\n" || value.rfind("-BUSY", 0) == 0) << value;
  EXPECT_EQ(runner.readReply(), "$4\r\ndone\r\n");
  EXPECT_EQ(reader.command({"GET", key}), "$5\r\nafter\r\n");
}

}  // namespace
}  // namespace keyloop::test
