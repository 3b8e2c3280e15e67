// Differential test: the same command scripts go to a real redis-server and
// to keyloop; every reply must be byte-identical.
//
// Scripts live in tests/differential/*.txt, one command per line in
// redis-cli's quoting (sent as multibulk). Directives:
//   # comment
//   !sleep MS        wait (for expiry cases)
//   !raw "BYTES" [N] send raw bytes (C escapes, \xHH) and compare N replies (1)
//   !closed          both servers must have closed the connection
//   !reconnect       open fresh connections to both
//   !unordered CMD   compare an array reply as a multiset (KEYS: hash order)
//   !any CMD         both must reply, contents may differ (ids, clocks)
//   !read            send nothing, compare the next reply (a pub/sub message)
//   @N LINE          LINE over side connection N (1-9) instead (WATCH races,
//                    subscribers); side connections open on first use
//   !events CHANNEL  read messages up to one on CHANNEL; compare them key by
//                    key (keyspace notifications of keys on different workers
//                    arrive interleaved differently, each key's in order)
//
// keyloop runs with 4 workers. Every script runs over one connection; the
// scripts without per-connection state also run with each line sent over
// the next of 8 connections, so the same keys are touched through
// different connections and hence through different workers.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <algorithm>
#include <thread>

#include "common/resp/request_parser.h"
#include "tests/support/newer_commands.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

