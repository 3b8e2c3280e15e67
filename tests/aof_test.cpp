// The append-only log against the real binary, redis-server and
// redis-check-aof: a restart replays every type and TTL whatever the
// worker count; with appendfsync always no acknowledged write is lost when
// the whole process tree is killed, and everysec loses at most about a
// second; cross-worker commands replay all or nothing, a cut-short tail
// is dropped (and cut off), anything else malformed refuses the start;
// BGREWRITEAOF and the automatic rewrite compact the log and keep the
// writes made meanwhile; turning the log on keeps the snapshot's data; a
// full disk refuses writes with Redis's -MISCONF until space returns.
// The log is the change feed: its batches, merged by sequence and sent to
// a fresh redis-server, rebuild the same dataset.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "common/ring/ring.h"
#include "tests/support/keyspace.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

namespace fs = std::filesystem;

std::string logAt(const std::string& dir, const std::string& fsync, const std::string& more = "") {
  return "persistence:\n  dir: " + dir + "\n  snapshot:\n    save: \"\"\n  aof:\n    enabled: yes\n    fsync: " + fsync +
         "\n" + more;
}

struct Logged {
  Logged(int workers, const std::string& dir, const std::string& fsync = "everysec", const std::string& more = "")
      : server("workers: " + std::to_string(workers) + "\n" + logAt(dir, fsync, more)), client(server.port) {}
  // kill -9 of the master and every worker at once: nothing gets to clean up.
  void killTree(int workers) {
    const std::map<int, pid_t> pids = workerPidsBySlot(server.process.pid(), workers);
    ::kill(server.process.pid(), SIGKILL);
    for (const auto& [slot, pid] : pids) ::kill(pid, SIGKILL);
    server.process.stop(SIGKILL);
  }
  KeyloopServer server;
  RespConnection client;
};

std::string manifestOf(const std::string& dir) { return dir + "/appendonlydir/appendonly.aof.manifest"; }

void expectCheckAofAccepts(const std::string& dir) {
  const CommandResult check = runCommand("redis-check-aof " + manifestOf(dir));
  EXPECT_EQ(check.exitCode, 0) << check.output;
  EXPECT_NE(check.output.find("All AOF files and manifest are valid"), std::string::npos) << check.output;
}

// A key owned by worker `owner` of `workers`, named after `stem`.
std::string keyOn(int owner, int workers, const std::string& stem) {
  const ring::Ring ring(workers);
  for (int i = 0;; ++i) {
    const std::string key = stem + ":" + std::to_string(i);
    if (ring.ownerOf(key) == owner) return key;
  }
}

// Waits (up to 30 s) until INFO persistence's `field` reads `value`.
bool waitForInfo(RespConnection& c, const std::string& field, const std::string& value) {
  return waitUntil([&] { return infoField(c, field) == value; });
}

TEST(Aof, RestartReplaysEveryTypeFromTwoToThreeWorkers) {
  const std::string dir = freshDir("aof-restart");
  std::map<std::string, std::string> before;
  {
    Logged k(2, dir);
    fillEveryType(k.client);
    const std::string a = keyOn(0, 2, "a"), b = keyOn(1, 2, "b");
    const std::string built0 = keyOn(0, 2, "built"), built1 = keyOn(1, 2, "built");
    sendAll(k.client, {{"MSET", a, "1", b, "2"},                        // keys on both workers
                       {"SADD", "popped", "1", "2", "3", "4", "5"},
                       {"SPOP", "popped", "2"},                          // a random choice: logged as what is left
                       {"SET", "relative", "v", "EX", "5000"},           // an absolute time follows it
                       {"RENAME", a, "renamed"},
                       {"EVAL", "redis.call('incr', KEYS[1]); return redis.call('incr', KEYS[1])", "1", "counted"},
                       // keys built inside the script, one on each worker
                       {"EVAL", "redis.call('incr', ARGV[1]) return redis.call('rpush', ARGV[2], 'x', 'y')", "0",
                        built0, built1},
                       {"DEL", "str:int"}});
    ASSERT_EQ(k.client.command({"MULTI"}), "+OK\r\n");
    k.client.command({"INCR", "in-multi"});
    k.client.command({"LPUSH", "list:small", "pushed"});
    ASSERT_EQ(RespConnection::elements(k.client.command({"EXEC"})).size(), 2u);
    before = contents(k.client);
    k.killTree(2);  // everysec: each write was in the file before its reply left
  }
  expectCheckAofAccepts(dir);
  {
    Logged again(3, dir);
    EXPECT_EQ(contents(again.client), before);
    again.client.command({"SET", "by-three", "x"});
    before = contents(again.client);
    again.server.process.stop(SIGTERM);
  }
  Logged third(2, dir);
  EXPECT_EQ(contents(third.client), before);
}

