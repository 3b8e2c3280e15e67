#include "worker/execution/command_table.h"

#include "worker/execution/command_families.h"
#include "common/metrics/shared_metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

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

TEST(CommandTable, HoldsEveryFamilysRowsOnceAndNothingElse) {
  std::size_t rows = 0;
  for (const auto family : kCommandFamilies) {
    for (const CommandSpec& row : family()) {
      ++rows;
      const CommandSpec* found =
          row.peer != peer::Kind::None ? findPeerMessage(peer::Message(row.peer).args()[0]) : findCommand(row.name);
      ASSERT_NE(found, nullptr) << row.name;
      EXPECT_EQ(found->handler, row.handler) << row.name;
      // A container's subcommands are the family's, copied in order, each
      // with an index of its own after the top-level rows (latency tracking).
      ASSERT_EQ(found->subcommands.size(), row.subcommands.size()) << row.name;
      for (std::size_t s = 0; s < row.subcommands.size(); ++s) {
        EXPECT_EQ(found->subcommands[s].name, row.subcommands[s].name) << row.name;
        EXPECT_EQ(found->subcommands[s].handler, row.subcommands[s].handler) << row.name;
        EXPECT_EQ(found->subcommands[s].session, row.subcommands[s].session) << row.name;
      }
    }
  }
  EXPECT_EQ(commandTable().size(), rows);
  for (std::size_t i = 0; i < commandTable().size(); ++i) EXPECT_EQ(commandIndex(commandTable()[i]), i);
  std::set<std::size_t> subcommandIndices;
  for (const CommandSpec& row : commandTable()) {
    for (const CommandSpec& sub : row.subcommands) {
      EXPECT_GE(sub.index, commandTable().size()) << row.name << "|" << sub.name;
      EXPECT_TRUE(subcommandIndices.insert(sub.index).second) << row.name << "|" << sub.name;
      EXPECT_EQ(metrics::trackedCommandNames()[sub.index], std::string(row.name) + "|" + std::string(sub.name));
    }
  }
}

TEST(CommandTable, RowsCarryTheirKeyspaceEventsAndAclCategories) {
  const CommandSpec* append = findCommand("append");
  ASSERT_NE(append, nullptr);
  ASSERT_NE(keyEventsOf(*append), nullptr);
  EXPECT_EQ(keyEventsOf(*append)->event, "append");
  EXPECT_EQ(keyEventsOf(*findCommand("get")), nullptr);
  // GET: @string declared; @read and @fast from its flags; never @slow.
  EXPECT_EQ(aclCategoriesOf(*findCommand("get")), acl::kRead | acl::kString | acl::kFast);
  // KEYS is @keyspace and @dangerous by declaration, @slow for not being fast.
  EXPECT_EQ(aclCategoriesOf(*findCommand("keys")), acl::kKeyspace | acl::kRead | acl::kSlow | acl::kDangerous);
  // A read-only script is not @read (Redis leaves @scripting out of it).
  EXPECT_FALSE(aclCategoriesOf(*findCommand("eval_ro")) & acl::kRead);
  // Peer messages are no client's: they declare no category.
  for (const CommandSpec& c : commandTable()) {
    if (c.peer != peer::Kind::None) {
      EXPECT_EQ(c.acl, 0u) << c.name;
    }
  }
}

}  // namespace
}  // namespace keyloop