std::vector<std::string> scriptNames() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(sourceDir() + "/tests/differential")) {
    if (entry.path().extension() == ".txt") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

constexpr const char* kFourWorkers = "workers: 4\n";

// Scripts whose lines do not depend on the connection they arrive on.
std::vector<std::string> statelessScriptNames() {
  std::vector<std::string> names;
  for (const std::string& name : scriptNames()) {
    if (name != "connection" && name != "protocol" && name != "resp3" && name != "transactions" &&
        name != "pubsub" && name != "scripting" && name != "notifications" && name != "functions" &&
        name != "databases" && name != "tracking") {
      names.push_back(name);
    }
  }
  return names;
}

using Connections = std::vector<std::unique_ptr<RespConnection>>;

std::string bulkText(const std::string& frame) {
  const std::size_t eol = frame.find("\r\n");
  return eol == std::string::npos || frame.size() < eol + 4 ? frame : frame.substr(eol + 2, frame.size() - eol - 4);
}

// Messages up to (and with) one on `channel`, as each key's sequence of
// events and the sorted keyevent messages; nullopt if a read timed out.
std::optional<std::map<std::string, std::vector<std::string>>> eventsUntil(RespConnection& c, const std::string& channel) {
  std::map<std::string, std::vector<std::string>> byKey;
  for (int i = 0; i < 10000; ++i) {
    const auto reply = c.readReply();
    if (!reply) return std::nullopt;
    const auto parts = RespConnection::elements(*reply);
    if (parts.size() < 3) continue;
    const std::string on = bulkText(parts[parts.size() - 2]), text = bulkText(parts.back());
    if (on == channel) break;
    // A key's events in order, by database and key (__keyspace@<db>__:<key>).
    constexpr std::string_view kKeyspace = "__keyspace@";
    const std::size_t end = on.find("__:");
    if (on.rfind(kKeyspace, 0) == 0 && end != std::string::npos) {
      byKey[on.substr(kKeyspace.size(), end - kKeyspace.size()) + ":" + on.substr(end + 3)].push_back(text);
    } else {
      byKey["(keyevent)"].push_back(on + " " + text);
    }
  }
  std::sort(byKey["(keyevent)"].begin(), byKey["(keyevent)"].end());
  return byKey;
}

void runScript(const std::string& name, std::size_t connectionCount) {
  RedisServer redis;
  KeyloopServer keyloop(kFourWorkers);
  Connections redisConnections, keyloopConnections;
  auto connectBoth = [&] {
    redisConnections.clear();
    keyloopConnections.clear();
    for (std::size_t i = 0; i < connectionCount; ++i) {
      redisConnections.push_back(std::make_unique<RespConnection>(redis.port));
      keyloopConnections.push_back(std::make_unique<RespConnection>(keyloop.port));
    }
  };
  std::map<int, std::pair<std::unique_ptr<RespConnection>, std::unique_ptr<RespConnection>>> side;
  connectBoth();
  std::size_t turn = 0;
  RespConnection* toRedis = nullptr;
  RespConnection* toKeyloop = nullptr;

  std::ifstream script(sourceDir() + "/tests/differential/" + name + ".txt");
  ASSERT_TRUE(script) << "missing script";
  std::string line;
  int lineNumber = 0, compared = 0;
  while (std::getline(script, line)) {
    ++lineNumber;
    if (line.empty() || line[0] == '#') continue;
    const std::string where = name + ".txt:" + std::to_string(lineNumber) + ": " + line;
    int sideIndex = 0;
    if (line.size() > 3 && line[0] == '@' && line[2] == ' ') {
      sideIndex = line[1] - '0';
      line = line.substr(3);
    }
    std::vector<std::string> args;
    ASSERT_TRUE(resp::splitInlineArgs(line, args)) << where;
    if (args[0] == "!sleep") {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(args.at(1))));
      continue;
    }
    if (args[0] == "!reconnect") {
      connectBoth();
      side.clear();
      continue;
    }
    if (sideIndex > 0) {
      auto& pair = side[sideIndex];
      if (!pair.first) {
        pair.first = std::make_unique<RespConnection>(redis.port);
        pair.second = std::make_unique<RespConnection>(keyloop.port);
      }
      toRedis = pair.first.get();
      toKeyloop = pair.second.get();
    } else if (args[0] != "!closed") {  // !closed checks the connection used last
      toRedis = redisConnections[turn % connectionCount].get();
      toKeyloop = keyloopConnections[turn % connectionCount].get();
      ++turn;
    }
    if (args[0] == "!closed") {
      EXPECT_TRUE(toRedis->closedByPeer()) << where << " (redis kept it open)";
      EXPECT_TRUE(toKeyloop->closedByPeer()) << where << " (keyloop kept it open)";
      continue;
    }
    if (args[0] == "!events") {
      const auto expected = eventsUntil(*toRedis, args.at(1));
      const auto actual = eventsUntil(*toKeyloop, args.at(1));
      ASSERT_TRUE(expected.has_value()) << where << ": redis-server's messages stopped";
      ASSERT_TRUE(actual.has_value()) << where << ": keyloop's messages stopped";
      EXPECT_EQ(*actual, *expected) << where;
      ++compared;
      continue;
    }
    const bool unordered = args[0] == "!unordered";
    const bool any = args[0] == "!any";
    if (unordered || any) args.erase(args.begin());
    if (args[0] == "!raw") {
      toRedis->send(args.at(1));
      toKeyloop->send(args.at(1));
    } else if (args[0] == "!read") {
      // the reply is a message already on its way
    } else {
      toRedis->sendCommand(args);
      toKeyloop->sendCommand(args);
    }
    // A pipelined !raw gets several replies: compare them as one byte string.
    const int replies = args[0] == "!raw" && args.size() > 2 ? std::stoi(args[2]) : 1;
    std::optional<std::string> expected = "", actual = "";
    for (int i = 0; i < replies; ++i) {
      auto e = toRedis->readReply();
      auto a = toKeyloop->readReply();
      expected = e && expected ? std::optional(*expected + *e) : std::nullopt;
      actual = a && actual ? std::optional(*actual + *a) : std::nullopt;
    }
    ASSERT_TRUE(expected.has_value()) << where << ": redis-server gave no reply";
    if (any) {
      EXPECT_TRUE(actual.has_value()) << where;
    } else if (unordered) {
      auto sorted = [](const std::string& reply) {
        auto items = RespConnection::elements(reply);
        std::sort(items.begin(), items.end());
        return std::make_pair(reply.substr(0, reply.find("\r\n")), items);
      };
      EXPECT_EQ(sorted(actual.value_or("")), sorted(*expected)) << where;
    } else {
      EXPECT_EQ(actual.value_or("<no reply>"), *expected) << where;
    }
    ++compared;
  }
  EXPECT_GT(compared, 0);
}