// Writers count the INCRs acknowledged on keys of both workers while the
// test kills the whole tree; after the restart each key holds at least its count.
void expectNoAcknowledgedWriteLost(const std::string& fsync, std::int64_t allowedLossMs) {
  const std::string dir = freshDir("aof-kill-" + fsync);
  constexpr int kWriters = 4, kMaxWrites = 50000;
  std::vector<std::string> keys;
  for (int w = 0; w < kWriters; ++w) keys.push_back(keyOn(w % 2, 2, "counter" + std::to_string(w)));
  std::vector<std::atomic<long long>> acked(kWriters);
  // When each writer's latest acknowledgements came (to bound everysec's loss).
  std::vector<std::vector<std::chrono::steady_clock::time_point>> times(kWriters);
  std::chrono::steady_clock::time_point killedAt;
  {
    Logged k(2, dir, fsync);
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        RespConnection c(k.server.port);
        for (int i = 0; i < kMaxWrites; ++i) {
          c.sendCommand({"INCR", keys[static_cast<std::size_t>(w)]});
          const auto reply = c.readReply(std::chrono::seconds(5));
          if (!reply || (*reply)[0] != ':') return;  // the server is gone
          acked[static_cast<std::size_t>(w)] = std::stoll(reply->substr(1));
          times[static_cast<std::size_t>(w)].push_back(std::chrono::steady_clock::now());
        }
      });
    }
    auto total = [&] {
      long long sum = 0;
      for (auto& a : acked) sum += a.load();
      return sum;
    };
    for (int i = 0; i < 6000 && total() < 4000; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_GE(total(), 4000) << "the writers did not get going";
    killedAt = std::chrono::steady_clock::now();
    k.killTree(2);
    for (auto& t : writers) t.join();
  }
  Logged again(2, dir, fsync);
  for (int w = 0; w < kWriters; ++w) {
    const std::string reply = again.client.command({"GET", keys[static_cast<std::size_t>(w)]});
    const long long value = reply == "$-1\r\n" ? 0 : std::stoll(reply.substr(reply.find("\r\n") + 2));
    const long long got = acked[static_cast<std::size_t>(w)].load();
    // An INCR in flight at the kill may have made it: one more at most.
    EXPECT_LE(value, got + 1) << keys[static_cast<std::size_t>(w)];
    long long lost = got - value, allowed = 0;
    for (const auto& at : times[static_cast<std::size_t>(w)]) {
      if (killedAt - at <= std::chrono::milliseconds(allowedLossMs)) ++allowed;
    }
    EXPECT_LE(lost, allowed) << keys[static_cast<std::size_t>(w)] << ": " << got << " acknowledged, " << value << " kept";
  }
}

TEST(Aof, AlwaysLosesNoAcknowledgedWriteWhenTheTreeIsKilled) { expectNoAcknowledgedWriteLost("always", 0); }

TEST(Aof, EverysecLosesAtMostAboutASecond) { expectNoAcknowledgedWriteLost("everysec", 2000); }

