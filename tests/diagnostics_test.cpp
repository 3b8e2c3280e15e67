// What operators ask of a running server, keyloop (2 workers) beside a real
// redis-server given the same commands: the slow log (one log over every
// worker, newest first, Redis's entry format, truncation and redaction),
// the latency monitor (a real stall through DEBUG SLEEP), the per-command
// latency histograms (LATENCY HISTOGRAM, INFO latencystats) and their
// Prometheus family.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "common/resp/reply_reader.h"
#include "tests/support/http.h"
#include "tests/support/keyspace.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

constexpr const char* kTwoWorkers = "workers: 2\nenable_debug_command: yes\n";

struct Entry {
  long long id = 0, micros = 0;
  std::vector<std::string> args;
  std::string peer, name;
};

std::vector<Entry> slowlog(RespConnection& c, const std::string& count = "-1") {
  std::vector<Entry> out;
  const std::string reply = c.command({"SLOWLOG", "GET", count});
  for (std::string_view e : resp::replyElements(reply)) {
    const auto fields = resp::replyElements(e);
    if (fields.size() != 6) {
      ADD_FAILURE() << "an entry of " << fields.size() << " fields";
      continue;
    }
    Entry entry;
    entry.id = resp::replyInteger(fields[0]).value_or(-1);
    entry.micros = resp::replyInteger(fields[2]).value_or(-1);
    for (std::string_view a : resp::replyElements(fields[3])) entry.args.emplace_back(resp::replyBulk(a).value_or("?"));
    entry.peer = resp::replyBulk(fields[4]).value_or("?");
    entry.name = resp::replyBulk(fields[5]).value_or("?");
    out.push_back(std::move(entry));
  }
  return out;
}

// The commands every test sends to both servers, through one named connection.
std::vector<std::vector<std::string>> sampleCommands() {
  std::vector<std::string> manyArgs{"RPUSH", "list"};
  for (int i = 0; i < 40; ++i) manyArgs.push_back("e" + std::to_string(i));
  return {{"CLIENT", "SETNAME", "reporter"},
          {"SET", "alpha", "1"},
          {"SET", "beta", std::string(200, 'v')},
          manyArgs,
          {"AUTH", "someone", "secret"},
          {"HELLO", "2", "AUTH", "default", "secret"},
          {"CONFIG", "SET", "requirepass", "", "maxmemory-samples", "5"},
          {"MSET", "alpha", "2", "gamma", "3", "delta", "4"},
          {"GET", "gamma"}};
}

std::vector<Entry> slowlogAfterSamples(std::uint16_t port) {
  RespConnection c(port);
  c.command({"CONFIG", "SET", "slowlog-log-slower-than", "0"});
  c.command({"SLOWLOG", "RESET"});
  for (const auto& command : sampleCommands()) c.command(command);
  return slowlog(c);
}

TEST(Diagnostics, SlowlogEntriesAreRedisServersAcrossWorkers) {
  RedisServer redis;
  KeyloopServer keyloop(kTwoWorkers);
  const std::vector<Entry> expected = slowlogAfterSamples(redis.port);
  const std::vector<Entry> got = slowlogAfterSamples(keyloop.port);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].args, expected[i].args) << "entry " << i;
    if (i + 1 < got.size()) {
      EXPECT_GT(got[i].id, got[i + 1].id) << "newest first, by one sequence";
    }
    EXPECT_GE(got[i].micros, 0);
  }
  // A command that ran on the client's worker names its client, as Redis.
  const auto setname = std::find_if(got.begin(), got.end(), [](const Entry& e) { return e.args[0] == "CLIENT"; });
  ASSERT_NE(setname, got.end());
  EXPECT_EQ(setname->name, "reporter");
  EXPECT_EQ(setname->peer.rfind("127.0.0.1:", 0), 0u) << setname->peer;
}

