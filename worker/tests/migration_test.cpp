// The hand-over's two state machines in one process: a retiring worker and
// a new one, linked by real channels on one loop. Each step of the
// retiring side follows from the message that ends the one before; the new
// side holds keyed work until the last HandOverEnd, and then has every key
// with its TTL.
#include "worker/migration.h"

#include <gtest/gtest.h>

#include "worker/server.h"

namespace keyloop {
namespace {

std::unique_ptr<ipc::ChannelMemory> channel() {
  auto made = ipc::ChannelMemory::create(1 << 16);  // small: the copy must wait for room
  EXPECT_TRUE(made.ok());
  return std::move(*made);
}

struct Worker {
  Worker(Loop& loop, Log& log)
      : server(loop, Config{}, log),
        router(loop, 0, {Router::Link{}},
               [this](std::span<const std::string_view> args, resp::Protocol protocol, int db, Router::Origin origin,
                    Router::Done done) {
                 server.dispatch().executeRouted(args, protocol, db, std::move(done), origin);
               }),
        migration(loop, server, router, log, 0) {
    server.setRouter(&router);
  }
  Server server;
  Router router;
  Migration migration;
};

TEST(HandOver, EveryStepFollowsTheMessageThatEndsThePreviousOne) {
  Loop loop;
  Log log;
  Worker old(loop, log), fresh(loop, log);
  auto toNew = channel(), toOld = channel();
  old.router.addNext(0, {toNew.get(), toOld.get()});
  fresh.router.addGuest({toOld.get(), toNew.get()});
  constexpr int kKeys = 20000;
  const std::int64_t expireAt = unixMillis() + 600000;
  for (int i = 0; i < kKeys; ++i) {
    old.server.keyspaces()[0].set("key:" + std::to_string(i), "value-" + std::to_string(i), i % 2 ? kNoExpiry : expireAt);
  }

  std::vector<std::string> phases;
  old.migration.observePhases([&](const char* name) { phases.emplace_back(name); });
  bool arrived = false, done = false, held = false;
  fresh.migration.expectArrivals(1);
  fresh.migration.setOnArrived([&] { arrived = true; });
  EXPECT_TRUE(fresh.server.dispatch().holding()) << "the new side must hold keyed work until every key is in";
  std::uint64_t moved = 0;
  old.migration.retire(1, [&] { held = true; }, [&](std::uint64_t keys, Duration, Duration) {
    moved = keys;
    done = true;
  });
  for (int i = 0; i < 100000 && !(arrived && done); ++i) loop.run(RunMode::Once);

  ASSERT_TRUE(done) << "the retiring side did not finish";
  ASSERT_TRUE(arrived) << "the new side never saw every HandOverEnd";
  EXPECT_TRUE(held);
  EXPECT_EQ(phases, (std::vector<std::string>{"copying", "waiting for peers to copy", "quiescing", "sending changes",
                                              "forwarding"}));
  EXPECT_EQ(moved, static_cast<std::uint64_t>(kKeys));
  EXPECT_FALSE(fresh.server.dispatch().holding());
  EXPECT_EQ(fresh.server.keyspaces()[0].size(), static_cast<std::size_t>(kKeys));
  EXPECT_EQ(old.server.keyspaces()[0].size(), 0u) << "the retiring side keeps no key";
  const Store::Entry* e = fresh.server.keyspaces()[0].find("key:10", unixMillis());
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(Store::value(e), "value-10");
  EXPECT_EQ(Store::expireAt(e), expireAt) << "a TTL travels as an absolute time";
  EXPECT_EQ(Store::expireAt(fresh.server.keyspaces()[0].find("key:11", unixMillis())), kNoExpiry);
}

TEST(HandOver, ARetiringWorkerThatDiesReleasesTheNewSide) {
  Loop loop;
  Log log;
  Worker fresh(loop, log);
  bool arrived = false;
  fresh.migration.expectArrivals(2);
  fresh.migration.setOnArrived([&] { arrived = true; });
  fresh.migration.forgetRetiring(0);
  EXPECT_FALSE(arrived) << "one of two is not all";
  EXPECT_TRUE(fresh.server.dispatch().holding());
  fresh.migration.forgetRetiring(1);
  EXPECT_TRUE(arrived);
  EXPECT_FALSE(fresh.server.dispatch().holding());
}

}  // namespace
}  // namespace keyloop
