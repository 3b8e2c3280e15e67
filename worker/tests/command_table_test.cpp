#include "worker/command_table.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace keyloop {
namespace {

TEST(CommandTable, IsSortedSoLookupsFindEveryCommand) {
  auto all = allCommands();
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end(),
                             [](const CommandSpec& a, const CommandSpec& b) { return a.name < b.name; }));
  for (const CommandSpec& c : all) {
    EXPECT_EQ(findCommand(c.name), &c) << c.name;
    EXPECT_TRUE(c.handler != nullptr || c.session != nullptr || !c.subcommands.empty()) << c.name;
  }
  EXPECT_NE(findCommand("GeT"), nullptr);
  EXPECT_EQ(findCommand("nosuchcommand"), nullptr);
  ASSERT_NE(findCommand("client"), nullptr);
  EXPECT_NE(findSubcommand(*findCommand("client"), "SETNAME"), nullptr);
}

}  // namespace
}  // namespace keyloop
