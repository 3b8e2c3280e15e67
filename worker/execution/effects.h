// Effects: what one run of a command did, handed to the observers that
// react to writes (WATCH, keyspace notifications, snapshots, the change
// feed, save counters, memory accounting, a reload's migration, blocked
// clients). Dispatch::run is the pipeline that feeds them:
//
//   1. every observer's before(): what a write will change is still there
//      (a watched key's existence, a key a snapshot must keep, the
//      notifications' "before" state);
//   2. the handler runs (runHandler), reporting through CommandContext
//      what it propagates or that it changed nothing;
//   3. its Effects are settled once (did it fail, did it change anything,
//      what it propagates: propagatedForm; the keyspace events it raised);
//   4. every observer's after(), in order.
//
// The built-in observers are called directly (write_observers.h: every
// write passes them). One added later (replication, client tracking) is a
// CommandObserver, registered once (Dispatch::addObserver), not an edit of
// the pipeline; a run may nest (a script's commands run inside EVAL's
// handler), so one that keeps state from before() to after() keeps a stack.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/resp/reply.h"

namespace keyloop {

struct CommandContext;
struct CommandSpec;

// One run of a command's handler, as observers see it.
struct CommandRun {
  const CommandSpec& spec;
  CommandContext& ctx;
  bool ownStore;   // against the worker's own keys (not a cross-worker scratch store)
  bool replaying;  // a record of the append-only log at start (no notification, no change counted)
};

using PropagatedCommand = std::vector<std::string>;

// A keyspace event a run raised (keyspace_events.h): its class letter,
// its name, its key (views of the row's spec and of the run's arguments).
struct RaisedEvent {
  char type;
  std::string_view event;
  std::string_view key;
  int db = -1;  // the key's database when not the run's (MOVE's move_to)
  bool operator==(const RaisedEvent&) const = default;
};

// A key a run wrote in another database than its own (MOVE, COPY ... DB).
struct KeyInDatabase {
  int db;
  std::string_view key;
};

struct Effects {
  bool failed = false;    // it was refused (an error): it changed nothing
  bool noChange = false;  // it ran and changed nothing (DEL of a missing key, SET NX of an existing one)
  // Redis's server.dirty for this run: 1 for a write that changed something.
  std::uint64_t dirty = 0;
  // What the run propagates instead of itself (Redis's rewriteClientCommandVector
  // and alsoPropagate), set by its handler; empty and not `rewritten`: as called.
  bool rewritten = false;
  std::vector<PropagatedCommand> propagate;
  // The keyspace events it raised, in order: worked out (from the keys
  // before and after) while notify-keyspace-events is on, their only
  // consumer so far (Dispatch::run, step 3).
  std::vector<RaisedEvent> events;
  // Events the handler raised itself (CommandContext::raise): after the row's.
  std::vector<RaisedEvent> raised;
  // Keys it wrote in another database (CommandContext::wroteIn): the
  // observers treat them as they treat its own keys.
  std::vector<KeyInDatabase> elsewhere;
  bool changed() const { return !failed && !noChange; }
  void propagateAs(PropagatedCommand command) {
    rewritten = true;
    propagate.push_back(std::move(command));
  }
  // Settles failed, noChange and dirty from how the reply began: a write
  // refused with an error changed nothing, and so did a write Redis marks
  // as answering 0 or null when it changed nothing (kNoneIsNoChange),
  // unless its handler said what it propagates.
  void settle(const CommandSpec& spec, resp::Reply::Began began);
};

// Runs `spec`'s handler on `ctx`, with what it reports and how its reply
// began made into its Effects.
Effects runHandler(const CommandSpec& spec, CommandContext& ctx);
// Every handler runs through this: a request never ends a worker. Memory a
// handler could not get (bad_alloc, or a length_error for a size past what
// a container holds) fails that one command with an -OOM error, its
// partial reply dropped, and the worker goes on serving.
void runGuarded(void (*handler)(CommandContext&), CommandContext& ctx);

// The commands a run propagates, by Redis 7.0's rules: nothing when it
// changed nothing; what its handler rewrote it to (relative expiries made
// absolute, a random choice made explicit, a float increment made a SET,
// a served blocking pop made the pop); else the command as called. A
// script or transaction propagates the commands it ran, not itself, and
// a peer message nothing (its writes travel otherwise).
std::vector<PropagatedCommand> propagatedForm(const CommandRun& run, const Effects& effects);

// One key a run read or wrote, with its database.
struct KeyTouch {
  int db = 0;
  std::string_view key;
  bool read = false;     // its value was read (what client tracking remembers)
  bool written = false;  // it changed (what tracking invalidates, WATCH sees)
  bool operator==(const KeyTouch&) const = default;
};

// The keys a run touched, in argument order, by its row's key specs and
// their flags (COMMAND GETKEYSANDFLAGS'): RO or ACCESS reads a key;
// RW, OW or RM writes it, when the run changed anything. Worked out when
// an observer asks (client tracking), never on every run.
std::vector<KeyTouch> keysTouched(const CommandRun& run, const Effects& effects);

class CommandObserver {
 public:
  virtual ~CommandObserver() = default;
  // Which runs it sees after the handler: those of commands with any of
  // these flags (0: none); and before it (0, the default: none). Read
  // once, when it is registered. One that keeps state from before to after
  // sees the same runs in both.
  virtual std::uint32_t flags() const = 0;
  virtual std::uint32_t beforeFlags() const { return 0; }
  virtual void before(const CommandRun& run) { (void)run; }
  virtual void after(const CommandRun& run, const Effects& effects) = 0;
};

// The registered observers, called in registration order. Every write
// passes here: the flags are kept beside each observer (no virtual call
// to ask), and only observers that need it are called before.
class CommandObservers {
 public:
  void add(std::unique_ptr<CommandObserver> observer);
  // Whether any observer sees a run of a command with `flags`.
  bool watch(std::uint32_t flags) const { return (flags & interest_) != 0; }
  void before(const CommandRun& run);
  void after(const CommandRun& run, const Effects& effects);

 private:
  struct Registered {
    std::uint32_t flags;
    CommandObserver* observer;
  };
  std::vector<std::unique_ptr<CommandObserver>> owned_;
  std::vector<Registered> before_, after_;
  std::uint32_t interest_ = 0;
};

}  // namespace keyloop
