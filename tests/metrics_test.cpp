// Metrics as operators see them: a real scrape of the master's /metrics,
// linted by promtool; lag and accept-queue depth that follow real stalls
// (SIGSTOP); counters that survive a worker's kill -9; bad HTTP; the
// shipped alert rules and dashboard; and a real Prometheus scraping it.
#include <gtest/gtest.h>
#include <signal.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "common/loop/unique_fd.h"
#include "tests/support/command.h"
#include "tests/support/http.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

using namespace std::chrono_literals;

struct MeteredServer {
  explicit MeteredServer(const std::string& extra = "workers: 2\n")
      : server(extra + "metrics:\n  address: 127.0.0.1\n  port: 0\n"),
        metricsPort(metricsPortFromLog(server.configPath + ".log")) {
    EXPECT_TRUE(metricsPort != 0 && waitForPort(metricsPort));
    // Every worker has written its first numbers.
    for (int i = 0; i < 100 && scrape().find("keyloop_keys{worker=\"1\"}") == std::string::npos; ++i) {
      std::this_thread::sleep_for(20ms);
    }
  }
  std::string scrape() const { return httpGet(metricsPort, "/metrics").body; }
  KeyloopServer server;
  std::uint16_t metricsPort;
};

// The value of one sample line (`name{labels} value`); -1 if absent.
double sample(const std::string& scrape, const std::string& series) {
  const std::size_t at = scrape.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::atof(scrape.c_str() + at + series.size() + 2);
}

std::string writeTemp(const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path) << text;
  return path;
}

TEST(Metrics, ARealScrapePassesPromtoolLint) {
  MeteredServer m;
  RespConnection c(m.server.port);
  c.command({"SET", "a", "1"});
  c.command({"GET", "a"});
  c.command({"NOSUCHCOMMAND"});
  const HttpResponse r = httpGet(m.metricsPort, "/metrics");
  ASSERT_EQ(r.status, 200);
  for (const char* name : {"keyloop_event_loop_lag_seconds_bucket", "keyloop_event_loop_iteration_seconds_bucket",
                           "keyloop_accept_queue_length", "keyloop_accept_queue_max", "keyloop_listen_overflows_total",
                           "keyloop_listen_drops_total", "keyloop_connections", "keyloop_connections_accepted_total",
                           "keyloop_connections_rejected_total", "keyloop_commands_total", "keyloop_command_errors_total",
                           "keyloop_forwarded_commands_total", "keyloop_keys", "keyloop_expired_keys_total",
                           "keyloop_memory_used_bytes", "keyloop_worker_restarts_total", "keyloop_config_generation",
                           "keyloop_reloads_total", "keyloop_build_info", "keyloop_process_cpu_seconds_total",
                           "keyloop_process_resident_memory_bytes", "keyloop_process_open_fds"}) {
    EXPECT_NE(r.body.find("\n" + std::string(name)), std::string::npos) << name;
  }
  const std::string path = writeTemp("keyloop-scrape-" + std::to_string(m.metricsPort) + ".txt", r.body);
  const CommandResult lint = runCommand("promtool check metrics < " + path);
  EXPECT_EQ(lint.exitCode, 0) << lint.output;
  EXPECT_EQ(lint.output, "") << "promtool lint complaints";
  EXPECT_EQ(httpGet(m.metricsPort, "/healthz").status, 200);
}

// Two workers, and which process is which.
class MetricsOfTwoWorkers : public ::testing::Test {
 protected:
  void SetUp() override {
    pids = workerPidsBySlot(m.server.process.pid(), 2);
    ASSERT_EQ(pids.size(), 2u);
  }
  MeteredServer m;
  std::map<int, pid_t> pids;
};

