// Reload and control from the command line, the systemd way: `keyloop -s
// reload|stop|quit` waits for the outcome; a valid reload reaches every
// worker without dropping a client; a bad one changes nothing and says
// where it is wrong; sd_notify tells systemd READY / RELOADING / STOPPING;
// the shipped unit file passes systemd-analyze verify.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/loop/unique_fd.h"
#include "tests/support/command.h"
#include "tests/support/http.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

using namespace std::chrono_literals;

std::string pidfileFor(const std::string& tag) {
  return (std::filesystem::temp_directory_path() / ("keyloop-reload-" + tag + "-" + std::to_string(::getpid()) + ".pid")).string();
}

// Rewrites the running server's config: listen entry, then `body`.
void rewrite(const KeyloopServer& server, const std::string& body) {
  std::ofstream(server.configPath, std::ios::trunc) << "listen:\n  - address: 127.0.0.1\n    port: " << server.port
                                                   << "\n" << body << testDefaults(server.configPath, body);
}

// The master's answer to reload number `sequence` ("<n> ok|error <text>"),
// read from the status file next to the pidfile.
std::string waitForReloadStatus(const std::string& pidfile, int sequence) {
  for (int attempt = 0; attempt < 250; ++attempt) {
    std::ifstream in(pidfile + ".reload");
    std::string line;
    if (std::getline(in, line) && line.rfind(std::to_string(sequence) + " ", 0) == 0) return line;
    std::this_thread::sleep_for(20ms);
  }
  return "<no answer>";
}

CommandResult control(const KeyloopServer& server, const std::string& action) {
  return runCommand(keyloopBinary() + " -s " + action + " -c " + server.configPath, 90);
}

std::string configValue(std::uint16_t port, const std::string& name) {
  RespConnection c(port);
  const auto parts = RespConnection::elements(c.command({"CONFIG", "GET", name}));
  return parts.size() == 2 ? parts[1] : "<none>";
}

TEST(Reload, AValidReloadReachesEveryWorkerAndKeepsClientsAndKeys) {
  const std::string pidfile = pidfileFor("valid");
  const std::string base = "workers: 2\npidfile: " + pidfile + "\nmetrics:\n  port: 0\n";
  KeyloopServer server(base);
  RespConnection open(server.port);
  ASSERT_EQ(open.command({"SET", "kept", "yes"}), "+OK\r\n");
  rewrite(server, base + "limits:\n  maxclients: 77\n");
  const CommandResult r = control(server, "reload");
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_EQ(r.output, "keyloop: reload done: generation 2 serving " + server.configPath + "\n");
  // Every worker took it: new connections land on both.
  for (int i = 0; i < 8; ++i) EXPECT_EQ(configValue(server.port, "maxclients"), "$2\r\n77\r\n");
  EXPECT_EQ(open.command({"GET", "kept"}), "$3\r\nyes\r\n");  // same connection, same data
  rewrite(server, base + "limits:\n  maxclients: 77\nrequirepass: s3cret\n");
  EXPECT_EQ(control(server, "reload").exitCode, 0);
  RespConnection fresh(server.port);
  EXPECT_EQ(fresh.command({"GET", "kept"}), "-NOAUTH Authentication required.\r\n");
  EXPECT_EQ(server.process.stop(SIGTERM).has_value(), true);
}

// Like CONFIG SET proto-max-bulk-len in Redis: connections already open
// are held to the new limit too, not only those opened after the reload.
TEST(Reload, AReloadedBulkLimitAppliesToOpenConnections) {
  const std::string pidfile = pidfileFor("bulk");
  const std::string base = "workers: 2\npidfile: " + pidfile + "\n";
  KeyloopServer server(base);
  RespConnection open(server.port);
  const std::string twoMegabytes(2 << 20, 'x');
  ASSERT_EQ(open.command({"SET", "big", twoMegabytes}), "+OK\r\n");
  rewrite(server, base + "limits:\n  proto_max_bulk_len: 1mb\n");
  ASSERT_EQ(control(server, "reload").exitCode, 0);
  open.send("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$2097152\r\n");
  EXPECT_EQ(open.readReply(), "-ERR Protocol error: invalid bulk length\r\n");
  EXPECT_TRUE(open.closedByPeer());
}