TEST(Aof, CrossWorkerWritesReplayAllOrNothing) {
  const std::string dir = freshDir("aof-atomic");
  constexpr int kPairs = 3000;
  std::atomic<int> acked{0};
  {
    Logged k(2, dir, "everysec");
    std::atomic<bool> done{false};
    std::thread writer([&] {
      RespConnection c(k.server.port);
      for (int i = 0; i < kPairs && !done; ++i) {
        const std::string n = std::to_string(i);
        c.sendCommand({"MSET", keyOn(0, 2, "left" + n), n, keyOn(1, 2, "right" + n), n});
        if (!c.readReply(std::chrono::seconds(5))) return;
        acked = i + 1;
      }
    });
    for (int i = 0; i < 6000 && acked < 500; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    k.killTree(2);
    done = true;
    writer.join();
  }
  // Cut the last batch of the coordinator's file short: its block goes whole.
  std::string cutFile;
  std::uintmax_t cutTo = 0;
  for (const auto& entry : fs::directory_iterator(dir + "/appendonlydir")) {
    const std::string text = readFile(entry.path().string());
    const std::size_t last = text.rfind("#keyloop ");
    if (entry.path().string().find(".incr.aof") == std::string::npos || last == std::string::npos) continue;
    if (text.find("MULTI", last) == std::string::npos) continue;
    cutFile = entry.path().string();
    cutTo = text.find("RESTORE", last) + 20;
    fs::resize_file(cutFile, cutTo);
    break;
  }
  ASSERT_FALSE(cutFile.empty()) << "no batch with a MULTI block to cut";
  Logged again(2, dir, "everysec");
  int whole = 0;
  for (int i = 0; i < kPairs; ++i) {
    const std::string n = std::to_string(i);
    const std::string left = again.client.command({"GET", keyOn(0, 2, "left" + n)});
    const std::string right = again.client.command({"GET", keyOn(1, 2, "right" + n)});
    ASSERT_EQ(left, right) << "pair " << i << " replayed in part";
    if (left != "$-1\r\n") ++whole;
  }
  // Every write acknowledged before the kill, but the block that was cut off.
  EXPECT_GE(whole, acked - 1);
  EXPECT_LE(whole, acked + 1);
  EXPECT_LT(fs::file_size(cutFile), cutTo) << "the cut-short batch stays in the file";
  expectCheckAofAccepts(dir);
}

TEST(Aof, AReloadToMoreWorkersAndAWorkersCrashKeepTheLog) {
  const std::string dir = freshDir("aof-reload");
  const std::string log = logAt(dir, "always");
  ReloadableServer k("aof-reload", "workers: 2\n" + log);
  RespConnection c(k.server.port);
  for (int i = 0; i < 300; ++i) c.command({"SET", "before" + std::to_string(i), std::to_string(i)});
  const CommandResult reloaded = k.reloadWorkers(3, log);
  ASSERT_EQ(reloaded.exitCode, 0) << reloaded.output;
  ASSERT_TRUE(k.settlesTo(3));
  // The new workers append to files of their own: two old ones, three new.
  const std::string manifest = readFile(manifestOf(dir));
  EXPECT_EQ(std::count(manifest.begin(), manifest.end(), '\n'), 5) << manifest;
  RespConnection after(k.server.port);
  for (int i = 0; i < 300; ++i) after.command({"SET", "after" + std::to_string(i), std::to_string(i)});
  after.command({"INCRBY", "before7", "100"});
  // A worker dies: its replacement replays the log for its keys.
  const std::map<int, pid_t> workers = workerPidsBySlot(k.server.process.pid(), 3);
  ASSERT_EQ(workers.size(), 3u);
  ::kill(workers.at(2), SIGKILL);
  const std::string key = keyOn(2, 3, "on-worker-2");
  std::string reply;
  RespConnection fresh(k.server.port);
  for (int i = 0; i < 1000 && (reply = fresh.command({"SET", key, "x"})) != "+OK\r\n"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(reply, "+OK\r\n");
  const std::map<std::string, std::string> before = contents(fresh);
  EXPECT_EQ(before.size(), 601u);
  EXPECT_EQ(fresh.command({"GET", "before7"}), bulk("107"));
  const std::map<int, pid_t> now = workerPidsBySlot(k.server.process.pid(), 3);
  ::kill(k.server.process.pid(), SIGKILL);
  for (const auto& [slot, pid] : now) ::kill(pid, SIGKILL);
  k.server.process.stop(SIGKILL);
  expectCheckAofAccepts(dir);
  Logged again(2, dir, "always");
  EXPECT_EQ(contents(again.client), before);
}

TEST(Aof, RewriteCompactsTheLogAndKeepsWritesMadeMeanwhile) {
  const std::string dir = freshDir("aof-rewrite");
  std::map<std::string, std::string> before;
  {
    Logged k(2, dir);
    for (int i = 0; i < 3000; ++i) k.client.command({"INCR", "hot" + std::to_string(i % 10)});
    fillEveryType(k.client);
    std::atomic<bool> stop{false};
    std::thread writer([&] {
      RespConnection c(k.server.port);
      for (int i = 0; i < 20000 && !stop; ++i) c.command({"SET", "during" + std::to_string(i % 500), std::to_string(i)});
    });
    ASSERT_EQ(k.client.command({"BGREWRITEAOF"}), "+Background append only file rewriting started\r\n");
    ASSERT_TRUE(waitForInfo(k.client, "aof_rewrites", "1"));
    EXPECT_EQ(k.client.command({"BGREWRITEAOF"}).substr(0, 1), "+");
    ASSERT_TRUE(waitForInfo(k.client, "aof_rewrites", "2"));
    stop = true;
    writer.join();
    EXPECT_EQ(infoField(k.client, "aof_last_bgrewrite_status"), "ok");
    before = contents(k.client);
    k.killTree(2);
  }
  const std::string manifest = readFile(manifestOf(dir));
  EXPECT_NE(manifest.find(".base.rdb seq"), std::string::npos) << manifest;
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir + "/appendonlydir")) {
    ++files;
    if (entry.path().filename() == "appendonly.aof.manifest") continue;
    EXPECT_NE(manifest.find(entry.path().filename().string()), std::string::npos)
        << entry.path() << " is not in the manifest:\n" << manifest;
  }
  EXPECT_EQ(files, 4u);  // the manifest, the base, one file per worker
  expectCheckAofAccepts(dir);
  Logged again(3, dir);
  EXPECT_EQ(contents(again.client), before);
}