TEST(Diagnostics, SlowlogKeepsItsLengthAndCountsAsRedis) {
  KeyloopServer keyloop(kTwoWorkers);
  RespConnection c(keyloop.port);
  c.command({"CONFIG", "SET", "slowlog-log-slower-than", "0", "slowlog-max-len", "5"});
  for (int i = 0; i < 20; ++i) c.command({"SET", "key" + std::to_string(i), "v"});
  // Each worker keeps its newest five; the server's log is the newest five of all.
  EXPECT_EQ(c.command({"SLOWLOG", "LEN"}), ":5\r\n");
  EXPECT_EQ(slowlog(c, "-1").size(), 5u);
  EXPECT_EQ(slowlog(c, "10").size(), 5u);
  EXPECT_EQ(slowlog(c, "2").size(), 2u);
  EXPECT_EQ(slowlog(c, "0").size(), 0u);
  EXPECT_EQ(c.command({"SLOWLOG", "GET", "-2"}), "-ERR count should be greater than or equal to -1\r\n");
  EXPECT_EQ(c.command({"SLOWLOG", "GET", "x"}), "-ERR count should be greater than or equal to -1\r\n");
  c.command({"CONFIG", "SET", "slowlog-log-slower-than", "-1"});
  c.command({"SLOWLOG", "RESET"});
  c.command({"SET", "more", "v"});
  EXPECT_EQ(c.command({"SLOWLOG", "LEN"}), ":0\r\n");
  c.command({"CONFIG", "SET", "slowlog-log-slower-than", "0", "slowlog-max-len", "0"});
  for (int i = 0; i < 10; ++i) c.command({"PING"});
  EXPECT_EQ(c.command({"SLOWLOG", "LEN"}), ":0\r\n");
}

TEST(Diagnostics, LatencyMonitorSeesAStalledWorkerAsRedisDoes) {
  RedisServer redis({"--enable-debug-command", "yes"});
  KeyloopServer keyloop(kTwoWorkers);
  for (std::uint16_t port : {redis.port, keyloop.port}) {
    SCOPED_TRACE(port == redis.port ? "redis-server" : "keyloop");
    RespConnection c(port);
    EXPECT_EQ(c.command({"LATENCY", "LATEST"}), "*0\r\n");
    EXPECT_NE(c.command({"LATENCY", "DOCTOR"}).find("Latency monitoring is disabled"), std::string::npos);
    c.command({"CONFIG", "SET", "latency-monitor-threshold", "50"});
    ASSERT_EQ(c.command({"DEBUG", "SLEEP", "0.1"}), "+OK\r\n");
    const std::string latestReply = c.command({"LATENCY", "LATEST"});
    const auto latest = resp::replyElements(latestReply);
    ASSERT_EQ(latest.size(), 1u);
    const auto event = resp::replyElements(latest[0]);
    ASSERT_EQ(event.size(), 4u);
    EXPECT_EQ(resp::replyBulk(event[0]).value_or(""), "command");
    EXPECT_GE(resp::replyInteger(event[2]).value_or(0), 100);
    const std::string history = c.command({"LATENCY", "HISTORY", "command"});
    EXPECT_EQ(resp::replyElements(history).size(), 1u);
    EXPECT_NE(c.command({"LATENCY", "GRAPH", "command"}).find("command - high"), std::string::npos);
    EXPECT_NE(c.command({"LATENCY", "DOCTOR"}).find("1. command: 1 latency spikes"), std::string::npos);
    EXPECT_EQ(c.command({"LATENCY", "GRAPH", "fast-command"}), "-ERR No samples available for event 'fast-command'\r\n");
    EXPECT_EQ(c.command({"LATENCY", "RESET"}), ":1\r\n");
    EXPECT_EQ(c.command({"LATENCY", "LATEST"}), "*0\r\n");
  }
}