// drain_timeout is one of the settings a reload hands to running workers:
// a client that never goes idle is cut off after the reloaded 1 s, not the
// default 30 s.
TEST(Reload, AReloadedDrainTimeoutBoundsTheNextShutdown) {
  const std::string pidfile = pidfileFor("drain");
  const std::string base = "workers: 2\npidfile: " + pidfile + "\n";
  KeyloopServer server(base);
  rewrite(server, base + "shutdown:\n  drain_timeout: 1s\n");
  ASSERT_EQ(control(server, "reload").exitCode, 0);
  std::atomic<bool> stop{false};
  std::thread busy([&] {
    RespConnection c(server.port);
    while (!stop && c.command({"PING"}) == "+PONG\r\n") std::this_thread::sleep_for(10ms);
  });
  std::this_thread::sleep_for(100ms);
  const auto start = std::chrono::steady_clock::now();
  auto status = server.process.stop(SIGQUIT, 20s);
  const auto took = std::chrono::steady_clock::now() - start;
  stop = true;
  busy.join();
  ASSERT_TRUE(status.has_value());
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 4s) << "the drain did not use the reloaded drain_timeout";
}

TEST(Reload, ABadConfigChangesNothingAndNamesTheSpot) {
  const std::string pidfile = pidfileFor("bad");
  const std::string base = "workers: 2\npidfile: " + pidfile + "\n";
  KeyloopServer server(base);
  rewrite(server, base + "limits:\n  maxclient: 3\n");
  CommandResult r = control(server, "reload");
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.output, "keyloop: reload failed: " + server.configPath +
                          ":7:3: unknown key 'maxclient' in 'limits' (did you mean 'maxclients'?)\n");
  EXPECT_EQ(configValue(server.port, "maxclients"), "$5\r\n10000\r\n");
  // A setting that needs a restart is refused by name, not ignored. (The
  // master is found through the old pidfile: the new one names a file
  // that does not exist yet, so the signal goes by hand.)
  rewrite(server, "workers: 2\npidfile: " + pidfile + ".other\n");
  ::kill(server.process.pid(), SIGHUP);
  const auto status = waitForReloadStatus(pidfile, 2);
  EXPECT_NE(status.find("pidfile cannot change on reload; restart keyloop"), std::string::npos) << status;
  RespConnection c(server.port);
  EXPECT_EQ(c.command({"PING"}), "+PONG\r\n");
}

// The metrics listener belongs to the master: a reload moves it (the new
// address opens first; if it cannot, nothing changes).
TEST(Reload, TheMetricsListenerMovesOnReload) {
  const std::string pidfile = pidfileFor("metrics-move");
  const std::uint16_t before = freePort(), after = freePort();
  KeyloopServer server("pidfile: " + pidfile + "\nmetrics:\n  port: " + std::to_string(before) + "\n");
  ASSERT_TRUE(waitForPort(before));
  rewrite(server, "pidfile: " + pidfile + "\nmetrics:\n  port: " + std::to_string(after) + "\n");
  const CommandResult r = control(server, "reload");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_EQ(httpGet(after, "/healthz").status, 200);
  EXPECT_FALSE(waitForPort(before, 200ms));
  // A taken port: refused, the listener stays where it is.
  RespConnection keyloopPort(server.port);
  rewrite(server, "pidfile: " + pidfile + "\nmetrics:\n  port: " + std::to_string(server.port) + "\n");
  const CommandResult taken = control(server, "reload");
  EXPECT_EQ(taken.exitCode, 1);
  EXPECT_NE(taken.output.find("metrics:"), std::string::npos) << taken.output;
  EXPECT_EQ(httpGet(after, "/healthz").status, 200);
}

TEST(Reload, MetricsCountReloadsAndTheGeneration) {
  const std::string pidfile = pidfileFor("metrics");
  const std::uint16_t metricsPort = freePort();
  const std::string base = "pidfile: " + pidfile + "\nmetrics:\n  port: " + std::to_string(metricsPort) + "\n";
  KeyloopServer server(base);
  ASSERT_TRUE(waitForPort(metricsPort));
  rewrite(server, base + "limits:\n  timeout: 10s\n");
  ASSERT_EQ(control(server, "reload").exitCode, 0);
  rewrite(server, base + "limits:\n  maxclients: -5\n");
  ASSERT_EQ(control(server, "reload").exitCode, 1);
  // Not even YAML: -s cannot find the master, and says what is wrong.
  rewrite(server, base + "limits: [\n");
  const CommandResult broken = control(server, "reload");
  EXPECT_EQ(broken.exitCode, 1);
  EXPECT_EQ(broken.output.rfind("keyloop: " + server.configPath + ":", 0), 0u) << broken.output;
  const std::string scrape = httpGet(metricsPort, "/metrics").body;
  EXPECT_NE(scrape.find("\nkeyloop_config_generation 2\n"), std::string::npos) << scrape;
  EXPECT_NE(scrape.find("\nkeyloop_reloads_total{result=\"ok\"} 1\n"), std::string::npos);
  EXPECT_NE(scrape.find("\nkeyloop_reloads_total{result=\"error\"} 1\n"), std::string::npos);
  // Every reload is over: the master shows itself idle, and no other step.
  EXPECT_NE(scrape.find("\nkeyloop_reload_step{step=\"idle\"} 1\n"), std::string::npos) << scrape;
  EXPECT_NE(scrape.find("\nkeyloop_reload_step{step=\"handing over\"} 0\n"), std::string::npos) << scrape;
  EXPECT_NE(scrape.find("\nkeyloop_reload_step{step=\"applying settings\"} 0\n"), std::string::npos) << scrape;
}