TEST(Aof, GrowthPastTheRulesRewritesByItself) {
  const std::string dir = freshDir("aof-auto");
  Logged k(2, dir, "no", "    auto_rewrite_percentage: 100\n    auto_rewrite_min_size: 64kb\n");
  const std::string value(1000, 'v');
  for (int i = 0; i < 200; ++i) k.client.command({"SET", "k" + std::to_string(i % 20), value});
  ASSERT_TRUE(waitForInfo(k.client, "aof_rewrites", "1")) << infoField(k.client, "aof_current_size");
  EXPECT_EQ(k.client.command({"GET", "k19"}), bulk(value));
}

// A snapshot saved in `dir`, then the log turned on: its data is kept. With
// `ownDisk`, appendonlydir is a filesystem of its own (the snapshot is copied, not linked).
void expectTheLogStartsFromTheSnapshot(const std::string& dir, bool ownDisk) {
  {
    KeyloopServer plain("workers: 2\npersistence:\n  dir: " + dir + "\n  snapshot:\n    save: \"\"\n");
    RespConnection c(plain.port);
    fillEveryType(c);
    ASSERT_EQ(c.command({"SAVE"}), "+OK\r\n");
  }
  fs::create_directories(dir + "/appendonlydir");
  std::optional<SmallDisk> disk;
  if (ownDisk) {
    disk.emplace(dir + "/appendonlydir");
    ASSERT_TRUE(disk->mounted) << "mount tmpfs: " << std::strerror(errno) << " (this test needs root)";
  }
  std::map<std::string, std::string> before;
  {
    Logged k(2, dir);
    before = contents(k.client);
    EXPECT_FALSE(before.empty());
    k.client.command({"SET", "logged", "1"});
    before = contents(k.client);
    k.killTree(2);
  }
  EXPECT_EQ(readFile(dir + "/appendonlydir/appendonly.aof.1.base.rdb"), readFile(dir + "/dump.rdb"));
  Logged again(2, dir);
  EXPECT_EQ(contents(again.client), before);
}

