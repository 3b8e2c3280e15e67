// Effects and the pipeline of observers (effects.h): what a run of a real
// handler reports (refused, changed nothing, changed), learnt from how its
// reply began as the reply's writers recorded it; and the observers'
// order, their filter by command flags, and runs that nest.
#include "worker/effects.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "worker/command_table.h"
#include "worker/store.h"
#include "worker/tests/fake_worker.h"

namespace keyloop {
namespace {

struct Ran {
  std::string reply;
  Effects effects;
};

// Runs `args` with the command's real handler on `store`, as the pipeline does.
Ran runOn(Store& store, WorkerServices& worker, std::vector<std::string> args) {
  const std::vector<std::string_view> views(args.begin(), args.end());
  const ResolvedCommand command = resolveCommand(views);
  Ran ran;
  resp::Reply reply(ran.reply, resp::Protocol::Resp2);
  reply.simple("an earlier reply on the same connection");
  const std::size_t start = ran.reply.size();
  CommandContext ctx{worker, nullptr, reply, store, views, unixMillis()};
  reply.markStart();
  command.spec->handler(ctx);
  ran.effects = effectsOf(*command.spec, reply.beganWith(start));
  ran.reply.erase(0, start);
  return ran;
}

enum class Outcome { Failed, NoChange, Changed };

Outcome outcomeOf(const Effects& e) {
  if (e.failed) return Outcome::Failed;
  return e.noChange ? Outcome::NoChange : Outcome::Changed;
}

struct Case {
  std::vector<std::vector<std::string>> before;  // run first
  std::vector<std::string> command;
  Outcome outcome;
  std::uint64_t dirty;
};

TEST(Effects, AWriteReportsWhetherItFailedChangedNothingOrChanged) {
  const std::vector<Case> cases = {
      {{}, {"DEL", "missing"}, Outcome::NoChange, 0},
      {{{"SET", "k", "v"}}, {"DEL", "k"}, Outcome::Changed, 1},
      {{{"SET", "k", "v"}}, {"SET", "k", "w", "NX"}, Outcome::NoChange, 0},
      {{}, {"SET", "k", "w", "NX"}, Outcome::Changed, 1},
      {{{"SET", "k", "v"}}, {"SET", "k", "w", "GET"}, Outcome::Changed, 1},  // a bulk first: it wrote
      {{{"SET", "k", "abc"}}, {"INCR", "k"}, Outcome::Failed, 0},
      {{{"SET", "k", "v"}}, {"LPUSH", "k", "a"}, Outcome::Failed, 0},
      {{{"SADD", "s", "a"}}, {"SADD", "s", "a"}, Outcome::NoChange, 0},
      {{{"SADD", "s", "a"}}, {"SADD", "s", "b"}, Outcome::Changed, 1},
      {{}, {"SET", "k", "v", "EX", "0"}, Outcome::Failed, 0},
      {{}, {"GET", "k"}, Outcome::Changed, 0},  // a read: nothing to count
  };
  Loop loop;
  FakeWorker worker(loop);
  for (const Case& c : cases) {
    Store store;
    for (const std::vector<std::string>& setup : c.before) runOn(store, worker, setup);
    const Ran ran = runOn(store, worker, c.command);
    std::string name;
    for (const std::string& a : c.command) name += a + " ";
    EXPECT_EQ(outcomeOf(ran.effects), c.outcome) << name << "replied " << ran.reply;
    EXPECT_EQ(ran.effects.dirty, c.dirty) << name;
  }
}

TEST(Effects, AReplyRecordsOnlyWhatBeganAtTheMark) {
  std::string out;
  resp::Reply reply(out);
  reply.error("ERR earlier");
  reply.markStart();
  const std::size_t start = out.size();
  reply.array(2);
  reply.integer(0);  // inside an array: not how the reply began
  reply.null();
  EXPECT_EQ(reply.beganWith(start), resp::Reply::Began::Other);
  const std::size_t next = out.size();
  reply.integer(0);
  EXPECT_EQ(reply.beganWith(next), resp::Reply::Began::ZeroOrNull);
  const std::size_t third = out.size();
  reply.error("ERR now");
  EXPECT_EQ(reply.beganWith(third), resp::Reply::Began::Error);
}

// Records every call it gets as "<name> before|after <outcome>".
class Recording final : public CommandObserver {
 public:
  Recording(std::string name, std::uint32_t flags, std::vector<std::string>& calls)
      : name_(std::move(name)), flags_(flags), calls_(calls) {}
  std::uint32_t flags() const override { return flags_; }
  void before(const CommandRun& run) override { calls_.push_back(name_ + " before " + std::string(run.spec.name)); }
  void after(const CommandRun& run, const Effects& effects) override {
    calls_.push_back(name_ + " after " + std::string(run.spec.name) + (effects.changed() ? " changed" : " unchanged"));
  }

 private:
  std::string name_;
  std::uint32_t flags_;
  std::vector<std::string>& calls_;
};

TEST(Effects, ObserversSeeTheRunsTheyAskForInRegistrationOrderAndNested) {
  std::vector<std::string> calls;
  CommandObservers observers;
  observers.add(std::make_unique<Recording>("writes", kWrite, calls));
  observers.add(std::make_unique<Recording>("scripts", kMayWrite, calls));
  observers.add(std::make_unique<Recording>("both", kWrite | kMayWrite, calls));
  EXPECT_TRUE(observers.watch(kWrite));
  EXPECT_FALSE(observers.watch(kReadonly));

  Loop loop;
  FakeWorker worker(loop);
  Store store;
  std::string out;
  resp::Reply reply(out);
  const std::vector<std::string_view> evalArgs = {"eval", "", "0"};
  const std::vector<std::string_view> delArgs = {"del", "k"};
  CommandContext evalCtx{worker, nullptr, reply, store, evalArgs, 0};
  CommandContext delCtx{worker, nullptr, reply, store, delArgs, 0};
  const CommandRun eval{*findCommand("eval"), evalCtx, true, false};
  const CommandRun del{*findCommand("del"), delCtx, true, false};
  Effects unchanged;
  unchanged.noChange = true;

  observers.before(eval);
  observers.before(del);  // a command the script runs
  observers.after(del, unchanged);
  observers.after(eval, Effects{});
  const std::vector<std::string> expected = {
      "scripts before eval", "both before eval",
      "writes before del",   "both before del",
      "writes after del unchanged", "both after del unchanged",
      "scripts after eval changed", "both after eval changed"};
  EXPECT_EQ(calls, expected);
}

}  // namespace
}  // namespace keyloop
