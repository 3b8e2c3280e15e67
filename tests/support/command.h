// Runs a shell command (a real client: redis-cli, redis-benchmark, python3)
// with a time limit and returns its exit status and output.
#pragma once

#include <string>

namespace keyloop::test {

struct CommandResult {
  int exitCode = -1;  // -1: did not exit normally (killed by the time limit)
  std::string output;
};

CommandResult runCommand(const std::string& shellCommand, int timeoutSeconds = 120);

}  // namespace keyloop::test