TEST(Aof, TurningTheLogOnKeepsTheSnapshotsData) { expectTheLogStartsFromTheSnapshot(freshDir("aof-turn-on"), false); }

TEST(Aof, TurningTheLogOnCopiesTheSnapshotToAnotherFilesystem) {
  expectTheLogStartsFromTheSnapshot(freshDir("aof-turn-on-copy"), true);
}

TEST(Aof, AppendonlyTurnsOnAndOffAtRuntime) {
  const std::string dir = freshDir("aof-runtime");
  std::map<std::string, std::string> before;
  {
    KeyloopServer plain("workers: 2\npersistence:\n  dir: " + dir + "\n  snapshot:\n    save: \"\"\n");
    RespConnection c(plain.port);
    fillEveryType(c);
    ASSERT_EQ(c.command({"CONFIG", "SET", "appendonly", "yes"}), "+OK\r\n");
    ASSERT_TRUE(waitForInfo(c, "aof_rewrites", "1"));  // the log's first base
    EXPECT_EQ(infoField(c, "aof_enabled"), "1");
    c.command({"SET", "after-on", "1"});
    before = contents(c);
    const std::map<int, pid_t> pids = workerPidsBySlot(plain.process.pid(), 2);
    ::kill(plain.process.pid(), SIGKILL);
    for (const auto& [slot, pid] : pids) ::kill(pid, SIGKILL);
    plain.process.stop(SIGKILL);
  }
  expectCheckAofAccepts(dir);
  {
    Logged k(2, dir);
    EXPECT_EQ(contents(k.client), before);
    ASSERT_EQ(k.client.command({"CONFIG", "SET", "appendonly", "no"}), "+OK\r\n");
    EXPECT_EQ(infoField(k.client, "aof_enabled"), "0");
    k.client.command({"SET", "not-logged", "1"});
    // Off, BGREWRITEAOF still writes a base, and a manifest naming only it (as Redis).
    ASSERT_EQ(k.client.command({"BGREWRITEAOF"}), "+Background append only file rewriting started\r\n");
    ASSERT_TRUE(waitForInfo(k.client, "aof_rewrites", "1"));
    const std::string manifest = readFile(manifestOf(dir));
    EXPECT_EQ(manifest.find("type i"), std::string::npos) << manifest;
    EXPECT_NE(manifest.find("type b"), std::string::npos) << manifest;
    k.server.process.stop(SIGTERM);
  }
  Logged again(2, dir);  // the base has not-logged too
  before["not-logged"] = "+string\r\n$1\r\n1\r\n expires :-1\r\n";
  EXPECT_EQ(contents(again.client), before);
}

TEST(Aof, RefusesToStartFromAMalformedLog) {
  const std::string dir = freshDir("aof-corrupt");
  {
    Logged k(2, dir);
    for (int i = 0; i < 100; ++i) k.client.command({"SET", "k" + std::to_string(i), "v"});
  }
  const std::string incr = dir + "/appendonlydir/appendonly.aof.1.incr.aof";
  std::string text = readFile(incr);
  ASSERT_GT(text.size(), 100u);
  text[text.size() / 2] = '!';
  const std::string start = "workers: 2\n" + logAt(dir, "everysec");
  std::ofstream(incr, std::ios::binary | std::ios::trunc) << text;
  auto [code, log] = refusedStart(start);
  EXPECT_EQ(code, 1);
  EXPECT_NE(log.find("reading the append only file"), std::string::npos) << log;
  std::ofstream(incr, std::ios::binary | std::ios::trunc) << "#keyloop 1 1 0/2 23\r\n*2\r\n$6\r\nNOSUCH\r\n$1\r\nk\r\n";
  std::tie(code, log) = refusedStart(start);
  EXPECT_EQ(code, 1);
  EXPECT_NE(log.find("Unknown command 'NOSUCH' reading the append only file"), std::string::npos) << log;
}

