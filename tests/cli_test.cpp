// The command line: -t, -c, -v, -h, bad options, and the signals that stop it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>

#include "tests/support/command.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

std::string keyloop() { return keyloopBinary(); }

TEST(Cli, TestModeAcceptsTheShippedConfig) {
  const std::string path = sourceDir() + "/conf/keyloop.yaml";
  CommandResult r = runCommand(keyloop() + " -t -c " + path);
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_EQ(r.output, "keyloop: configuration file " + path + " test is successful\n");
}

TEST(Cli, TestModeReportsFileLineColumnAndFails) {
  const TempDir dir("keyloop-test-");
  const std::string path = writeConfig(dir.path, 6379, "limits:\n  maxclient: 3\n");
  CommandResult r = runCommand(keyloop() + " --test --config " + path);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.output, "keyloop: " + path + ":5:3: unknown key 'maxclient' in 'limits' (did you mean 'maxclients'?)\n"
                      "keyloop: configuration file " + path + " test failed\n");
}

TEST(Cli, MissingConfigIsOneClearLine) {
  CommandResult r = runCommand(keyloop() + " -c /nonexistent/k.yaml");
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.output, "keyloop: could not open configuration file /nonexistent/k.yaml: No such file or directory\n");
}

TEST(Cli, VersionHelpAndUnknownOptions) {
  CommandResult v = runCommand(keyloop() + " --version");
  EXPECT_EQ(v.exitCode, 0);
  EXPECT_EQ(v.output.rfind("keyloop ", 0), 0u) << v.output;
  CommandResult h = runCommand(keyloop() + " -h");
  EXPECT_EQ(h.exitCode, 0);
  EXPECT_NE(h.output.find("--config"), std::string::npos);
  CommandResult bad = runCommand(keyloop() + " --frobnicate");
  EXPECT_EQ(bad.exitCode, 1);
  EXPECT_NE(bad.output.find("unrecognised option '--frobnicate'"), std::string::npos) << bad.output;
}

TEST(Cli, PortInUseFailsWithAClearError) {
  KeyloopServer first;
  CommandResult r = runCommand(keyloop() + " -c " + first.configPath);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.output.find("could not listen on 127.0.0.1:" + std::to_string(first.port) + ": Address already in use"),
            std::string::npos) << r.output;
}

TEST(Cli, SigtermAndSigquitStopTheServerCleanly) {
  for (int signo : {SIGTERM, SIGQUIT, SIGINT}) {
    KeyloopServer server("pidfile: /tmp/keyloop-cli-test.pid\n");
    RespConnection c(server.port);
    EXPECT_EQ(c.command({"PING"}), "+PONG\r\n");
    std::ifstream pidfile("/tmp/keyloop-cli-test.pid");
    pid_t written = 0;
    pidfile >> written;
    EXPECT_EQ(written, server.process.pid());
    auto status = server.process.stop(signo, std::chrono::seconds(5));
    ASSERT_TRUE(status.has_value()) << "did not exit on signal " << signo;
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << signo;
    EXPECT_TRUE(c.closedByPeer());
    EXPECT_FALSE(std::ifstream("/tmp/keyloop-cli-test.pid").good()) << "pidfile left behind";
  }
}

}  // namespace
}  // namespace keyloop::test
