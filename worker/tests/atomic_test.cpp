// The multi-owner atomic executor against fake owners that run the real
// Lock and Commit handlers on stores of their own: the command's own
// handler decides, every owner commits its part, locks are taken in
// ascending owner order and released on failure, nothing is written when
// an owner does not answer.
#include "worker/routing/atomic.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>

#include "common/loop/lag_monitor.h"
#include "common/loop/thread_pool.h"
#include "worker/commands/commands.h"
#include "worker/routing/key_locks.h"
#include "worker/keyspace/store.h"
#include "worker/tests/fake_worker.h"

namespace keyloop {
namespace {

// Owner of a key: its first character's digit ("0:a" lives on owner 0).
class FakeOwners final : public Owners {
 public:
  explicit FakeOwners(int count) {
    for (int i = 0; i < count; ++i) {
      workers.push_back(std::make_unique<FakeWorker>(loop));
      stores.push_back(std::make_unique<Store>());
    }
  }
  int self() const override { return 0; }
  int ownerOf(std::string_view key) const override { return key[0] - '0'; }
  // Calls are delivered later, one at a time (deliver()), as channels do.
  void send(int owner, std::span<const std::string_view> args, Done done, int db) override {
    calls.push_back({owner, std::vector<std::string>(args.begin(), args.end()), std::move(done), db});
  }
  // Runs every queued call (and those they cause); returns how many ran.
  int deliverAll() {
    int n = 0;
    while (deliverOne()) ++n;
    return n;
  }
  // Runs the oldest queued call; false if there was none.
  bool deliverOne() {
    {
      if (calls.empty()) return false;
      Call c = std::move(calls.front());
      calls.pop_front();
      const peer::Kind kind = peer::kindOf(c.args[0]);
      log.push_back(std::to_string(c.owner) + (kind == peer::Kind::Lock ? " lock" : kind == peer::Kind::Commit ? " commit" : " ?"));
      databases.push_back(c.db);
      std::string out;
      if (failing == c.owner && kind == peer::Kind::Lock) {
        out = "-TRYAGAIN worker " + std::to_string(c.owner) + " did not answer in time (restarting?)\r\n";
      } else {
        resp::Reply reply(out, resp::Protocol::Resp2);
        std::vector<std::string_view> views(c.args.begin(), c.args.end());
        CommandContext ctx{*workers[static_cast<std::size_t>(c.owner)], nullptr, reply,
                           *stores[static_cast<std::size_t>(c.owner)], views, unixMillis()};
        findPeerMessage(c.args[0])->handler(ctx);
      }
      c.done(out);
    }
    return true;
  }
  std::string valueOf(int owner, std::string_view key) {
    const Store::Entry* e = stores[static_cast<std::size_t>(owner)]->find(key, unixMillis());
    return e == nullptr ? "<none>" : std::string(Store::value(e));
  }