TEST(Aof, SettingsAndInfoFieldsMatchRedis) {
  const std::string dir = freshDir("aof-config");
  Logged k(1, dir);
  const std::uint16_t port = freePort();
  fs::create_directories(dir + "/redis");
  Process redis("redis-server", {"--port", std::to_string(port), "--bind", "127.0.0.1", "--dir", dir + "/redis", "--save", "",
                                 "--appendonly", "yes"});
  ASSERT_TRUE(waitForPort(port));
  RespConnection r(port);
  for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
           {"CONFIG", "GET", "appendonly"},
           {"CONFIG", "GET", "appendfsync"},
           {"CONFIG", "GET", "appenddirname"},
           {"CONFIG", "GET", "appendfilename"},
           {"CONFIG", "GET", "auto-aof-rewrite-percentage"},
           {"CONFIG", "GET", "aof-load-truncated"},
           {"CONFIG", "GET", "aof-use-rdb-preamble"},
           {"CONFIG", "SET", "appendfsync", "sometimes"},
           {"CONFIG", "SET", "appendfsync", "always"},
           {"CONFIG", "GET", "appendfsync"},
           {"CONFIG", "SET", "appendfsync", "everysec"},
           {"BGREWRITEAOF", "extra"}}) {
    EXPECT_EQ(k.client.command(command), r.command(command)) << command[1];
  }
  // The same INFO persistence fields, in the same order.
  auto names = [](const std::string& info) {
    std::string out;
    for (std::size_t at = 0; (at = info.find('\n', at)) != std::string::npos; ++at) {
      const std::size_t colon = info.find(':', at);
      if (colon != std::string::npos) out += info.substr(at + 1, colon - at) + " ";
    }
    return out;
  };
  EXPECT_EQ(names(k.client.command({"INFO", "persistence"})), names(r.command({"INFO", "persistence"})));
  EXPECT_EQ(infoField(k.client, "aof_enabled"), "1");
}

TEST(Aof, FullDiskRefusesWritesWithMisconfAndRecovers) {
  const std::string dir = freshDir("aof-full");
  SmallDisk disk(dir);
  ASSERT_TRUE(disk.mounted) << "mount tmpfs: " << std::strerror(errno) << " (this test needs root)";
  Logged k(1, dir);
  const std::string value(64 * 1024, 'x');
  std::string reply;
  for (int i = 0; i < 64 && reply.rfind("-MISCONF", 0) != 0; ++i) reply = k.client.command({"SET", "big" + std::to_string(i), value});
  EXPECT_EQ(reply, "-MISCONF Errors writing to the AOF file: No space left on device\r\n");
  EXPECT_EQ(infoField(k.client, "aof_last_write_status"), "err");
  EXPECT_EQ(k.client.command({"PING"}), reply);  // as Redis: PING too
  EXPECT_EQ(k.client.command({"GET", "big0"}), bulk(value));  // reads go on
  ASSERT_TRUE(disk.grow());
  ASSERT_TRUE(waitForInfo(k.client, "aof_last_write_status", "ok"));
  EXPECT_EQ(k.client.command({"SET", "after", "1"}), "+OK\r\n");
  const std::map<std::string, std::string> before = contents(k.client);
  k.killTree(1);
  Logged again(1, dir);
  EXPECT_EQ(contents(again.client), before);
}

