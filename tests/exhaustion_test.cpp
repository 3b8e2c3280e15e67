// When the master runs out of what a step needs (descriptors, a port), the
// step fails with a clear error and the master serves on: a reload that
// cannot build its generation changes nothing and succeeds once the cause
// is gone; a worker that cannot be restarted is retried until it can.
//
// The master is exhausted from outside, the way a production box is: its
// descriptor limit is lowered (prlimit) to its lowest free descriptor
// number, so every descriptor it asks for is refused with EMFILE.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cstring>
#include <filesystem>
#include <set>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "common/net/listener.h"
#include "common/ring/ring.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The lowest descriptor number `pid` has free: with its limit there, the
// kernel has no number left to give it (EMFILE), whatever it holds above.
rlim_t lowestFreeDescriptor(pid_t pid) {
  std::set<rlim_t> used;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    used.insert(std::stoul(entry.path().filename().string()));
  }
  rlim_t free = 0;
  while (used.count(free)) ++free;
  return free;
}

// Sets the process's soft descriptor limit (the hard one stays: raising
// it again would need CAP_SYS_RESOURCE); returns the old limits.
rlimit setDescriptorLimit(pid_t pid, rlim_t limit) {
  rlimit old{};
  EXPECT_EQ(::prlimit(pid, RLIMIT_NOFILE, nullptr, &old), 0) << std::strerror(errno);
  const rlimit next{limit, old.rlim_max};
  EXPECT_EQ(::prlimit(pid, RLIMIT_NOFILE, &next, nullptr), 0) << std::strerror(errno);
  return old;
}

// Writes `keys` keys and returns them (they spread over every worker).
std::vector<std::string> writeKeys(RespConnection& c, int keys) {
  std::vector<std::string> written;
  for (int i = 0; i < keys; ++i) {
    written.push_back("key:" + std::to_string(i));
    EXPECT_EQ(c.command({"SET", written.back(), "value-" + std::to_string(i)}), "+OK\r\n");
  }
  return written;
}

void expectReadable(RespConnection& c, const std::vector<std::string>& keys) {
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::string value = "value-" + std::to_string(i);
    ASSERT_EQ(c.command({"GET", keys[i]}), "$" + std::to_string(value.size()) + "\r\n" + value + "\r\n") << keys[i];
  }
}

void expectReadable(std::uint16_t port, const std::vector<std::string>& keys) {
  RespConnection c(port);
  expectReadable(c, keys);
}

// A connection that a running worker accepted: while a slot's worker is
// down, connections the kernel puts in that slot's queue wait there.
std::unique_ptr<RespConnection> connectionToALiveWorker(std::uint16_t port) {
  for (int attempt = 0; attempt < 64; ++attempt) {
    auto c = std::make_unique<RespConnection>(port);
    c->sendCommand({"PING"});
    if (c->readReply(std::chrono::milliseconds(500)) == "+PONG\r\n") return c;
  }
  return nullptr;
}

TEST(Exhaustion, AReloadOutOfDescriptorsFailsCleanlyAndSucceedsOnceTheyAreBack) {
  ReloadableServer s("fd-reload", "workers: 2\n");
  RespConnection c(s.server.port);
  const auto keys = writeKeys(c, 200);
  const pid_t master = s.server.process.pid();
  ASSERT_TRUE(s.settlesTo(2));
  const rlimit saved = setDescriptorLimit(master, lowestFreeDescriptor(master));

  const CommandResult failed = s.reloadWorkers(4);
  EXPECT_EQ(failed.exitCode, 1) << failed.output;
  EXPECT_NE(failed.output.find("reload failed"), std::string::npos) << failed.output;
  EXPECT_NE(failed.output.find("Too many open files"), std::string::npos) << failed.output;
  EXPECT_NE(failed.output.find(s.server.configPath), std::string::npos) << "the error names the file: " << failed.output;
  EXPECT_TRUE(s.server.process.running()) << "the master died of a failed reload";
  EXPECT_TRUE(s.settlesTo(2)) << "the serving generation changed";
  expectReadable(s.server.port, keys);
  RespConnection fresh(s.server.port);  // the port still takes connections
  EXPECT_EQ(fresh.command({"DBSIZE"}), ":200\r\n");

  setDescriptorLimit(master, saved.rlim_cur);
  const CommandResult ok = s.reloadWorkers(4);
  ASSERT_EQ(ok.exitCode, 0) << ok.output;
  EXPECT_NE(ok.output.find("4 workers serving"), std::string::npos) << ok.output;
  ASSERT_TRUE(s.settlesTo(4));
  expectReadable(s.server.port, keys);
}