TEST_F(MetricsOfTwoWorkers, LagFollowsARealStallOfThatWorkerOnly) {
  auto slowOnes = [&](int worker) {
    const std::string s = m.scrape();
    const std::string w = "{worker=\"" + std::to_string(worker) + "\"";
    return sample(s, "keyloop_event_loop_lag_seconds_count" + w + "}") -
           sample(s, "keyloop_event_loop_lag_seconds_bucket" + w + ",le=\"0.25\"}");
  };
  const double before0 = slowOnes(0), before1 = slowOnes(1);
  ASSERT_EQ(::kill(pids.at(1), SIGSTOP), 0);
  std::this_thread::sleep_for(300ms);
  ::kill(pids.at(1), SIGCONT);
  std::this_thread::sleep_for(400ms);  // the late firing, then a publish
  EXPECT_GE(slowOnes(1) - before1, 1) << "no lag observation >= 0.25 s for the stopped worker";
  EXPECT_EQ(slowOnes(0) - before0, 0) << "the other worker saw lag too";
}

TEST_F(MetricsOfTwoWorkers, AcceptQueueFillsWhileAWorkerIsStoppedAndDrainsAfter) {
  ASSERT_EQ(::kill(pids.at(0), SIGSTOP), 0);
  std::vector<UniqueFd> waiting;
  for (int i = 0; i < 64; ++i) {
    waiting.push_back(connectTo(m.server.port));
    ASSERT_TRUE(waiting.back().valid());
  }
  const std::string series = "{listener=\"127.0.0.1:" + std::to_string(m.server.port) + "\",worker=\"0\"}";
  std::string s = m.scrape();
  const double queued = sample(s, "keyloop_accept_queue_length" + series);
  EXPECT_GT(queued, 0) << s;
  EXPECT_LE(queued, sample(s, "keyloop_accept_queue_max" + series));
  EXPECT_EQ(sample(s, "keyloop_accept_queue_max" + series), 511);
  ::kill(pids.at(0), SIGCONT);
  double after = queued;
  for (int i = 0; i < 100 && after > 0; ++i) {
    std::this_thread::sleep_for(20ms);
    after = sample(m.scrape(), "keyloop_accept_queue_length" + series);
  }
  EXPECT_EQ(after, 0);
}

TEST_F(MetricsOfTwoWorkers, CountersStayMonotonicAcrossAWorkerKill) {
  auto commandsOf = [&](int worker) {
    const std::string s = m.scrape();
    double total = 0;
    const std::regex line("keyloop_commands_total\\{command=\"[a-z]+\",worker=\"" + std::to_string(worker) + "\"\\} ([0-9.e+]+)");
    for (std::sregex_iterator it(s.begin(), s.end(), line), end; it != end; ++it) total += std::stod((*it)[1]);
    return total;
  };
  for (int i = 0; i < 50; ++i) {
    RespConnection c(m.server.port);
    c.command({"PING"});
  }
  const double before = commandsOf(0);
  ASSERT_GT(before, 0);
  ASSERT_EQ(::kill(pids.at(0), SIGKILL), 0);
  std::this_thread::sleep_for(1500ms);  // restarted (within a second) and published
  const std::string s = m.scrape();
  EXPECT_EQ(sample(s, "keyloop_worker_restarts_total{worker=\"0\"}"), 1);
  EXPECT_EQ(sample(s, "keyloop_worker_restarts_total{worker=\"1\"}"), 0);
  EXPECT_GE(commandsOf(0), before) << "a counter went backwards after the restart";
  for (int i = 0; i < 50; ++i) {
    RespConnection c(m.server.port);
    c.command({"PING"});
  }
  EXPECT_GT(commandsOf(0), before);
}