TEST(Diagnostics, PerCommandLatencyCountsEveryWorkersCalls) {
  KeyloopServer keyloop("workers: 2\nmetrics:\n  address: 127.0.0.1\n  port: 0\n");
  RespConnection c(keyloop.port);
  c.command({"CONFIG", "RESETSTAT"});
  for (int i = 0; i < 30; ++i) c.command({"SET", "key" + std::to_string(i), "v"});  // keys of both workers
  const std::string histogramReply = c.command({"LATENCY", "HISTOGRAM", "set"});
  const auto histogram = resp::replyElements(histogramReply);
  ASSERT_EQ(histogram.size(), 2u);
  EXPECT_EQ(resp::replyBulk(histogram[0]).value_or(""), "set");
  const auto figures = resp::replyElements(histogram[1]);
  ASSERT_EQ(figures.size(), 4u);
  EXPECT_EQ(figures[1], ":30\r\n");
  const auto steps = resp::replyElements(figures[3]);
  ASSERT_FALSE(steps.empty());
  EXPECT_EQ(steps.back(), ":30\r\n") << "the last step counts every call";
  const std::string info = c.command({"INFO", "latencystats"});
  EXPECT_NE(info.find("latency_percentiles_usec_set:p50="), std::string::npos) << info;
  EXPECT_NE(info.find(",p99=") , std::string::npos) << info;
  EXPECT_NE(info.find(",p99.9="), std::string::npos) << info;
  c.command({"CONFIG", "SET", "latency-tracking-info-percentiles", "50 99.99"});
  EXPECT_NE(c.command({"INFO", "latencystats"}).find(",p99.99="), std::string::npos);
  EXPECT_EQ(c.command({"CONFIG", "SET", "latency-tracking-info-percentiles", "101"}),
            "-ERR CONFIG SET failed (possibly related to argument 'latency-tracking-info-percentiles') - "
            "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]\r\n");

  const std::uint16_t metrics = metricsPortFromLog(keyloop.configPath + ".log");
  const std::string scrape = httpGet(metrics, "/metrics").body;
  EXPECT_NE(scrape.find("keyloop_command_duration_seconds_count{command=\"set\"} 30"), std::string::npos);

  c.command({"CONFIG", "RESETSTAT"});
  EXPECT_EQ(c.command({"LATENCY", "HISTOGRAM", "set"}), "*0\r\n");
}

// MONITOR's lines with the clock and the client's port left out.
std::vector<std::string> monitorLines(std::uint16_t port) {
  RespConnection monitor(port);
  EXPECT_EQ(monitor.command({"MONITOR"}), "+OK\r\n");
  RespConnection c(port);
  const std::vector<std::vector<std::string>> commands = {
      {"SET", "alpha", "with \"quotes\" and \\ and \r\n\t\x01\xff"},
      {"GET", "alpha"},
      {"CONFIG", "GET", "maxmemory"},  // admin: not shown
      {"EVAL", "redis.call('set', KEYS[1], 'x'); return redis.call('get', KEYS[2])", "2", "alpha", "beta"},
      {"AUTH", "someone", "secret"},
      {"HELLO", "2", "AUTH", "default", "secret"},
      {"MULTI"}, {"SET", "gamma", "1"}, {"INCR", "gamma"}, {"EXEC"},
      {"MULTI"}, {"NOSUCHCOMMAND"}, {"EXEC"},
      {"MSET", "alpha", "1", "beta", "2", "delta", "3"},
      {"PING"},
      // The database each line names: SELECT's the one it chose, a script's its own.
      {"SELECT", "5"},
      {"SET", "in5", "x"},
      {"EVAL", "redis.call('select', 7) return redis.call('set', KEYS[1], 1)", "1", "in7"},
      {"SELECT", "0"}};
  for (const auto& command : commands) c.command(command);
  std::vector<std::string> lines;
  const std::regex stamp(R"(^\+\d+\.\d{6} \[(\d+) (127\.0\.0\.1:\d+|lua)\] )");
  for (std::size_t i = 0; i < 20; ++i) {
    const auto line = monitor.readReply(std::chrono::seconds(10));
    if (!line) break;
    std::smatch m;
    EXPECT_TRUE(std::regex_search(*line, m, stamp)) << *line;
    lines.push_back(m[1].str() + (m.size() > 2 && m[2] == "lua" ? " lua " : " client ") + m.suffix().str());
  }
  return lines;
}

TEST(Diagnostics, MonitorShowsEveryWorkersCommandsAsRedisDoes) {
  RedisServer redis;
  KeyloopServer keyloop(kTwoWorkers);
  const std::vector<std::string> expected = monitorLines(redis.port);
  ASSERT_EQ(expected.size(), 20u);
  EXPECT_EQ(monitorLines(keyloop.port), expected);
}

