#include "tests/support/node_clients.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/command.h"
#include "tests/support/process.h"

namespace keyloop::test {

std::string nodeClientModules() {
  const std::string dir = (std::filesystem::path(keyloopBinary()).parent_path() / "node-clients").string();
  const CommandResult r = runCommand(sourceDir() + "/tests/cluster/install-node-clients " + dir + " 2>&1", 600);
  EXPECT_EQ(r.exitCode, 0) << r.output;
  return dir + "/node_modules";
}

}  // namespace keyloop::test
