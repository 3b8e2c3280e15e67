// Snapshots (RDB) against the real binary and redis-server: a save and a
// restart keep every type and TTL whatever the worker count; dump.rdb
// moves both ways between keyloop and redis-server (redis-check-rdb
// accepts keyloop's); BGSAVE holds the keys as of its reply; shutdown
// saves when save rules exist; a corrupt file stops keyloop from starting;
// a full disk fails the save without harm and refuses writes until one
// succeeds; kill -9 during a save leaves the previous file whole.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "tests/support/keyspace.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

namespace fs = std::filesystem;

std::string persistenceAt(const std::string& dir, const std::string& save = "") {
  return "persistence:\n  dir: " + dir + "\n  snapshot:\n    save: \"" + save + "\"\n";
}

struct Saved {
  explicit Saved(int workers, const std::string& dir, const std::string& save = "")
      : server("workers: " + std::to_string(workers) + "\n" + persistenceAt(dir, save)), client(server.port) {}
  KeyloopServer server;
  RespConnection client;
};

// Waits until no snapshot runs and `saves` have completed (or failed).
bool waitForSaves(RespConnection& c, const std::string& field, const std::string& value) {
  return waitUntil([&] { return infoField(c, "rdb_bgsave_in_progress") == "0" && infoField(c, field) == value; });
}

TEST(Snapshots, SaveAndRestartKeepEveryTypeFromTwoToThreeWorkers) {
  const std::string dir = freshDir("persist-restart");
  std::map<std::string, std::string> before;
  {
    Saved k(2, dir);
    fillEveryType(k.client);
    before = contents(k.client);
    ASSERT_EQ(k.client.command({"SAVE"}), "+OK\r\n");
    EXPECT_EQ(infoField(k.client, "rdb_changes_since_last_save"), "0");
    k.client.command({"SET", "after-save", "lost: no save rules"});
  }
  Saved again(3, dir);
  EXPECT_EQ(contents(again.client), before);
  EXPECT_EQ(infoField(again.client, "rdb_last_load_keys_loaded"), std::to_string(before.size()));
  // And back to two, through a snapshot written by three.
  ASSERT_EQ(again.client.command({"BGSAVE"}), "+Background saving started\r\n");
  ASSERT_TRUE(waitForSaves(again.client, "rdb_saves", "1"));
  again.server.process.stop(SIGTERM);
  Saved third(2, dir);
  EXPECT_EQ(contents(third.client), before);
}

