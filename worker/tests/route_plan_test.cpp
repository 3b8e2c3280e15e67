// Route plans come from the command table alone: a key's owner, the
// command's declared cross-worker kind, locks and a reload's hold.
#include "worker/routing/route_plan.h"

#include <gtest/gtest.h>

#include "worker/routing/key_locks.h"

namespace keyloop {
namespace {

using Kind = RoutePlan::Kind;

struct Planner {
  explicit Planner(int workers, int self = 0) : ring(workers), locks(loop) {
    view.self = self;
    view.ring = &ring;
    view.locks = &locks;
  }
  RoutePlan plan(std::vector<std::string_view> args) {
    const CommandSpec* spec = findCommand(args[0]);
    EXPECT_NE(spec, nullptr) << args[0];
    return planRoute(*spec, args, view);
  }
  // A key that `owner` owns on this ring.
  std::string keyOf(int owner, int skip = 0) {
    for (int i = 0;; ++i) {
      std::string key = "key:" + std::to_string(i);
      if (ring.ownerOf(key) == owner && skip-- == 0) return key;
    }
  }
  ring::Ring ring;
  Loop loop;
  KeyLocks locks;
  RouteView view;
};

TEST(RoutePlan, OneWorkerRunsEverythingHere) {
  Planner p(1);
  EXPECT_EQ(p.plan({"get", "k"}).kind, Kind::Here);
  EXPECT_EQ(p.plan({"mset", "a", "1", "b", "2"}).kind, Kind::Here);
  EXPECT_EQ(p.plan({"dbsize"}).kind, Kind::Here);
  EXPECT_EQ(p.plan({"info"}).kind, Kind::Here);
}

TEST(RoutePlan, AKeyGoesToItsOwner) {
  Planner p(4, 1);
  const std::string mine = p.keyOf(1), theirs = p.keyOf(3);
  EXPECT_EQ(p.plan({"get", mine}).kind, Kind::Here);
  const RoutePlan remote = p.plan({"set", theirs, "v"});
  EXPECT_EQ(remote.kind, Kind::Owner);
  EXPECT_EQ(remote.owner, 3);
  EXPECT_EQ(p.plan({"ping"}).kind, Kind::Here);  // keyless
}

TEST(RoutePlan, MultiKeyCommandsFollowTheirDeclaredKind) {
  Planner p(2);
  const std::string a = p.keyOf(0), a2 = p.keyOf(0, 1), b = p.keyOf(1);
  EXPECT_EQ(p.plan({"del", a, a2}).kind, Kind::Here);
  EXPECT_EQ(p.plan({"del", a, b}).kind, Kind::Split);
  EXPECT_EQ(p.plan({"exists", b, a}).kind, Kind::Split);
  EXPECT_EQ(p.plan({"mget", a, b}).kind, Kind::Atomic);
  EXPECT_EQ(p.plan({"mset", a, "1", b, "2"}).kind, Kind::Atomic);
  EXPECT_EQ(p.plan({"rename", a, b}).kind, Kind::Atomic);
  // MSET's values are not keys: two keys of worker 1 go there whole.
  const std::string b2 = p.keyOf(1, 1);
  const RoutePlan whole = p.plan({"mset", b, a, b2, a});
  EXPECT_EQ(whole.kind, Kind::Owner);
  EXPECT_EQ(whole.owner, 1);
}

TEST(RoutePlan, BroadcastsReachEveryWorker) {
  Planner p(2);
  for (auto name : {"dbsize", "keys", "flushall", "flushdb", "randomkey", "info"}) {
    std::vector<std::string_view> args{name};
    if (std::string_view(name) == "keys") args.push_back("*");
    EXPECT_EQ(p.plan(args).kind, Kind::Broadcast) << name;
  }
  EXPECT_EQ(p.plan({"scan", "0"}).kind, Kind::Broadcast);
}

TEST(RoutePlan, ALockedOrHeldKeyTakesTheLongWayEvenWhenLocal) {
  Planner p(2);
  const std::string a = p.keyOf(0);
  const std::vector<std::string_view> locked{a};
  p.locks.lock("tx", locked);
  const RoutePlan waits = p.plan({"get", a});
  EXPECT_EQ(waits.kind, Kind::Owner);
  EXPECT_EQ(waits.owner, 0);
  p.locks.unlock("tx");
  EXPECT_EQ(p.plan({"get", a}).kind, Kind::Here);
  p.view.holding = true;
  EXPECT_EQ(p.plan({"get", a}).kind, Kind::Owner);
  EXPECT_EQ(p.plan({"ping"}).kind, Kind::Here);
}

TEST(RoutePlan, ARetiredWorkerForwardsEveryKey) {
  Planner p(3, -1);
  EXPECT_EQ(p.plan({"get", p.keyOf(0)}).kind, Kind::Owner);
  EXPECT_EQ(p.plan({"dbsize"}).kind, Kind::Broadcast);
}

TEST(CommandTable, KeysComeFromTheDeclaredPositions) {
  auto keys = [](std::vector<std::string_view> args) { return keysOf(*findCommand(args[0]), args); };
  using Keys = std::vector<std::string_view>;
  EXPECT_EQ(keys({"mset", "a", "1", "b", "2"}), (Keys{"a", "b"}));
  EXPECT_EQ(keys({"del", "a", "b", "c"}), (Keys{"a", "b", "c"}));
  EXPECT_EQ(keys({"rename", "a", "b"}), (Keys{"a", "b"}));
  EXPECT_EQ(keys({"ping", "x"}), Keys{});
}

// The numkeys forms the next commands declare (ZUNIONSTORE dest numkeys
// key...; LMPOP numkeys key...): the count bounds the keys, never the
// arguments after them, and a bad count yields none (the handler says why).
TEST(CommandTable, NumkeysFormsFindExactlyTheCountedKeys) {
  using Keys = std::vector<std::string_view>;
  CommandSpec zunionstore{};
  zunionstore.keys = {1, 1, 1, 2};
  CommandSpec lmpop{};
  lmpop.keys = {0, 0, 0, 1};
  EXPECT_EQ(keysOf(zunionstore, Keys{"zunionstore", "dst", "2", "a", "b", "WEIGHTS", "1", "2"}), (Keys{"dst", "a", "b"}));
  EXPECT_EQ(keysOf(lmpop, Keys{"lmpop", "3", "a", "b", "c", "LEFT"}), (Keys{"a", "b", "c"}));
  EXPECT_EQ(keysOf(lmpop, Keys{"lmpop", "5", "a", "b"}), (Keys{"a", "b"})) << "never past the end";
  EXPECT_EQ(keysOf(lmpop, Keys{"lmpop", "x", "a"}), Keys{});
  EXPECT_EQ(keysOf(lmpop, Keys{"lmpop", "-1", "a"}), Keys{});
}

}  // namespace
}  // namespace keyloop