// MEMORY STATS: Redis's fields in Redis's order (a map in RESP3), with a
// db.N entry for each database that holds keys; the counts agree.
struct MemoryStats {
  std::vector<std::string> names;
  std::map<std::string, std::string> values;
};
MemoryStats memoryStats(std::uint16_t port) {
  RespConnection c(port);
  c.command({"FLUSHALL"});
  c.command({"SET", "a", "1"});
  c.command({"SELECT", "3"});
  c.command({"SET", "b", "2", "EX", "100"});
  c.command({"SET", "c", "3"});
  MemoryStats out;
  const std::string reply = c.command({"MEMORY", "STATS"});
  const std::vector<std::string_view> fields = resp::replyElements(reply);
  for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string name(resp::replyBulk(fields[i]).value_or("?"));
    out.names.push_back(name);
    const std::vector<std::string_view> nested = resp::replyElements(fields[i + 1]);
    for (std::size_t j = 0; j + 1 < nested.size(); j += 2) {
      out.names.push_back(name + "/" + std::string(resp::replyBulk(nested[j]).value_or("?")));
    }
    out.values[name] = std::string(fields[i + 1]);
  }
  return out;
}

TEST(Diagnostics, MemoryStatsHasRedisServersFieldsForEveryDatabaseWithKeys) {
  RedisServer redis;
  KeyloopServer keyloop(kTwoWorkers);
  const MemoryStats expected = memoryStats(redis.port), got = memoryStats(keyloop.port);
  ASSERT_GT(expected.names.size(), 27u);
  EXPECT_EQ(got.names, expected.names);
  EXPECT_EQ(got.values.at("keys.count"), ":3\r\n");
  EXPECT_EQ(got.values.at("keys.count"), expected.values.at("keys.count"));
  const long long total = resp::replyInteger(got.values.at("total.allocated")).value_or(0);
  EXPECT_GT(total, 0);
  EXPECT_GE(resp::replyInteger(got.values.at("peak.allocated")).value_or(0), total);
}