// The records of every incremental file, batch by batch in sequence order
// ("#keyloop <seq> <ms> <slot>/<workers> <bytes>" before each batch).
std::string feedOf(const std::string& dir) {
  std::vector<std::pair<std::uint64_t, std::string>> batches;
  for (const auto& entry : fs::directory_iterator(dir + "/appendonlydir")) {
    if (entry.path().string().find(".incr.aof") == std::string::npos) continue;
    const std::string text = readFile(entry.path().string());
    std::size_t pos = 0;
    while (pos < text.size() && text[pos] == '#') {
      const std::size_t eol = text.find("\r\n", pos);
      std::uint64_t seq = 0;
      std::size_t bytes = 0;
      char slots[32];
      if (eol == std::string::npos ||
          std::sscanf(text.c_str() + pos, "#keyloop %lu %*d %31s %zu", &seq, slots, &bytes) != 3) {
        ADD_FAILURE() << "not an annotation at byte " << pos << " of " << entry.path();
        return {};
      }
      batches.emplace_back(seq, text.substr(eol + 2, bytes));
      pos = eol + 2 + bytes;
    }
    EXPECT_EQ(pos, text.size()) << "records outside a batch in " << entry.path();
  }
  std::sort(batches.begin(), batches.end());
  std::string feed;
  for (const auto& [seq, records] : batches) feed += records;
  return feed;
}