TEST(Metrics, BadHttpGetsAClearAnswerAndNeverStallsTheMaster) {
  MeteredServer m;
  // A client that connects and says nothing must not hold up a scrape.
  const UniqueFd silent = connectTo(m.metricsPort);
  ASSERT_TRUE(silent.valid());
  EXPECT_EQ(httpGet(m.metricsPort, "/metrics").status, 200);
  EXPECT_EQ(httpRaw(m.metricsPort, "garbage\r\n\r\n").rfind("HTTP/1.1 400 ", 0), 0u);
  EXPECT_EQ(httpRaw(m.metricsPort, "GET /metrics HTTP/1.1\r\nX: " + std::string(20000, 'x') + "\r\n\r\n").rfind("HTTP/1.1 400 ", 0), 0u);
  EXPECT_EQ(httpRaw(m.metricsPort, "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405 ", 0), 0u);
  EXPECT_EQ(httpGet(m.metricsPort, "/nope").status, 404);
  // And the Redis port is unaffected.
  RespConnection c(m.server.port);
  EXPECT_EQ(c.command({"PING"}), "+PONG\r\n");
}

TEST(Metrics, ShippedAlertRulesAndDashboardUseOnlyRealMetrics) {
  const std::string conf = sourceDir() + "/conf";
  const CommandResult rules = runCommand("promtool check rules " + conf + "/prometheus/alerts.yml");
  EXPECT_EQ(rules.exitCode, 0) << rules.output;
  const CommandResult config = runCommand("promtool check config --syntax-only " + conf + "/prometheus/prometheus.yml");
  EXPECT_EQ(config.exitCode, 0) << config.output;
  const CommandResult json = runCommand("/usr/bin/python3 -m json.tool " + conf + "/grafana/keyloop.json > /dev/null");
  EXPECT_EQ(json.exitCode, 0) << json.output;

  MeteredServer m;
  RespConnection c(m.server.port);
  c.command({"SET", "k", "v"});  // per-command series appear once used
  std::this_thread::sleep_for(300ms);
  const std::string scrape = m.scrape();
  std::set<std::string> exposed;
  const std::regex sampleName("\n(keyloop_[a-z_]+)[{ ]");
  for (std::sregex_iterator it(scrape.begin(), scrape.end(), sampleName), end; it != end; ++it) exposed.insert((*it)[1]);
  for (const std::string file : {"/grafana/keyloop.json", "/prometheus/alerts.yml"}) {
    std::ifstream in(conf + file);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::regex used("keyloop_[a-z_]+");
    int count = 0;
    for (std::sregex_iterator it(text.begin(), text.end(), used), end; it != end; ++it, ++count) {
      EXPECT_TRUE(exposed.count(it->str())) << file << " uses " << it->str() << ", which no scrape has";
    }
    EXPECT_GT(count, 5) << file;
  }
}

TEST(Metrics, ARealPrometheusScrapesTheLagOfEveryWorker) {
  MeteredServer m("workers: 3\n");
  const std::uint16_t promPort = freePort();
  const std::string dir = (std::filesystem::temp_directory_path() / ("keyloop-prom-" + std::to_string(promPort))).string();
  std::filesystem::create_directories(dir + "/data");
  std::ofstream(dir + "/prometheus.yml") << "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: keyloop\n"
                                            "    static_configs:\n      - targets: ['127.0.0.1:" << m.metricsPort << "']\n";
  Process prometheus("prometheus", {"--config.file=" + dir + "/prometheus.yml", "--storage.tsdb.path=" + dir + "/data",
                                    "--web.listen-address=127.0.0.1:" + std::to_string(promPort)},
                     dir + "/prometheus.log");
  ASSERT_TRUE(waitForPort(promPort, 30s)) << "prometheus did not start; see " << dir << "/prometheus.log";
  std::string answer;
  bool all = false;
  for (int attempt = 0; attempt < 60 && !all; ++attempt) {
    std::this_thread::sleep_for(500ms);
    answer = httpGet(promPort, "/api/v1/query?query=keyloop_event_loop_lag_seconds_count").body;
    all = answer.find("\"worker\":\"0\"") != std::string::npos && answer.find("\"worker\":\"1\"") != std::string::npos &&
          answer.find("\"worker\":\"2\"") != std::string::npos;
  }
  EXPECT_TRUE(all) << answer;
  EXPECT_NE(answer.find("\"status\":\"success\""), std::string::npos) << answer;
  prometheus.stop(SIGTERM, 10s);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keyloop::test
