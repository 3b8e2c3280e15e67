// Effects and the pipeline of observers (effects.h): what a run of a real
// handler reports (refused, changed nothing, changed), learnt from how its
// reply began as the reply's writers recorded it; and the observers'
// order, their filter by command flags, and runs that nest.
#include "worker/execution/effects.h"

#include <gtest/gtest.h>

#include <new>
#include <string>
#include <vector>

#include "worker/execution/command_table.h"
#include "worker/execution/keyspace_events.h"
#include "worker/keyspace/store.h"
#include "worker/tests/fake_worker.h"

namespace keyloop {
namespace {

struct Ran {
  std::string reply;
  Effects effects;
};

constexpr std::int64_t kNow = 1'000'000'000'000;  // the clock every run here sees (ms)

// Runs `args` with the command's real handler on `store`, as the pipeline
// does; `propagated` is what it propagates, one command a line.
struct Propagated {
  Ran ran;
  std::string propagated;
};
Propagated runAndPropagate(Store& store, WorkerServices& worker, std::vector<std::string> args) {
  const std::vector<std::string_view> views(args.begin(), args.end());
  const ResolvedCommand command = resolveCommand(views);
  Propagated out;
  Ran& ran = out.ran;
  resp::Reply reply(ran.reply, resp::Protocol::Resp2);
  reply.simple("an earlier reply on the same connection");
  const std::size_t start = ran.reply.size();
  CommandContext ctx{worker, nullptr, reply, store, views, kNow};
  ran.effects = runHandler(*command.spec, ctx);
  ran.reply.erase(0, start);
  for (const PropagatedCommand& c :
       propagatedForm(CommandRun{*command.spec, ctx, true, false}, ran.effects)) {
    std::string line;
    for (const std::string& a : c) line += (line.empty() ? "" : " ") + a;
    out.propagated += line + "\n";
  }
  return out;
}

Ran runOn(Store& store, WorkerServices& worker, std::vector<std::string> args) {
  return runAndPropagate(store, worker, std::move(args)).ran;
}

// `command` on a fresh store after `before`; `name` is the command as text.
Propagated runAfter(WorkerServices& worker, const std::vector<std::vector<std::string>>& before,
                    const std::vector<std::string>& command, std::string& name) {
  Store store;
  for (const std::vector<std::string>& setup : before) runOn(store, worker, setup);
  name.clear();
  for (const std::string& a : command) name += a + " ";
  return runAndPropagate(store, worker, command);
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
      {{{"SET", "k", "v"}},
       {"SET", "k", "w", "GET"},
       Outcome::Changed,
       1},  // a bulk first: it wrote
      {{{"SET", "k", "abc"}}, {"INCR", "k"}, Outcome::Failed, 0},
      {{{"SET", "k", "v"}}, {"LPUSH", "k", "a"}, Outcome::Failed, 0},
      {{{"SADD", "s", "a"}}, {"SADD", "s", "a"}, Outcome::NoChange, 0},
      {{{"SADD", "s", "a"}}, {"SADD", "s", "b"}, Outcome::Changed, 1},
      {{}, {"SET", "k", "v", "EX", "0"}, Outcome::Failed, 0},
      {{}, {"GET", "k"}, Outcome::Changed, 0},  // a read: nothing to count
  };
  Loop loop;
  FakeWorker worker(loop);
  std::string name;
  for (const Case& c : cases) {
    const Ran ran = runAfter(worker, c.before, c.command, name).ran;
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

struct PropagationCase {
  std::vector<std::vector<std::string>> before;  // run first
  std::vector<std::string> command;
  std::string propagated;  // one command a line; "" for nothing
};

// Redis 7.0's rules for the propagated form (what the log and, later, the
// replicas get), each checked against the real handler.
// A request never ends a worker: a handler that cannot get memory (here
// it throws as an allocation would, midway through its reply) fails that
// one command with -OOM, and what it had written of its reply is gone.
TEST(Effects, AHandlerOutOfMemoryAnswersOomInsteadOfEndingTheWorker) {
  Loop loop;
  FakeWorker worker(loop);
  Store store;
  for (void (*handler)(CommandContext&) : {+[](CommandContext& ctx) {
                                             ctx.reply.array(1000);
                                             ctx.reply.bulk("half a reply");
                                             throw std::bad_alloc();
                                           },
                                           +[](CommandContext& ctx) {
                                             ctx.reply.array(3);
                                             std::vector<int>().reserve(static_cast<std::size_t>(-1));
                                           }}) {
    std::string out;
    resp::Reply reply(out, resp::Protocol::Resp2);
    reply.simple("an earlier reply");
    const std::vector<std::string_view> args{"anything"};
    CommandContext ctx{worker, nullptr, reply, store, args, kNow};
    CommandSpec spec{};
    spec.handler = handler;
    const Effects effects = runHandler(spec, ctx);
    EXPECT_EQ(out, "+an earlier reply\r\n-OOM command not allowed: the worker could not allocate the memory it needs\r\n");
    EXPECT_TRUE(effects.failed);
  }
}

TEST(Effects, APropagatedFormFollowsRedissRules) {
  const std::string in100s = std::to_string(kNow + 100'000);
  const std::vector<PropagationCase> cases = {
      // As called, or nothing when nothing changed.
      {{}, {"SET", "k", "v"}, "SET k v\n"},
      {{{"SET", "k", "v"}}, {"SET", "k", "w", "NX"}, ""},
      {{{"SET", "k", "v"}}, {"SET", "k", "w", "NX", "GET"}, ""},
      {{}, {"DEL", "k"}, ""},
      {{{"SET", "k", "v"}}, {"DEL", "k"}, "DEL k\n"},
      {{{"SET", "k", "abc"}}, {"INCR", "k"}, ""},
      {{{"SET", "k", "v"}}, {"GET", "k"}, ""},
      // Relative expiries become absolute; one already past, a DEL.
      {{}, {"SET", "k", "v", "EX", "100"}, "SET k v PXAT " + in100s + "\n"},
      {{}, {"SET", "k", "v", "PX", "100000", "GET"}, "SET k v PXAT " + in100s + "\n"},
      {{}, {"SET", "k", "v", "GET"}, "SET k v\n"},  // answers null, and sets k
      {{{"SET", "k", "old"}}, {"SET", "k", "v", "GET"}, "SET k v\n"},
      {{}, {"SETEX", "k", "100", "v"}, "SET k v PXAT " + in100s + "\n"},
      {{}, {"PSETEX", "k", "100000", "v"}, "SET k v PXAT " + in100s + "\n"},
      {{{"SET", "k", "v"}}, {"EXPIRE", "k", "100"}, "PEXPIREAT k " + in100s + "\n"},
      {{{"SET", "k", "v"}}, {"PEXPIREAT", "k", in100s}, "PEXPIREAT k " + in100s + "\n"},
      {{{"SET", "k", "v"}}, {"EXPIRE", "k", "-1"}, "DEL k\n"},
      {{}, {"EXPIRE", "k", "100"}, ""},
      {{{"SET", "k", "v"}}, {"GETEX", "k", "EX", "100"}, "PEXPIREAT k " + in100s + "\n"},
      {{{"SET", "k", "v", "EX", "100"}}, {"GETEX", "k", "PERSIST"}, "PERSIST k\n"},
      {{{"SET", "k", "v"}}, {"GETEX", "k", "PERSIST"}, ""},
      {{{"SET", "k", "v"}}, {"GETEX", "k"}, ""},
      {{{"SET", "k", "v"}}, {"GETEX", "k", "PXAT", "1"}, "DEL k\n"},
      // Rewritten as the write they amount to.
      {{{"SET", "k", "v"}}, {"GETSET", "k", "w"}, "SET k w\n"},
      {{{"SET", "k", "v"}}, {"GETDEL", "k"}, "DEL k\n"},
      {{}, {"GETDEL", "k"}, ""},
      {{{"SET", "k", "1"}}, {"INCRBYFLOAT", "k", "1.5"}, "SET k 2.5 KEEPTTL\n"},
      {{}, {"HINCRBYFLOAT", "h", "f", "1.5"}, "HSET h f 1.5\n"},
      // A random choice becomes its outcome.
      {{{"SADD", "s", "a", "b"}}, {"SPOP", "s", "5"}, "DEL s\n"},
      {{{"SADD", "s", "a"}}, {"SPOP", "s"}, "SREM s a\n"},
      {{}, {"SPOP", "s", "2"}, ""},
      {{{"SADD", "s", "a"}}, {"SRANDMEMBER", "s"}, ""},
      // A blocking pop served becomes the pop it made.
      {{{"RPUSH", "l", "x"}}, {"BLPOP", "none", "l", "0"}, "LPOP l\n"},
      {{{"RPUSH", "l", "x"}}, {"BRPOP", "l", "0"}, "RPOP l\n"},
      {{{"RPUSH", "l", "x"}}, {"BLMOVE", "l", "m", "LEFT", "RIGHT", "0"}, "LMOVE l m LEFT RIGHT\n"},
      {{{"RPUSH", "l", "x"}}, {"BRPOPLPUSH", "l", "m", "0"}, "RPOPLPUSH l m\n"},
      {{}, {"LMOVE", "l", "m", "LEFT", "RIGHT"}, ""},
      {{{"RPUSH", "l", "x", "y"}}, {"BLMPOP", "0", "1", "l", "LEFT", "COUNT", "5"}, "LPOP l 2\n"},
      {{{"RPUSH", "l", "x", "y"}}, {"LMPOP", "1", "l", "RIGHT"}, "RPOP l 1\n"},
      {{{"ZADD", "z", "1", "a"}}, {"BZPOPMIN", "z", "0"}, "ZPOPMIN z\n"},
      {{{"ZADD", "z", "1", "a", "2", "b"}},
       {"BZMPOP", "0", "1", "z", "MAX", "COUNT", "1"},
       "ZPOPMAX z 1\n"},
      {{}, {"ZPOPMIN", "z"}, ""},
  };
  Loop loop;
  FakeWorker worker(loop);
  std::string name;
  for (const PropagationCase& c : cases) {
    const Propagated p = runAfter(worker, c.before, c.command, name);
    EXPECT_EQ(p.propagated, c.propagated) << name << "replied " << p.ran.reply;
  }
}

// Records every call it gets as "<name> before|after <outcome>".
class Recording final : public CommandObserver {
 public:
  Recording(std::string name, std::uint32_t flags, std::vector<std::string>& calls)
      : name_(std::move(name)), flags_(flags), calls_(calls) {}
  std::uint32_t flags() const override { return flags_; }
  std::uint32_t beforeFlags() const override { return flags_; }
  void before(const CommandRun& run) override {
    calls_.push_back(name_ + " before " + std::string(run.spec.name));
  }
  void after(const CommandRun& run, const Effects& effects) override {
    calls_.push_back(name_ + " after " + std::string(run.spec.name) +
                     (effects.changed() ? " changed" : " unchanged"));
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
      "scripts before eval",        "both before eval",
      "writes before del",          "both before del",
      "writes after del unchanged", "both after del unchanged",
      "scripts after eval changed", "both after eval changed"};
  EXPECT_EQ(calls, expected);
}

// The keys a run read and wrote, from the real rows: `touched` lists each
// key as key:r, key:w or key:rw (neither: key:-), in argument order.
TEST(Effects, KeysTouchedFollowTheRowsKeySpecsAndWhetherTheRunChangedAnything) {
  Loop loop;
  FakeWorker worker(loop);
  auto touched = [&worker](const std::vector<std::vector<std::string>>& before,
                           std::vector<std::string> args) {
    Store store;
    for (const std::vector<std::string>& setup : before) runOn(store, worker, setup);
    const std::vector<std::string_view> views(args.begin(), args.end());
    const ResolvedCommand command = resolveCommand(views);
    std::string out;
    resp::Reply reply(out);
    CommandContext ctx{worker, nullptr, reply, store, views, kNow};
    const Effects effects = runHandler(*command.spec, ctx);
    std::string list;
    for (const KeyTouch& k : keysTouched(CommandRun{*command.spec, ctx, true, false}, effects)) {
      EXPECT_EQ(k.db, 0);
      list += std::string(k.key) + ":" + (k.read ? "r" : "") + (k.written ? "w" : "") +
              (k.read || k.written ? "" : "-") + " ";
    }
    return list;
  };
  EXPECT_EQ(touched({}, {"get", "k"}), "k:r ");
  EXPECT_EQ(touched({}, {"mget", "a", "b"}), "a:r b:r ");
  EXPECT_EQ(touched({}, {"set", "k", "v"}), "k:w ");
  EXPECT_EQ(touched({}, {"set", "k", "v", "get"}), "k:rw ");
  EXPECT_EQ(touched({}, {"set", "k", "v", "nx"}), "k:w ");
  EXPECT_EQ(touched({{"set", "k", "v"}}, {"set", "k", "v", "nx"}), "k:- ");  // changed nothing
  EXPECT_EQ(touched({}, {"del", "missing"}), "missing:- ");
  EXPECT_EQ(touched({{"set", "a", "1"}}, {"rename", "a", "b"}), "a:rw b:w ");
  EXPECT_EQ(touched({{"sadd", "a", "x"}}, {"sinterstore", "d", "a", "b"}), "d:w a:r b:r ");
  EXPECT_EQ(touched({{"set", "k", "1"}}, {"incr", "k"}), "k:rw ");
  EXPECT_EQ(touched({{"set", "k", "v"}}, {"incr", "k"}), "k:r ");  // refused: "v" is no integer
}

}  // namespace
}  // namespace keyloop

namespace keyloop {
namespace {

// Step 3 of the pipeline: the keyspace events a run raised are part of its
// effects, worked out from its keys before and after it ran.
TEST(Effects, TheKeyspaceEventsARunRaisedAreInItsEffects) {
  Loop loop;
  FakeWorker worker(loop);
  Store store;
  auto raised = [&](std::vector<std::string> args) {
    const std::vector<std::string_view> views(args.begin(), args.end());
    const ResolvedCommand command = resolveCommand(views);
    std::string out;
    resp::Reply reply(out, resp::Protocol::Resp2);
    CommandContext ctx{worker, nullptr, reply, store, views, kNow};
    const keyspace_events::Recorder recorder(*keyspace_events::parse("KEA"), *command.spec, ctx);
    Effects effects = runHandler(*command.spec, ctx);
    recorder.collect(effects, effects.events);
    std::string events;
    for (const RaisedEvent& e : effects.events)
      events +=
          std::string(1, e.type) + " " + std::string(e.event) + " " + std::string(e.key) + "\n";
    return events;
  };
  EXPECT_EQ(raised({"SET", "k", "v", "EX", "10"}), "n new k\n$ set k\ng expire k\n");
  EXPECT_EQ(raised({"SET", "k", "w", "NX"}), "") << "it changed nothing";
  EXPECT_EQ(raised({"INCR", "k"}), "") << "refused";
  EXPECT_EQ(raised({"DEL", "k", "missing"}), "g del k\n");
  EXPECT_EQ(raised({"RPUSH", "l", "a"}), "n new l\nl rpush l\n");
  EXPECT_EQ(raised({"LPOP", "l"}), "l lpop l\ng del l\n");
  EXPECT_EQ(raised({"GET", "l"}), "") << "a read raises nothing";
}

}  // namespace
}  // namespace keyloop