  struct Call {
    int owner;
    std::vector<std::string> args;
    Done done;
    int db;
  };
  std::vector<int> databases;  // each delivered call's
  Loop loop;
  std::vector<std::unique_ptr<FakeWorker>> workers;
  std::vector<std::unique_ptr<Store>> stores;
  std::deque<Call> calls;
  std::vector<std::string> log;
  int failing = -1;
};

// Runs `args` through the executor with the real handler of its command.
std::string runCommand(FakeOwners& owners, std::vector<std::string> args, int db = 0) {
  const CommandSpec* spec = findCommand(args[0]);
  std::vector<std::string_view> views(args.begin(), args.end());
  const std::vector<std::string_view> keys = keysOf(*spec, views);
  std::string answer = "<no reply>";
  FakeWorker coordinator(owners.loop);
  runAtomically(owners, db, keys, (spec->flags & kWrite) != 0,
                [&](Store& scratch, std::int64_t nowMs) {
                  std::string out;
                  resp::Reply reply(out, resp::Protocol::Resp2);
                  CommandContext ctx{coordinator, nullptr, reply, scratch, views, nowMs};
                  spec->handler(ctx);
                  return out;
                },
                [&](std::string_view bytes) { answer.assign(bytes); });
  owners.deliverAll();
  return answer;
}

TEST(AtomicExecutor, MsetWritesEveryOwnersPartAndRepliesOnce) {
  FakeOwners owners(3);
  EXPECT_EQ(runCommand(owners, {"mset", "2:c", "3", "0:a", "1", "1:b", "2"}), "+OK\r\n");
  EXPECT_EQ(owners.valueOf(0, "0:a"), "1");
  EXPECT_EQ(owners.valueOf(1, "1:b"), "2");
  EXPECT_EQ(owners.valueOf(2, "2:c"), "3");
  // Locks one owner after the other in ascending order, then commits all.
  EXPECT_EQ(owners.log, (std::vector<std::string>{"0 lock", "1 lock", "2 lock", "0 commit", "1 commit",
                                                  "2 commit"}));
  for (auto& w : owners.workers) EXPECT_TRUE(w->locks().empty()) << "a lock outlived its commit";
}

// Every lock and commit goes to the transaction's database (the client's
// SELECT): the owners run them against that database's store.
TEST(AtomicExecutor, LocksAndCommitsCarryTheTransactionsDatabase) {
  FakeOwners owners(2);
  EXPECT_EQ(runCommand(owners, {"mset", "0:a", "1", "1:b", "2"}, 7), "+OK\r\n");
  ASSERT_EQ(owners.databases.size(), 4u);
  for (int db : owners.databases) EXPECT_EQ(db, 7);
}

// The reply leaves as soon as the commits are queued (the channels are
// FIFO: nothing the client sends next reaches an owner before them), but
// no owner shows the new values or unlocks before its commit arrives.
TEST(AtomicExecutor, KeysStayLockedUntilTheCommitWhichTheReplyDoesNotWaitFor) {
  FakeOwners owners(2);
  const std::vector<std::string_view> keys{"0:a", "1:b"};
  bool replied = false;
  runAtomically(owners, 0, keys, true, [](Store& scratch, std::int64_t) {
    scratch.set("0:a", "x", kNoExpiry);
    scratch.set("1:b", "y", kNoExpiry);
    return std::string("+OK\r\n");
  }, [&](std::string_view) { replied = true; });
  // The two locks only: the commits are queued behind them.
  ASSERT_TRUE(owners.deliverOne());
  ASSERT_TRUE(owners.deliverOne());
  ASSERT_EQ(owners.calls.size(), 2u);
  EXPECT_TRUE(owners.workers[0]->locks().isLocked("0:a"));
  EXPECT_TRUE(owners.workers[1]->locks().isLocked("1:b"));
  EXPECT_TRUE(replied) << "the reply waited for the commits";
  EXPECT_EQ(owners.valueOf(0, "0:a"), "<none>") << "written before the commit";
  EXPECT_EQ(peer::kindOf(owners.calls[0].args[0]), peer::Kind::Commit);
  EXPECT_EQ(peer::kindOf(owners.calls[1].args[0]), peer::Kind::Commit);
  owners.deliverAll();
  EXPECT_TRUE(replied);
  EXPECT_FALSE(owners.workers[0]->locks().isLocked("0:a"));
  EXPECT_EQ(owners.valueOf(1, "1:b"), "y");
}

TEST(AtomicExecutor, RenameMovesTheValueAndItsTtlBetweenOwners) {
  FakeOwners owners(2);
  const std::int64_t expireAt = unixMillis() + 600000;
  owners.stores[0]->set("0:src", "value", expireAt);
  EXPECT_EQ(runCommand(owners, {"rename", "0:src", "1:dst"}), "+OK\r\n");
  EXPECT_EQ(owners.valueOf(0, "0:src"), "<none>");
  ASSERT_EQ(owners.valueOf(1, "1:dst"), "value");
  EXPECT_EQ(Store::expireAt(owners.stores[1]->find("1:dst", unixMillis())), expireAt);
  EXPECT_EQ(runCommand(owners, {"rename", "0:missing", "1:dst"}), "-ERR no such key\r\n");
  EXPECT_EQ(owners.valueOf(1, "1:dst"), "value");
}

TEST(AtomicExecutor, ACommandThatDecidesNotToWriteWritesNothing) {
  FakeOwners owners(2);
  owners.stores[1]->set("1:b", "old", kNoExpiry);
  EXPECT_EQ(runCommand(owners, {"msetnx", "0:a", "new", "1:b", "new"}), ":0\r\n");
  EXPECT_EQ(owners.valueOf(0, "0:a"), "<none>");
  EXPECT_EQ(owners.valueOf(1, "1:b"), "old");
  EXPECT_EQ(runCommand(owners, {"mget", "1:b", "0:a", "1:b"}), "*3\r\n$3\r\nold\r\n$-1\r\n$3\r\nold\r\n");
}

TEST(AtomicExecutor, AnOwnerThatDoesNotAnswerReleasesTheLocksAndWritesNothing) {
  FakeOwners owners(3);
  owners.failing = 1;
  EXPECT_EQ(runCommand(owners, {"mset", "0:a", "1", "1:b", "2", "2:c", "3"}),
            "-TRYAGAIN worker 1 did not answer in time (restarting?)\r\n");
  EXPECT_EQ(owners.valueOf(0, "0:a"), "<none>");
  EXPECT_EQ(owners.valueOf(2, "2:c"), "<none>");
  EXPECT_FALSE(owners.workers[0]->locks().isLocked("0:a")) << "owner 0's lock was not released";
  // Owner 2 was never locked: the lock order stopped at the failure.
  EXPECT_EQ(owners.log, (std::vector<std::string>{"0 lock", "1 lock", "0 commit"}));
}

}  // namespace
}  // namespace keyloop