TEST(Snapshots, DumpRdbMovesBothWaysWithRedisServer) {
  const std::string dir = freshDir("persist-redis");
  std::map<std::string, std::string> ours;
  {
    Saved k(2, dir);
    fillEveryType(k.client);
    ASSERT_EQ(k.client.command({"FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('one', function() return 1 end)"}),
              bulk("lib"));
    ours = contents(k.client);
    ASSERT_EQ(k.client.command({"SAVE"}), "+OK\r\n");
  }
  const CommandResult check = runCommand("redis-check-rdb " + dir + "/dump.rdb");
  EXPECT_EQ(check.exitCode, 0) << check.output;
  EXPECT_NE(check.output.find("RDB looks OK"), std::string::npos) << check.output;

  // redis-server loads keyloop's file, then writes its own (listpacks,
  // quicklists, intsets, LZF) that keyloop loads.
  const std::uint16_t port = freePort();
  {
    Process redis("redis-server", {"--port", std::to_string(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "",
                                   "--appendonly", "no"});
    ASSERT_TRUE(waitForPort(port));
    RespConnection r(port);
    for (int i = 0; i < 500 && r.command({"PING"}) != "+PONG\r\n"; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(contents(r), ours);
    EXPECT_EQ(r.command({"FCALL", "one", "0"}), ":1\r\n");
    sendAll(r, {{"SET", "from:redis", std::string(300, 'z')}, {"RPUSH", "from:redis:list", "a", "b"}});
    ours = contents(r);
    ASSERT_EQ(r.command({"SAVE"}), "+OK\r\n");
  }
  Saved back(3, dir);
  EXPECT_EQ(contents(back.client), ours);
  EXPECT_EQ(back.client.command({"FCALL", "one", "0"}), ":1\r\n");
}

// The values of keys k0..k<n-1> (MGET), and the key count.
std::string valuesOf(RespConnection& c, int n) {
  std::string all = c.command({"DBSIZE"});
  for (int from = 0; from < n; from += 1000) {
    std::vector<std::string> mget{"MGET"};
    for (int i = from; i < std::min(n, from + 1000); ++i) mget.push_back("k" + std::to_string(i));
    all += c.command(mget);
  }
  return all;
}

TEST(Snapshots, BgsaveHoldsTheKeysAsOfItsReply) {
  const std::string dir = freshDir("persist-pointintime");
  constexpr int kKeys = 30000;
  std::string atReply;
  {
    Saved k(2, dir);
    RespConnection& c = k.client;
    // Enough keys that the walk spans many loop iterations.
    for (int i = 0; i < kKeys; ++i) c.sendCommand({"SET", "k" + std::to_string(i), "old" + std::to_string(i)});
    for (int i = 0; i < kKeys; ++i) ASSERT_EQ(c.readReply(), "+OK\r\n");
    atReply = valuesOf(c, kKeys);
    ASSERT_EQ(c.command({"BGSAVE"}), "+Background saving started\r\n");
    // Overwrite, delete and add while it is being written.
    for (int i = 0; i < kKeys; i += 3) {
      c.sendCommand({"SET", "k" + std::to_string(i), "new"});
      c.sendCommand({"DEL", "k" + std::to_string(i + 1)});
      c.sendCommand({"SET", "born-later:" + std::to_string(i), "x"});
    }
    for (int i = 0; i < kKeys; i += 3) {
      for (int r = 0; r < 3; ++r) ASSERT_TRUE(c.readReply());
    }
    ASSERT_TRUE(waitForSaves(c, "rdb_saves", "1"));
    EXPECT_NE(valuesOf(c, kKeys), atReply);
  }
  Saved loaded(2, dir);
  EXPECT_EQ(valuesOf(loaded.client, kKeys), atReply);
}

TEST(Snapshots, ShutdownSavesWithSaveRulesAndNosaveDoesNot) {
  const std::string dir = freshDir("persist-shutdown");
  {
    Saved k(2, dir, "3600 1000000");  // a rule that never fires by itself
    k.client.command({"SET", "a", "1"});
    k.client.command({"SHUTDOWN"});
    const auto status = k.server.process.stop(0, std::chrono::seconds(30));  // exits by itself
    ASSERT_TRUE(status && WIFEXITED(*status)) << (status ? *status : -1);
    EXPECT_EQ(WEXITSTATUS(*status), 0);
  }
  {
    Saved k(2, dir, "3600 1000000");
    EXPECT_EQ(k.client.command({"GET", "a"}), bulk("1"));
    k.client.command({"SET", "b", "2"});
    EXPECT_EQ(k.client.command({"SHUTDOWN", "NOSAVE", "SAVE"}), "-ERR syntax error\r\n");
    EXPECT_EQ(k.client.command({"SHUTDOWN", "ABORT"}), "-ERR No shutdown in progress.\r\n");
    k.client.command({"SHUTDOWN", "NOSAVE"});
    ASSERT_TRUE(k.server.process.stop(0, std::chrono::seconds(30)));
  }
  {
    Saved k(2, dir, "3600 1000000");
    EXPECT_EQ(k.client.command({"GET", "b"}), "$-1\r\n");
    k.client.command({"SET", "c", "3"});
    ASSERT_TRUE(k.server.process.stop(SIGTERM, std::chrono::seconds(30)));  // SIGTERM saves too
  }
  {
    Saved k(1, dir, "3600 1000000");
    EXPECT_EQ(k.client.command({"GET", "c"}), bulk("3"));
    k.client.command({"SET", "d", "4"});
    ASSERT_TRUE(k.server.process.stop(SIGQUIT, std::chrono::seconds(60)));  // and the graceful SIGQUIT, once drained
  }
  Saved k(2, dir);
  EXPECT_EQ(k.client.command({"GET", "d"}), bulk("4"));
}

TEST(Snapshots, SaveRulesStartABackgroundSave) {
  const std::string dir = freshDir("persist-rules");
  Saved k(2, dir, "1 2");  // after more than a second, at least two changes
  const std::string first = k.client.command({"LASTSAVE"});
  k.client.command({"SET", "a", "1"});
  k.client.command({"SET", "b", "1"});
  ASSERT_TRUE(waitForSaves(k.client, "rdb_saves", "1"));
  EXPECT_NE(k.client.command({"LASTSAVE"}), first);
  EXPECT_TRUE(fs::exists(dir + "/dump.rdb"));
}

TEST(Snapshots, ConfigSetSaveReachesTheMasterAndDirIsProtectedAsInRedis) {
  const std::string dir = freshDir("persist-configset");
  Saved k(2, dir);
  RedisServer redis;
  RespConnection r(redis.port);
  for (const std::vector<std::string>& command :
       std::vector<std::vector<std::string>>{{"CONFIG", "SET", "dir", "/tmp"}, {"CONFIG", "SET", "dbfilename", "x.rdb"},
                                             {"CONFIG", "SET", "save", "1 2 3"}, {"CONFIG", "SET", "stop-writes-on-bgsave-error", "maybe"},
                                             {"CONFIG", "GET", "stop-writes-on-bgsave-error"}, {"CONFIG", "SET", "save", ""},
                                             {"CONFIG", "GET", "save"}}) {
    EXPECT_EQ(k.client.command(command), r.command(command)) << command[2];
  }
  EXPECT_EQ(k.client.command({"CONFIG", "GET", "dir"}), "*2\r\n$3\r\ndir\r\n" + bulk(dir));
  // The master runs the rules: a rule set at runtime makes a save.
  ASSERT_EQ(k.client.command({"CONFIG", "SET", "save", "1 1"}), "+OK\r\n");
  k.client.command({"SET", "a", "1"});
  ASSERT_TRUE(waitForSaves(k.client, "rdb_saves", "1"));
  EXPECT_TRUE(fs::exists(dir + "/dump.rdb"));
}

TEST(Snapshots, ASaveRightAfterAReloadHasEveryKey) {
  const std::string dir = freshDir("persist-reload");
  std::map<std::string, std::string> before;
  {
    ReloadableServer s("persist-reload", "workers: 2\n" + persistenceAt(dir));
    RespConnection c(s.server.port);
    fillEveryType(c);
    before = contents(c);
    // Its old workers may still drain their clients (this one included): they own no key any more.
    const CommandResult r = s.reload("workers: 3\n" + persistenceAt(dir));
    ASSERT_EQ(r.exitCode, 0) << r.output;
    RespConnection fresh(s.server.port);
    ASSERT_EQ(fresh.command({"SAVE"}), "+OK\r\n");
  }
  Saved again(2, dir);
  EXPECT_EQ(contents(again.client), before);
}

// Starts keyloop on `dir` and returns its exit status and log, expecting it to refuse.

TEST(Snapshots, RefusesToStartFromACorruptOrTruncatedFile) {
  const std::string dir = freshDir("persist-corrupt");
  {
    Saved k(2, dir);
    fillEveryType(k.client);
    ASSERT_EQ(k.client.command({"SAVE"}), "+OK\r\n");
  }
  const std::string good = readFile(dir + "/dump.rdb");
  auto writeDump = [&](const std::string& bytes) { std::ofstream(dir + "/dump.rdb", std::ios::binary | std::ios::trunc) << bytes; };

  writeDump(good.substr(0, good.size() / 2));
  auto [code, log] = refusedStart("workers: 2\n" + persistenceAt(dir));
  EXPECT_EQ(code, 1);
  EXPECT_NE(log.find("Short read or bad format loading"), std::string::npos) << log;
  EXPECT_NE(log.find("could not load its data"), std::string::npos) << log;

  std::string flipped = good;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x20);
  writeDump(flipped);
  std::tie(code, log) = refusedStart("workers: 2\n" + persistenceAt(dir));
  EXPECT_EQ(code, 1);
  EXPECT_NE(log.find("Short read or bad format loading"), std::string::npos) << log;

  writeDump("not an rdb file at all");
  std::tie(code, log) = refusedStart("workers: 2\n" + persistenceAt(dir));
  EXPECT_EQ(code, 1);
  EXPECT_NE(log.find("no REDIS signature"), std::string::npos) << log;
}


TEST(Snapshots, FullDiskFailsTheSaveRefusesWritesAndRecovers) {
  const std::string dir = freshDir("persist-enospc");
  SmallDisk disk(dir);
  ASSERT_TRUE(disk.mounted) << "mount tmpfs: " << std::strerror(errno) << " (this test needs root)";
  Saved k(2, dir, "3600 1000000");
  k.client.command({"SET", "small", "fits"});
  ASSERT_EQ(k.client.command({"SAVE"}), "+OK\r\n");
  const std::string before = readFile(dir + "/dump.rdb");
  // About 3 MB of values: more than the disk holds.
  for (int i = 0; i < 30; ++i) k.client.command({"SET", "big:" + std::to_string(i), std::string(100000, 'x')});
  EXPECT_EQ(k.client.command({"SAVE"}), "-ERR\r\n");
  EXPECT_EQ(infoField(k.client, "rdb_last_bgsave_status"), "err");
  const std::string misconf = k.client.command({"SET", "refused", "1"});
  EXPECT_EQ(misconf.rfind("-MISCONF Redis is configured to save RDB snapshots", 0), 0u) << misconf;
  EXPECT_EQ(k.client.command({"PING"}).rfind("-MISCONF", 0), 0u);
  EXPECT_EQ(k.client.command({"GET", "small"}), bulk("fits"));  // reads still work
  EXPECT_EQ(readFile(dir + "/dump.rdb"), before);                // nothing corrupted
  for (const auto& entry : fs::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().filename(), "dump.rdb") << "left behind: " << entry.path();
  }
  // Space returns: the next save succeeds and writes are accepted again.
  ASSERT_TRUE(disk.grow()) << std::strerror(errno);
  ASSERT_EQ(k.client.command({"BGSAVE"}), "+Background saving started\r\n");
  ASSERT_TRUE(waitForSaves(k.client, "rdb_last_bgsave_status", "ok"));
  EXPECT_EQ(k.client.command({"SET", "accepted", "1"}), "+OK\r\n");
  const std::string log = readFile(k.server.configPath + ".log");
  EXPECT_NE(log.find("No space left on device"), std::string::npos) << log;
}