class Differential : public ::testing::TestWithParam<std::string> {};
TEST_P(Differential, RepliesMatchRedisByteForByte) { runScript(GetParam(), 1); }

class DifferentialManyConnections : public ::testing::TestWithParam<std::string> {};
TEST_P(DifferentialManyConnections, RepliesMatchRedisWithLinesSpreadOverEightConnections) {
  runScript(GetParam(), 8);
}

// SCAN's cursors differ between servers (different hashes), so its
// semantics are compared instead: a complete iteration returns every key
// at least once, and the same set of keys, as redis-server's does.
TEST(DifferentialScan, CompleteIterationsReturnTheSameKeys) {
  RedisServer redis;
  KeyloopServer keyloop(kFourWorkers);
  auto scanAll = [](std::uint16_t port, const std::vector<std::string>& options) {
    RespConnection c(port);
    for (int i = 0; i < 1500; ++i) {
      c.sendCommand({"SET", (i % 3 ? "user:" : "order:") + std::to_string(i), "v"});
    }
    for (int i = 0; i < 300; ++i) {  // and keys of other types, for TYPE
      c.sendCommand({i % 2 ? "HSET" : "SADD", (i % 2 ? "hash:" : "set:") + std::to_string(i), "f", "v"});
    }
    for (int i = 0; i < 1800; ++i) c.readReply();
    std::multiset<std::string> keys;
    std::string cursor = "0";
    int calls = 0;
    do {
      std::vector<std::string> command{"SCAN", cursor};
      command.insert(command.end(), options.begin(), options.end());
      auto parts = RespConnection::elements(c.command(command));
      EXPECT_EQ(parts.size(), 2u);
      if (parts.size() != 2) break;
      cursor = parts[0].substr(parts[0].find("\r\n") + 2);
      cursor.resize(cursor.size() - 2);
      for (const std::string& bulk : RespConnection::elements(parts[1])) {
        std::string key = bulk.substr(bulk.find("\r\n") + 2);
        key.resize(key.size() - 2);
        keys.insert(key);
      }
      ++calls;
    } while (cursor != "0" && calls < 10000);
    return std::set<std::string>(keys.begin(), keys.end());
  };
  for (const auto& options : std::vector<std::vector<std::string>>{
           {}, {"COUNT", "7"}, {"MATCH", "order:*", "COUNT", "50"}, {"TYPE", "string"}, {"TYPE", "list"},
           {"TYPE", "HASH"}, {"TYPE", "set", "MATCH", "set:1*"}}) {
    const auto fromRedis = scanAll(redis.port, options);
    const auto fromKeyloop = scanAll(keyloop.port, options);
    EXPECT_EQ(fromKeyloop, fromRedis);
    const std::string first = options.empty() ? "" : options[0], second = options.size() > 1 ? options[1] : "";
    const std::size_t expected = first == "MATCH" ? 500u : second == "list" ? 0u : second == "string" ? 1500u
                               : second == "HASH" ? 150u : second == "set" ? 55u : 1800u;
    EXPECT_EQ(fromRedis.size(), expected) << (first + " " + second);
  }
}