TEST(Exhaustion, AWorkerThatCannotBeRestartedIsRetriedUntilItCan) {
  ReloadableServer s("fd-restart", "workers: 2\n");
  const pid_t master = s.server.process.pid();
  const auto workers = workerPidsBySlot(master, 2);
  ASSERT_EQ(workers.size(), 2u);
  // Keys on worker 0 only: they must outlive worker 1's troubles.
  const ring::Ring ring(2);
  std::vector<std::string> keys;
  RespConnection c(s.server.port);
  for (int i = 0; keys.size() < 50; ++i) {
    const std::string key = "key:" + std::to_string(i);
    if (ring.ownerOf(key) != 0) continue;
    keys.push_back(key);
    ASSERT_EQ(c.command({"SET", key, "value-" + std::to_string(keys.size() - 1)}), "+OK\r\n");
  }
  const rlimit saved = setDescriptorLimit(master, lowestFreeDescriptor(master));
  ASSERT_EQ(::kill(workers.at(1), SIGKILL), 0);
  // The master notices, fails to restart it (no descriptor for its control
  // socket) and says so; it keeps serving with the other worker.
  std::ifstream log(s.server.configPath + ".log");
  std::string line;
  bool said = false;
  for (const auto deadline = Clock::now() + 30s; !said && Clock::now() < deadline;) {
    if (!std::getline(log, line)) {
      log.clear();
      std::this_thread::sleep_for(20ms);
      continue;
    }
    said = line.find("Could not start worker 1") != std::string::npos &&
           line.find("Too many open files") != std::string::npos;
  }
  EXPECT_TRUE(said) << "no log line says why worker 1 is not back";
  EXPECT_TRUE(s.server.process.running());
  auto live = connectionToALiveWorker(s.server.port);
  ASSERT_TRUE(live) << "no worker answers";
  expectReadable(*live, keys);

  setDescriptorLimit(master, saved.rlim_cur);
  const auto back = workerPidsBySlot(master, 2);  // waits for both slots
  ASSERT_EQ(back.size(), 2u) << "worker 1 was not restarted once descriptors were back";
  EXPECT_NE(back.at(1), workers.at(1));
  expectReadable(s.server.port, keys);
}

// A new listen address whose port another socket holds: the reload fails,
// names the address, and nothing changes.
TEST(Exhaustion, AReloadToATakenDataPortChangesNothing) {
  ReloadableServer s("taken-port", "workers: 2\n");
  RespConnection c(s.server.port);
  const auto keys = writeKeys(c, 50);
  const std::uint16_t taken = freePort();
  ListenConfig holder;
  holder.address = "127.0.0.1";
  holder.port = taken;
  auto opened = openListener(holder, /*reusePort=*/false);
  ASSERT_TRUE(opened.ok()) << opened.error();

  const CommandResult r =
      s.reload("workers: 2\n", "  - address: 127.0.0.1\n    port: " + std::to_string(taken) + "\n");
  EXPECT_EQ(r.exitCode, 1) << r.output;
  EXPECT_NE(r.output.find("127.0.0.1:" + std::to_string(taken)), std::string::npos) << r.output;
  EXPECT_TRUE(s.server.process.running());
  EXPECT_TRUE(s.settlesTo(2));
  expectReadable(s.server.port, keys);
  EXPECT_EQ(c.command({"DBSIZE"}), ":50\r\n");  // the open connection was never touched
}

// A worker out of descriptors does not spin on its readable listener
// (accept fails with EMFILE for as long as the connection waits): it stops
// accepting for a moment, serves its open clients, says so at most once a
// second, and accepts the waiting connection once it has descriptors again.
TEST(Exhaustion, AWorkerOutOfDescriptorsPausesAcceptingAndServesItsClients) {
  KeyloopServer server("workers: 1\n");
  const std::map<int, pid_t> workers = workerPidsBySlot(server.process.pid(), 1);
  ASSERT_EQ(workers.size(), 1u);
  const pid_t worker = workers.begin()->second;
  RespConnection open(server.port);
  ASSERT_EQ(open.command({"PING"}), "+PONG\r\n");
  {
    // A client comes and goes first, as on any live server: the sanitizers'
    // runtime reads /proc/self/maps the first time it checks the types on
    // that path, and at the limit it could not (a false report).
    RespConnection passing(server.port);
    ASSERT_EQ(passing.command({"PING"}), "+PONG\r\n");
  }
  const auto settled = std::chrono::steady_clock::now() + 10s;
  while (open.command({"INFO", "clients"}).find("connected_clients:1\r\n") == std::string::npos &&
         std::chrono::steady_clock::now() < settled) {
    std::this_thread::sleep_for(1ms);
  }
  const rlimit old = setDescriptorLimit(worker, lowestFreeDescriptor(worker));
  RespConnection waiting(server.port);  // in the backlog: the worker has no descriptor for it
  waiting.sendCommand({"PING"});
  // The open client is served meanwhile, over and over.
  for (int i = 0; i < 50; ++i) ASSERT_EQ(open.command({"PING"}), "+PONG\r\n");
  setDescriptorLimit(worker, old.rlim_cur);  // descriptors again: the waiting one is served
  EXPECT_EQ(waiting.readReply(10s).value_or("<no reply>"), "+PONG\r\n");
  // Said, but not once per failed accept: a spinning loop would have
  // logged a line for every one of its wakeups meanwhile.
  std::ifstream log(server.configPath + ".log");
  int warnings = 0;
  for (std::string line; std::getline(log, line);) warnings += line.find("Accepting client connection") != std::string::npos;
  EXPECT_GE(warnings, 1);
  EXPECT_LE(warnings, 3);
  EXPECT_EQ(open.command({"PING"}), "+PONG\r\n");
}

}  // namespace
}  // namespace keyloop::test
