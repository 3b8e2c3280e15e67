#include "tests/support/command.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>

namespace keyloop::test {

CommandResult runCommand(const std::string& shellCommand, int timeoutSeconds) {
  // timeout(1) bounds the run; its exit code 124 means it had to kill it.
  const std::string wrapped = "timeout -k 5 " + std::to_string(timeoutSeconds) + " sh -c '" +
                              shellCommand + "' 2>&1";
  CommandResult result;
  FILE* pipe = ::popen(wrapped.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> chunk{};
  while (std::size_t n = std::fread(chunk.data(), 1, chunk.size(), pipe)) result.output.append(chunk.data(), n);
  const int status = ::pclose(pipe);
  result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace keyloop::test