// A random workload of every type on 4 workers (single- and multi-slot
// writes, relative TTLs, random choices, float increments, scripts,
// transactions, blocking pops served at once and later, expiry, eviction), then the change
// feed (the log's batches by sequence) sent to a fresh redis-server: it
// takes every record and holds the same keys, values and expiries.
TEST(Aof, TheFeedReplayedIntoRedisServerGivesTheSameDataset) {
  const std::string dir = freshDir("aof-feed");
  Logged k(4, dir, "always");
  std::mt19937 rng(20261206);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto key = [&](const char* prefix) { return std::string(prefix) + std::to_string(pick(12)); };
  // `count` random commands, each answered before the next.
  using Args = std::vector<std::string>;
  auto runWorkload = [&](int count) {
    std::vector<Args> commands;
    for (int i = 0; i < count; ++i) {
      const std::string n = std::to_string(pick(1000));
      switch (pick(22)) {
        case 0: commands.push_back({"SET", key("s"), n}); break;
        case 1: commands.push_back({"SET", key("s"), n, "EX", "5000"}); break;
        case 2: commands.push_back({"SET", key("s"), n, "PX", "900000", "GET"}); break;
        case 3: commands.push_back({"INCRBYFLOAT", key("f"), "1.25"}); break;
        case 4: commands.push_back({"HINCRBYFLOAT", key("h"), "f" + std::to_string(pick(3)), "0.5"}); break;
        case 5: commands.push_back({"HSET", key("h"), "g" + n, n}); break;
        case 6: commands.push_back({"SADD", key("t"), n, std::to_string(pick(1000))}); break;
        case 7: commands.push_back({"SPOP", key("t")}); break;
        case 8: commands.push_back({"SPOP", key("t"), "2"}); break;
        case 9: commands.push_back({"RPUSH", key("l"), n, n}); break;
        case 10: commands.push_back({"BLPOP", key("l"), key("l"), "0.01"}); break;
        case 11: commands.push_back({"LMPOP", "2", key("l"), key("l"), "RIGHT", "COUNT", "3"}); break;
        case 12: commands.push_back({"ZADD", key("z"), n, "m" + n}); break;
        case 13: commands.push_back({"BZPOPMIN", key("z"), "0.01"}); break;
        case 14: commands.push_back({"EXPIRE", key("s"), std::to_string(pick(3) == 0 ? -1 : 7000)}); break;
        case 15: commands.push_back(pick(2) ? Args{"GETEX", key("s"), "PERSIST"} : Args{"GETEX", key("s"), "EX", "3000"}); break;
        case 16: commands.push_back({"GETDEL", key("s")}); break;
        case 17: commands.push_back({"MSET", key("s"), n, key("s"), n}); break;
        case 18: commands.push_back({"SUNIONSTORE", key("t"), key("t"), key("t")}); break;
        case 19: commands.push_back({"DEL", key("s"), key("l")}); break;
        case 20: commands.push_back({"EVAL", "redis.call('SET', KEYS[1], ARGV[1], 'EX', 600) return redis.call('INCRBYFLOAT', KEYS[2], '0.5')",
                                     "2", "{e}" + n, "{e}f", n}); break;
        default: commands.push_back({"GETSET", key("s"), n}); break;
      }
    }
    for (const std::vector<std::string>& command : commands) {
      const std::optional<std::string> reply = (k.client.sendCommand(command), k.client.readReply());
      ASSERT_TRUE(reply.has_value()) << command[0] << ": no reply";
    }
  };
  runWorkload(700);
  // A transaction, and a pop served to a client that was blocked first.
  ASSERT_EQ(k.client.command({"MULTI"}), "+OK\r\n");
  k.client.command({"SET", "{x}a", "1", "EX", "4000"});
  k.client.command({"INCRBYFLOAT", "{x}b", "2.5"});
  ASSERT_EQ(k.client.command({"EXEC"}).substr(0, 4), "*2\r\n");
  RespConnection waiter(k.server.port);
  waiter.sendCommand({"BLPOP", "served", "0"});
  ASSERT_TRUE(waitUntil([&] { return k.client.command({"INFO", "clients"}).find("blocked_clients:1\r\n") != std::string::npos; }));
  k.client.command({"RPUSH", "served", "a", "b"});
  ASSERT_EQ(waiter.readReply(), "*2\r\n$6\r\nserved\r\n$1\r\na\r\n");
  // Expiry: keys that expire on their own are DELs in the feed.
  for (int i = 0; i < 10; ++i) k.client.command({"SET", "gone" + std::to_string(i), "v", "PX", "20"});
  ASSERT_TRUE(waitUntil([&] {
    return k.client.command({"EXISTS", "gone0", "gone1", "gone2", "gone3", "gone4", "gone5", "gone6", "gone7", "gone8",
                             "gone9"}) == ":0\r\n";
  }));
  // Eviction: under a limit below what is held, writes evict (DELs too);
  // then more of the workload without a limit.
  const std::string memory = k.client.command({"INFO", "memory"});
  const long long used = std::atoll(memory.c_str() + memory.find("used_memory:") + 12);
  ASSERT_EQ(k.client.command({"CONFIG", "SET", "maxmemory-policy", "allkeys-random"}), "+OK\r\n");
  ASSERT_EQ(k.client.command({"CONFIG", "SET", "maxmemory", std::to_string(used / 2)}), "+OK\r\n");
  for (int i = 0; i < 40; ++i) k.client.command({"SET", "late" + std::to_string(i), std::string(64 * 1024, 'x')});
  const std::string stats = k.client.command({"INFO", "stats"});
  EXPECT_GT(std::atoll(stats.c_str() + stats.find("evicted_keys:") + 13), 0) << "nothing was evicted";
  ASSERT_EQ(k.client.command({"CONFIG", "SET", "maxmemory", "0"}), "+OK\r\n");
  runWorkload(400);

  // appendfsync always: every acknowledged write is in the files now.
  const std::string feed = feedOf(dir);
  ASSERT_FALSE(feed.empty());
  RedisServer redis;
  RespConnection reference(redis.port);
  reference.send(feed + RespConnection::encode({"PING"}));
  int errors = 0;
  for (;;) {
    const std::optional<std::string> reply = reference.readReply();
    ASSERT_TRUE(reply.has_value()) << "redis-server stopped answering the feed";
    if (*reply == "+PONG\r\n") break;
    if ((*reply)[0] == '-' && ++errors <= 5) ADD_FAILURE() << "redis-server refused a record: " << *reply;
  }
  EXPECT_EQ(errors, 0);
  const std::map<std::string, std::string> ours = contents(k.client), theirs = contents(reference);
  EXPECT_GT(ours.size(), 20u);
  EXPECT_EQ(ours, theirs);
}

}  // namespace
}  // namespace keyloop::test