TEST(Control, StopAndQuitWaitForTheMasterToBeGone) {
  for (const char* action : {"stop", "quit"}) {
    const std::string pidfile = pidfileFor(action);
    KeyloopServer server("workers: 2\npidfile: " + pidfile + "\n");
    const CommandResult r = control(server, action);
    EXPECT_EQ(r.exitCode, 0) << action << ": " << r.output;
    // Gone by the time -s returned: reaped at once, no pidfile left.
    EXPECT_TRUE(server.process.stop(0, 200ms).has_value()) << action;
    EXPECT_FALSE(std::filesystem::exists(pidfile)) << action;
  }
}

TEST(Control, WithoutAPidfileOrARunningMasterItSaysWhy) {
  KeyloopServer server("workers: 1\n");
  CommandResult r = control(server, "reload");
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.output.find("sets none ('pidfile:')"), std::string::npos) << r.output;
  const TempDir dir("keyloop-test-");
  const std::string config = writeConfig(dir.path, freePort(), "pidfile: /nonexistent/keyloop.pid\n");
  r = runCommand(keyloopBinary() + " -s stop -c " + config);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.output.find("is keyloop running?"), std::string::npos) << r.output;
  r = runCommand(keyloopBinary() + " -s restart -c " + config);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.output.find("-s takes reload, stop or quit"), std::string::npos) << r.output;
}

// A datagram socket standing in for systemd's notification socket.
class NotifySocket {
 public:
  NotifySocket() : path_((std::filesystem::temp_directory_path() / ("keyloop-notify-" + std::to_string(::getpid()))).string()) {
    std::filesystem::remove(path_);
    fd_ = UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, sizeof addr.sun_path - 1);
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval timeout{10, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~NotifySocket() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }
  // The next message that contains `wanted` (others are skipped).
  std::string next(const std::string& wanted) {
    char buffer[4096];
    for (int i = 0; i < 50; ++i) {
      const ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, 0);
      if (n <= 0) return "<timeout>";
      std::string message(buffer, static_cast<std::size_t>(n));
      if (message.find(wanted) != std::string::npos) return message;
    }
    return "<not seen>";
  }

 private:
  std::string path_;
  UniqueFd fd_;
};

TEST(Systemd, NotifiesReadyReloadingAndStopping) {
  NotifySocket notify;
  ::setenv("NOTIFY_SOCKET", notify.path().c_str(), 1);
  KeyloopServer server("workers: 2\n");
  ::unsetenv("NOTIFY_SOCKET");
  const std::string ready = notify.next("READY=1");
  EXPECT_NE(ready.find("STATUS=generation 1, 2 workers"), std::string::npos) << ready;
  ASSERT_EQ(::kill(server.process.pid(), SIGHUP), 0);
  EXPECT_NE(notify.next("RELOADING=1"), "<timeout>");
  EXPECT_NE(notify.next("READY=1").find("STATUS=generation 2"), std::string::npos);
  ASSERT_EQ(::kill(server.process.pid(), SIGTERM), 0);
  EXPECT_NE(notify.next("STOPPING=1"), "<timeout>");
}

TEST(Systemd, TheShippedUnitPassesSystemdAnalyzeVerify) {
  const std::string dir = (std::filesystem::temp_directory_path() / ("keyloop-unit-" + std::to_string(::getpid()))).string();
  std::filesystem::create_directories(dir);
  std::ifstream in(sourceDir() + "/systemd/keyloop.service");
  std::string unit((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_NE(unit.find("Type=notify"), std::string::npos);
  ASSERT_NE(unit.find("ExecReload=/usr/bin/keyloop -s reload"), std::string::npos);
  ASSERT_NE(unit.find("StateDirectory=keyloop"), std::string::npos);
  // Verify against the binary this build made (it checks that it exists).
  for (std::size_t at; (at = unit.find("/usr/bin/keyloop")) != std::string::npos;) {
    unit.replace(at, 16, keyloopBinary());
  }
  std::ofstream(dir + "/keyloop.service") << unit;
  const CommandResult r = runCommand("systemd-analyze verify " + dir + "/keyloop.service");
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_EQ(r.output, "") << "systemd-analyze complaints";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keyloop::test