// Redis 7.2's CLIENT SETINFO, which clients send as they connect (the
// local redis-server, 7.0, does not know it: Redis 7.2's texts).
TEST(Diagnostics, ClientSetinfoTakesALibrarysNameAndVersion) {
  KeyloopServer keyloop(kTwoWorkers);
  RespConnection c(keyloop.port);
  EXPECT_EQ(c.command({"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}), "+OK\r\n");
  EXPECT_EQ(c.command({"CLIENT", "SETINFO", "lib-ver", "5.0.1"}), "+OK\r\n");
  EXPECT_EQ(c.command({"CLIENT", "SETINFO", "lib-name", "has space"}),
            "-ERR lib-name cannot contain spaces, newlines or special characters.\r\n");
  EXPECT_EQ(c.command({"CLIENT", "SETINFO", "color", "blue"}), "-ERR Unrecognized option 'color'\r\n");
  EXPECT_EQ(c.command({"CLIENT", "SETINFO", "lib-name"}),
            "-ERR wrong number of arguments for 'client|setinfo' command\r\n");
}

TEST(Diagnostics, AMonitorIsListedAndItsCountFollowsItsConnection) {
  KeyloopServer keyloop(kTwoWorkers);
  RespConnection monitor(keyloop.port);
  ASSERT_EQ(monitor.command({"MONITOR"}), "+OK\r\n");
  RespConnection c(keyloop.port);
  EXPECT_NE(c.command({"CLIENT", "LIST"}).find("flags=O"), std::string::npos);
  c.command({"SET", "k", "v"});
  ASSERT_TRUE(monitor.readReply());
  EXPECT_EQ(c.command({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(c.command({"MONITOR"}), "+QUEUED\r\n");
  EXPECT_EQ(c.command({"EXEC"}), "*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n");
  monitor = RespConnection(keyloop.port);  // the monitor leaves
  // Every connection of both workers still answers at once.
  for (int i = 0; i < 8; ++i) EXPECT_EQ(RespConnection(keyloop.port).command({"SET", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(c.command({"CLIENT", "LIST"}).find("flags=O"), std::string::npos);
}

std::string field(std::string clientInfo, const std::string& name) {
  std::replace(clientInfo.begin(), clientInfo.end(), '\n', ' ');
  const std::size_t at = clientInfo.find(" " + name + "=");
  if (at == std::string::npos) return "";
  const std::size_t from = at + name.size() + 2;
  return clientInfo.substr(from, clientInfo.find(' ', from) - from);
}

TEST(Diagnostics, ClientKillClosesTheClientsOfEveryWorkerThatMatch) {
  KeyloopServer keyloop(kTwoWorkers);
  RespConnection admin(keyloop.port);
  std::vector<std::unique_ptr<RespConnection>> clients;
  std::vector<std::string> ids, addrs;
  for (int i = 0; i < 6; ++i) {  // connections land on both workers
    clients.push_back(std::make_unique<RespConnection>(keyloop.port));
    const std::string info = clients.back()->command({"CLIENT", "INFO"});
    ids.push_back(field(info, "id"));
    addrs.push_back(field(info, "addr"));
  }
  EXPECT_EQ(admin.command({"CLIENT", "KILL", "ID", ids[0]}), ":1\r\n");
  EXPECT_TRUE(clients[0]->closedByPeer());
  EXPECT_EQ(admin.command({"CLIENT", "KILL", addrs[1]}), "+OK\r\n");
  EXPECT_TRUE(clients[1]->closedByPeer());
  EXPECT_EQ(admin.command({"CLIENT", "KILL", addrs[1]}), "-ERR No such client\r\n");
  ASSERT_EQ(clients[2]->command({"SUBSCRIBE", "news"}).substr(0, 4), "*3\r\n");
  EXPECT_EQ(admin.command({"CLIENT", "KILL", "TYPE", "pubsub"}), ":1\r\n");
  EXPECT_TRUE(clients[2]->closedByPeer());
  for (int i = 3; i < 6; ++i) EXPECT_EQ(clients[i]->command({"PING"}), "+PONG\r\n") << "killed without a match";
  // The new form skips its caller unless told not to: then it gets its
  // reply before it goes.
  EXPECT_EQ(admin.command({"CLIENT", "KILL", "TYPE", "normal"}), ":3\r\n");
  for (int i = 3; i < 6; ++i) EXPECT_TRUE(clients[i]->closedByPeer());
  EXPECT_EQ(admin.command({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no"}), ":1\r\n");
  EXPECT_TRUE(admin.closedByPeer());
}

long long blockedClients(RespConnection& c) {
  const std::string info = c.command({"INFO", "clients"});
  const std::size_t at = info.find("blocked_clients:");
  return at == std::string::npos ? -1 : std::atoll(info.c_str() + at + 16);
}

bool waitForBlockedClients(RespConnection& c, long long count) {
  for (int i = 0; i < 500; ++i) {
    if (blockedClients(c) == count) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(Diagnostics, ClientPauseWriteHoldsTheWritesOfEveryWorkerInOrder) {
  KeyloopServer keyloop(kTwoWorkers);
  RespConnection admin(keyloop.port);
  std::vector<std::unique_ptr<RespConnection>> writers;
  for (int i = 0; i < 4; ++i) writers.push_back(std::make_unique<RespConnection>(keyloop.port));
  ASSERT_EQ(admin.command({"FUNCTION", "LOAD",
                           "#!lua name=lib\nredis.register_function{function_name='ro', callback=function() return 1 "
                           "end, flags={'no-writes'}}"}),
            "$3\r\nlib\r\n");
  ASSERT_EQ(admin.command({"CLIENT", "PAUSE", "100000", "WRITE"}), "+OK\r\n");
  for (int i = 0; i < 4; ++i) {
    // A write, then a read of it in the same pipeline: the read must not overtake it.
    const std::string key = "key" + std::to_string(i);
    writers[i]->send(RespConnection::encode({"SET", key, "v"}) + RespConnection::encode({"GET", key}));
  }
  RespConnection publisher(keyloop.port);
  publisher.sendCommand({"PUBLISH", "news", "x"});  // propagated: it waits too
  EXPECT_EQ(admin.command({"GET", "key0"}), "$-1\r\n") << "reads go on";
  // A script that declares no-writes, or a function registered so, runs
  // (Redis's flags from the script); one without a shebang may write: it waits.
  EXPECT_EQ(admin.command({"EVAL", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "1", "key1"}),
            "$-1\r\n");
  EXPECT_EQ(admin.command({"FCALL", "ro", "0"}), ":1\r\n");
  RespConnection scripter(keyloop.port);
  scripter.sendCommand({"EVAL", "return 1", "0"});
  ASSERT_TRUE(waitForBlockedClients(admin, 6)) << blockedClients(admin);
  EXPECT_FALSE(writers[0]->readReply(std::chrono::milliseconds(200))) << "a paused write answered";
  ASSERT_EQ(admin.command({"CLIENT", "UNPAUSE"}), "+OK\r\n");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(writers[i]->readReply(), "+OK\r\n") << i;
    EXPECT_EQ(writers[i]->readReply(), "$1\r\nv\r\n") << i;
  }
  EXPECT_EQ(publisher.readReply(), ":0\r\n");
  EXPECT_EQ(scripter.readReply(), ":1\r\n");
  EXPECT_EQ(blockedClients(admin), 0);
}

TEST(Diagnostics, ClientPauseAllEndsByItselfAndChecksItsArguments) {
  KeyloopServer keyloop(kTwoWorkers);
  RespConnection admin(keyloop.port);
  EXPECT_EQ(admin.command({"CLIENT", "PAUSE", "abc"}), "-ERR timeout is not an integer or out of range\r\n");
  EXPECT_EQ(admin.command({"CLIENT", "PAUSE", "-1"}), "-ERR timeout is negative\r\n");
  EXPECT_EQ(admin.command({"CLIENT", "PAUSE", "10", "READ"}), "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n");
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(admin.command({"CLIENT", "PAUSE", "300", "ALL"}), "+OK\r\n");
  for (int i = 0; i < 4; ++i) {  // connections of both workers
    RespConnection other(keyloop.port);
    EXPECT_EQ(other.command({"PING"}), "+PONG\r\n");
    // It cannot have been answered before the pause's end.
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(290));
  }
}

// LOLWUT's art is random (as Redis's): its shape, its caption and what is
// not random (Schotter's first two rows of squares) must be Redis's.
TEST(Diagnostics, LolwutDrawsWhatRedisDraws) {
  RedisServer redis;
  KeyloopServer keyloop(kTwoWorkers);
  RespConnection r(redis.port), k(keyloop.port);
  auto lines = [](const std::string& reply) {
    std::vector<std::string> out;
    const std::string text(resp::replyBulk(reply).value_or(""));
    for (std::size_t from = 0; from < text.size();) {
      const std::size_t end = text.find('\n', from);
      out.push_back(text.substr(from, end - from));
      from = end == std::string::npos ? text.size() : end + 1;
    }
    return out;
  };
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"LOLWUT", "VERSION", "5", "30", "4", "3"}, {"LOLWUT", "VERSION", "5"},
        {"LOLWUT", "VERSION", "6", "40", "12"}}) {
    const auto expected = lines(r.command(command)), got = lines(k.command(command));
    ASSERT_EQ(got.size(), expected.size()) << command[2];
    EXPECT_EQ(got.back(), expected.back()) << command[2];
    if (command[2] == "5") {
      EXPECT_EQ(got.front(), expected.front()) << "the first row of squares is not random";
    }
  }
}

TEST(Diagnostics, AMonitorGoesOnThroughAReload) {
  ReloadableServer s("monitor", "workers: 2\n");
  RespConnection monitor(s.server.port);
  ASSERT_EQ(monitor.command({"MONITOR"}), "+OK\r\n");
  const CommandResult r = s.reloadWorkers(3);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  ASSERT_TRUE(s.settlesTo(3)) << "the retiring workers did not leave";
  // Commands through connections of every new worker reach it.
  for (int i = 0; i < 6; ++i) {
    RespConnection c(s.server.port);
    ASSERT_EQ(c.command({"SET", "after" + std::to_string(i), "v"}), "+OK\r\n");
    const auto line = monitor.readReply(std::chrono::seconds(10));
    ASSERT_TRUE(line) << "no line for command " << i;
    EXPECT_NE(line->find("\"SET\" \"after" + std::to_string(i) + "\""), std::string::npos) << *line;
  }
}

// Redis 7.2's CLIENT NO-TOUCH: reads of keys of either worker (here and
// forwarded), a script's and a transaction's leave the keys' access time as
// it was; TOUCH still touches; OFF restores touching. (redis-server 7.0.15
// has no NO-TOUCH to compare with.)
TEST(Diagnostics, ClientNoTouchLeavesTheAccessTimeAsItWas) {
  KeyloopServer keyloop("workers: 2\n");
  RespConnection c(keyloop.port), check(keyloop.port);
  const std::vector<std::string> keys = {"nt-a", "nt-b", "nt-c", "nt-d", "nt-e", "nt-f"};
  for (const std::string& k : keys) ASSERT_EQ(c.command({"SET", k, "v"}), "+OK\r\n");
  auto idle = [&](const std::string& k) { return resp::replyInteger(check.command({"OBJECT", "IDLETIME", k})).value_or(-1); };
  // Idle times count whole seconds: wait until every key has been idle for two.
  ASSERT_TRUE(waitUntil([&] {
    return std::all_of(keys.begin(), keys.end(), [&](const std::string& k) { return idle(k) >= 2; });
  }));
  // TTL, EXISTS and TYPE never touch (Redis's LOOKUP_NOTOUCH): checked below with the rest.
  for (const std::string& k : keys) {
    ASSERT_EQ(c.command({"TTL", k}), ":-1\r\n");
    ASSERT_EQ(c.command({"EXISTS", k}), ":1\r\n");
    ASSERT_EQ(c.command({"TYPE", k}), "+string\r\n");
  }
  EXPECT_EQ(c.command({"CLIENT", "NO-TOUCH", "maybe"}), "-ERR syntax error\r\n");
  ASSERT_EQ(c.command({"CLIENT", "NO-TOUCH", "on"}), "+OK\r\n");
  EXPECT_NE(c.command({"CLIENT", "INFO"}).find(" flags=T "), std::string::npos);
  for (const std::string& k : keys) ASSERT_EQ(c.command({"GET", k}), "$1\r\nv\r\n");
  ASSERT_EQ(c.command({"EVAL", "return redis.call('get', KEYS[1])", "1", keys[0]}), "$1\r\nv\r\n");
  ASSERT_EQ(c.command({"MULTI"}), "+OK\r\n");
  ASSERT_EQ(c.command({"STRLEN", keys[1]}), "+QUEUED\r\n");
  ASSERT_EQ(c.command({"EXEC"}), "*1\r\n:1\r\n");
  for (const std::string& k : keys) EXPECT_GE(idle(k), 2) << k << " was touched under NO-TOUCH";
  ASSERT_EQ(c.command({"TOUCH", keys[2]}), ":1\r\n");
  EXPECT_LE(idle(keys[2]), 1) << "TOUCH touches under NO-TOUCH too";
  ASSERT_EQ(c.command({"CLIENT", "NO-TOUCH", "off"}), "+OK\r\n");
  for (const std::string& k : keys) ASSERT_EQ(c.command({"GET", k}), "$1\r\nv\r\n");
  for (const std::string& k : keys) EXPECT_LE(idle(k), 1) << k << " was not touched with NO-TOUCH off";
}

// INFO commandstats counts a call refused before its handler (arity) as
// rejected, one its handler refused (WRONGTYPE) as failed, as redis-server.
TEST(Diagnostics, CommandstatsCountRejectedAndFailedCallsAsRedis) {
  RedisServer redis;
  KeyloopServer keyloop("workers: 2\n");
  std::vector<std::string> lines[2];
  int side = 0;
  for (const std::uint16_t port : {redis.port, keyloop.port}) {
    RespConnection c(port);
    ASSERT_EQ(c.command({"CONFIG", "RESETSTAT"}), "+OK\r\n");
    c.command({"SET", "foo", "1"});
    c.command({"GEOADD", "foo", "0", "0", "bar"});
    c.command({"GEOADD", "foo", "1", "2"});
    c.command({"GET"});
    c.command({"HSET", "h"});
    c.command({"HSET", "h"});
    const std::string info = c.command({"INFO", "commandstats"});
    const std::regex usec(R"(usec=\d+,usec_per_call=[\d.]+)");
    for (const std::string name : {"set", "geoadd", "get", "hset"}) {
      const auto at = info.find("cmdstat_" + name + ":");
      ASSERT_NE(at, std::string::npos) << name << " in " << info;
      lines[side].push_back(std::regex_replace(info.substr(at, info.find("\r\n", at) - at), usec, "usec"));
    }
    ++side;
  }
  EXPECT_EQ(lines[1], lines[0]);
}

}  // namespace
}  // namespace keyloop::test