TEST(Snapshots, KillNineDuringASaveLeavesThePreviousFileWhole) {
  const std::string dir = freshDir("persist-" "kill9");
  Saved k(2, dir);
  k.client.command({"SET", "first", "generation"});
  ASSERT_EQ(k.client.command({"SAVE"}), "+OK\r\n");
  const std::string before = readFile(dir + "/dump.rdb");
  for (int batch = 0; batch < 50; ++batch) {
    std::vector<std::string> mset{"MSET"};
    for (int i = 0; i < 2000; ++i) mset.insert(mset.end(), {"{t}k" + std::to_string(batch * 2000 + i), std::string(200, 'v')});
    ASSERT_EQ(k.client.command(mset), "+OK\r\n");
  }
  const std::map<int, pid_t> workers = workerPidsBySlot(k.server.process.pid(), 2);
  ASSERT_EQ(workers.size(), 2u);
  ASSERT_EQ(k.client.command({"BGSAVE"}), "+Background saving started\r\n");
  ::kill(k.server.process.pid(), SIGKILL);
  for (const auto& [slot, pid] : workers) ::kill(pid, SIGKILL);
  k.server.process.stop(SIGKILL);
  // The new file may or may not have made it; if not, the old one is whole.
  const std::string after = readFile(dir + "/dump.rdb");
  if (after != before) {
    const CommandResult check = runCommand("redis-check-rdb " + dir + "/dump.rdb");
    EXPECT_EQ(check.exitCode, 0) << check.output;
  }
  Saved again(2, dir);
  EXPECT_EQ(again.client.command({"GET", "first"}), bulk("generation"));
}

}  // namespace
}  // namespace keyloop::test