// The command table's ACL categories (COMMAND INFO's seventh field), for
// every command and subcommand keyloop has, as redis-server lists them:
// the row's own categories and the ones its flags imply.
TEST(DifferentialCommandTable, AclCategoriesMatchRedisForEveryCommand) {
  RedisServer redis;
  KeyloopServer keyloop;
  RespConnection toRedis(redis.port), toKeyloop(keyloop.port);
  auto bulkText = [](const std::string& frame) {
    std::string text = frame.substr(frame.find("\r\n") + 2);
    text.resize(text.size() - 2);
    return text;
  };
  std::vector<std::string> names;
  for (const std::string& info : RespConnection::elements(toKeyloop.command({"COMMAND"}))) {
    const auto fields = RespConnection::elements(info);
    ASSERT_EQ(fields.size(), 10u);
    names.push_back(bulkText(fields[0]));
    for (const std::string& sub : RespConnection::elements(fields[9])) {
      names.push_back(bulkText(RespConnection::elements(sub).at(0)));
    }
  }
  ASSERT_GT(names.size(), 250u);
  int compared = 0;
  for (const std::string& name : names) {
    const std::string ourReply = toKeyloop.command({"COMMAND", "INFO", name});
    const auto ours = RespConnection::elements(ourReply);
    auto theirs = RespConnection::elements(toRedis.command({"COMMAND", "INFO", name}));
    // redis-server's DEBUG has no subcommand rows: keyloop's have its categories.
    if (name.starts_with("debug|") && RespConnection::elements(theirs.at(0)).empty()) {
      theirs = RespConnection::elements(toRedis.command({"COMMAND", "INFO", "debug"}));
    }
    // What keyloop has of Redis 7.2-7.4 answers with those versions' rows
    // (worker/execution/command_reference_newer.inc), which 7.0 cannot check.
    if (kNewerThanRedis70.contains(name) && RespConnection::elements(theirs.at(0)).empty()) {
      ++compared;
      continue;
    }
    ASSERT_EQ(ours.size(), 1u) << name << ": " << ourReply;
    ASSERT_EQ(theirs.size(), 1u) << name;
    const auto ourFields = RespConnection::elements(ours[0]), theirFields = RespConnection::elements(theirs[0]);
    ASSERT_EQ(theirFields.size(), 10u) << name << " is not a redis-server command";
    EXPECT_EQ(ourFields.at(6), theirFields.at(6)) << name;
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int>(names.size()));
}

// INFO memory's script cache figures count what SCRIPT LOAD cached, as
// redis-server counts them, on every worker.
TEST(DifferentialInfo, ScriptCacheFiguresCountTheLoadedScripts) {
  RedisServer redis;
  KeyloopServer keyloop(kFourWorkers);
  auto field = [](const std::string& info, const std::string& name) {
    const auto at = info.find("\r\n" + name + ":");
    return at == std::string::npos ? std::string("missing")
                                   : info.substr(at + name.size() + 3, info.find("\r\n", at + 2) - at - name.size() - 3);
  };
  for (std::uint16_t port : {redis.port, keyloop.port}) {
    RespConnection c(port);
    ASSERT_EQ(c.command({"SCRIPT", "LOAD", "return 1"}).substr(0, 4), "$40\r");
    ASSERT_EQ(c.command({"SCRIPT", "LOAD", "return 2"}).substr(0, 4), "$40\r");
  }
  for (int i = 0; i < 8; ++i) {  // connections land on different workers
    RespConnection toKeyloop(keyloop.port), toRedis(redis.port);
    const std::string ours = toKeyloop.command({"INFO", "memory"}), theirs = toRedis.command({"INFO", "memory"});
    EXPECT_EQ(field(ours, "number_of_cached_scripts"), field(theirs, "number_of_cached_scripts"));
    EXPECT_EQ(field(ours, "number_of_cached_scripts"), "2");
    EXPECT_GT(std::atoll(field(ours, "used_memory_lua").c_str()), 0) << ours;
  }
}

INSTANTIATE_TEST_SUITE_P(Scripts, Differential, ::testing::ValuesIn(scriptNames()),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Scripts, DifferentialManyConnections, ::testing::ValuesIn(statelessScriptNames()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace keyloop::test
