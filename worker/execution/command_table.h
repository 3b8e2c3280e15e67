// The command table: what keyloop implements, one row per command (name,
// arity, flags, ACL categories, key positions, routing, handler, keyspace
// events), like Redis's commands.def; what COMMAND tells clients of each
// is redis-server's own entry (command_reference.h). Each family declares
// its rows beside its handlers (command_families.h); this merges them.
//
// Arity follows Redis: N means exactly N arguments including the name, -N
// means at least N. A container command (CLIENT, CONFIG, COMMAND) lists its
// subcommands, which have arities of their own ("client|setname").
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/resp/reply.h"
#include "worker/execution/peer_messages.h"
#include "worker/execution/effects.h"
#include "worker/execution/stats.h"

namespace keyloop {

class Client;
class Store;
class WorkerServices;

// The tracking client a run is for (session/tracking.h), wherever it runs.
struct TrackingCaller {
  std::uint64_t client = 0;
  int worker = -1;            // the worker it talks to
  bool remembers = false;     // its mode remembers what this command reads
  bool readInScript = false;  // a script's command read: the script's declared keys are remembered
};

struct CommandContext {
  WorkerServices& worker;
  Client* client;  // null when a peer worker forwarded the command
  resp::Reply& reply;
  Store& store;
  std::span<const std::string_view> args;
  std::int64_t nowMs;
  // INFO fanned out over all workers: each worker's stats, by slot (empty:
  // this worker only).
  std::span<const ServerStats> workerStats = {};
  // Which keys the handler may read here (null: the ones this worker owns);
  // a cross-worker run sets it to the keys it locked (SORT's patterns).
  const std::function<bool(std::string_view key)>* readable = nullptr;
  // Where the keyspace notifications of a run against locked keys go (they
  // leave once the commit is on its way); null: published at once.
  const std::function<void(std::string_view channel, std::string_view message)>* events = nullptr;
  // What the handler reports of its run beyond its reply (effects.h): the
  // form it propagates, or that it changed nothing. Null: nobody asks.
  Effects* effects = nullptr;
  // Whether the caller runs it again with more keys locked when the handler
  // names keys it could not read (CrossWorker::Discovering: SORT's
  // patterns). Only a client's own command is; inside MULTI or a script
  // on a keyloop of several workers, SORT answers an error instead.
  bool discovers = false;
  // Called by a script (redis.call): XREAD refuses to BLOCK there, as Redis.
  bool fromScript = false;
  // The database `store` is (SELECT's number): keyspace events, MOVE, COPY.
  int db = 0;
  // Where SELECT puts the database it chooses: the connection's, a
  // script's or a transaction's as it runs on its owner (null: nowhere).
  int* selects = nullptr;
  // The client with CLIENT TRACKING on it runs for (null: none): its reads
  // are remembered, and NOLOOP leaves its own writes out.
  TrackingCaller* caller = nullptr;
  // CLIENT NO-TOUCH (Redis 7.2): its reads leave the keys' LRU/LFU as they were.
  bool noTouch = false;
  void propagateAs(std::vector<std::string> command) {
    if (effects != nullptr) effects->propagateAs(std::move(command));
  }
  void changedNothing() {
    if (effects != nullptr) effects->noChange = true;
  }
  // A keyspace event the row cannot declare (XADD's "xtrim" when it
  // trimmed): `event` a literal, `key` one of the arguments.
  void raise(char type, std::string_view event, std::string_view key) {
    if (effects != nullptr) effects->raised.push_back({type, event, key});
  }
  // The same for a key of database `db` (MOVE's "move_to").
  void raiseIn(int db, char type, std::string_view event, std::string_view key) {
    if (effects != nullptr) effects->raised.push_back({type, event, key, db});
  }
  // The handler wrote `key` of another database than `store`'s: WATCH,
  // blocked clients and a reload's hand-over learn of it as of the run's
  // own keys. (Before writing it, the handler keeps it for a snapshot
  // being written: WorkerServices::persistence.)
  void wroteIn(int db, std::string_view key) {
    if (effects != nullptr) effects->elsewhere.push_back({db, key});
  }
};

using CommandHandler = void (*)(CommandContext&);
// A command about the connection's own session (session.h: MULTI, EXEC,
// WATCH, SUBSCRIBE...): runs on the client's worker with the client, and
// may answer later through a reserved reply place.
class Dispatch;
using SessionHandler = void (*)(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);

enum CommandFlag : std::uint32_t {
  kWrite = 1u << 0,
  kReadonly = 1u << 1,
  kFast = 1u << 2,
  kNoAuth = 1u << 3,    // allowed before AUTH
  kAdmin = 1u << 4,
  kConnection = 1u << 5,
  kWipesKeyspace = 1u << 7,  // FLUSHDB, FLUSHALL: every key goes (a reload's copy starts over)
  kHoldsLocks = 1u << 8,     // runs under its own transaction's key locks: never waits for them
  kRunsInMulti = 1u << 9,    // runs at once inside MULTI, not queued (EXEC, DISCARD, WATCH, QUIT...)
  kSubscribedOk = 1u << 10,  // allowed on a RESP2 connection in subscribed mode (PING, SUBSCRIBE...)
  kNoMulti = 1u << 11,       // refused inside MULTI (Redis's no-multi)
  kNoScript = 1u << 12,      // refused inside a script (Redis's noscript)
  kEveryNode = 1u << 13,     // broadcast on a cluster node's port too (PUBLISH reaches every node)
  kMayWrite = 1u << 15,      // writes through the commands it runs (EVAL, FCALL): the executor commits
  kNoneIsNoChange = 1u << 14,  // a reply of 0 or null means it changed nothing (DEL, SREM, SET NX): WATCH sees no write
  kAllowBusy = 1u << 16,     // runs while a script keeps its worker busy (SCRIPT KILL)
  kPushReply = 1u << 18,     // its replies are pushes (SUBSCRIBE): CLIENT REPLY OFF does not silence them
  kDebug = 1u << 19,         // refused unless enable-debug-command allows this connection (Redis's protected command)
  kCarriesRequest = 1u << 20,  // a peer message on a client's behalf (Lock, Exec, Watch): -BUSY like the client's own
  kAbortsWhenRefused = 1u << 17,  // EXEC: refused, it ends the transaction with -EXECABORT and the reason
  kDiskErrorRefuses = 1u << 21,   // refused with -MISCONF after a failed snapshot, like writes (PING, as in Redis)
  kNeverGrows = 1u << 22,    // a write that only removes (DEL, LPOP, EXPIRE...): allowed over maxmemory (no denyoom in Redis)
  kSkipSlowlog = 1u << 23,  // never in the slow log (EXEC: its commands are, one by one)
  kMayReplicate = 1u << 25,  // no write, but propagated (PUBLISH, PFCOUNT): CLIENT PAUSE WRITE holds it
  kRunsTheBlock = 1u << 26,  // EXEC: runs the queued commands (CLIENT PAUSE WRITE holds it when one writes)
  kSkipMonitor = 1u << 24,  // not fed to MONITOR at dispatch: it feeds itself (EXEC: after its block's commands)
  kEveryDatabase = 1u << 27,  // acts on every database, not the selected one (FLUSHALL)
  kSelectsDatabase = 1u << 28,  // SELECT: the connection's database from now on (the log replays it so)
  kSwapsDatabases = 1u << 29,   // SWAPDB: two databases change places (on every worker, each for its keys)
  kKeepsCaching = 1u << 30,     // CLIENT: CLIENT CACHING's yes|no still holds for the command after it
  kMonitoredAfter = 1u << 31,   // MONITOR sees it once it ran, as Redis feeds every command (SELECT names the
                                // database it chose; RESET of a monitor is no longer one's)
};

// Where a command's keys are, as Redis declares them: `first`..`last` by
// `step` (last -1 = through the last argument), and/or a `numkeys` form:
// args[numkeysAt] counts the keys that follow it (ZUNIONSTORE's sources,
// EVAL's keys). Irregular forms name a function instead.
struct KeySpec {
  int first = 0, last = 0, step = 0;
  int numkeysAt = 0;  // 0: none
  // Appends the index of each key argument; for forms neither of the above
  // describes (the peer messages Commit and Exec).
  void (*find)(std::span<const std::string_view> args, std::vector<std::size_t>& indices) = nullptr;
  bool any() const { return first > 0 || numkeysAt > 0 || find != nullptr; }
};

// What a command does when its keys (or its scope) span workers. Nothing
// outside the table compares command names: routing reads this.
enum class CrossWorker : std::uint8_t {
  None,             // keyless: runs on the client's worker (PING, CLIENT, CONFIG)
  Keyed,            // one owner per call: runs on the keys' owner
  SplitAndSum,      // DEL, EXISTS: each owner counts its keys, the counts are summed
  MultiOwnerAtomic, // MGET, MSET, RENAME: the atomic executor (atomic.h) when owners differ
  Discovering,      // SORT: as MultiOwnerAtomic, and the handler may name more keys it must
                    // read (a RESP3 push of them): it runs again with those locked too
  BroadcastSum,     // DBSIZE: every worker, integers summed
  BroadcastConcat,  // KEYS: every worker, arrays joined
  BroadcastUnion,   // PUBSUB CHANNELS: every worker, arrays joined, each element once
  BroadcastCountUnion,  // PUBSUB NUMPAT: every worker's array (an integer here alone), distinct elements counted
  BroadcastPairSums,    // PUBSUB NUMSUB: every worker's [name, count...], counts summed
  BroadcastRandom,  // RANDOMKEY: every worker, one non-null reply picked
  BroadcastSame,    // FLUSHDB: every worker, the first reply (they agree)
  BroadcastKill,    // SCRIPT KILL: every worker; +OK from the one that ran it, else its error, else NOTBUSY
  BroadcastScan,    // SCAN: worker after worker, the worker in the cursor's low bits
  BroadcastLines,   // CLIENT LIST: every worker's text, its lines joined in id order
  BroadcastNewest,  // SLOWLOG GET [count]: every worker's entries [id, ...], the `count` (10; -1: all) of highest id,
                    // at most slowlog-max-len (the server's log is the newest of all workers' entries)
  BroadcastNewestCount,  // SLOWLOG LEN: every worker's entries [id], counted up to slowlog-max-len
  BroadcastBarrier, // SWAPDB: every worker, behind a barrier (every worker's clients held and
                    // nothing in flight), so that no client sees one worker's part done and not another's
  GatherTotals,     // INFO: every worker's counters, then the command here
};
inline bool broadcasts(CrossWorker c) { return c >= CrossWorker::BroadcastSum; }

// A blocking command (BLPOP, BZPOPMIN, BLMOVE...): which of its keys it
// waits on, for which type, and where its timeout is (blocking.h). Its
// handler is the attempt that does not block: a null reply means that
// nothing was there.
struct BlockingSpec {
  KeySpec waitKeys;
  std::uint8_t waitsFor;  // a Type (keyspace/kind.h)
  int timeoutAt;          // argument index; negative: from the end (-1: the last)
  // Commands that block only when asked (XREAD ... BLOCK ms): the index of
  // the timeout argument, 0 when this call does not block. The timeout is
  // then in milliseconds, an integer.
  std::size_t (*optionalTimeoutAt)(std::span<const std::string_view> args) = nullptr;
  // The command restricted to one of its wait keys, when that is not just
  // dropping the others (XREAD's keys come with their IDs).
  std::vector<std::string> (*restrictTo)(std::span<const std::string_view> args, std::string_view key) = nullptr;
  // Arguments meaning "the newest there is when the client blocks" (XREAD's
  // `$`): appends (key index, argument index) pairs; the client's worker
  // asks the keys' owners for their last IDs and puts them in before it
  // tries the command.
  void (*newestMarks)(std::span<const std::string_view> args, std::vector<std::pair<std::size_t, std::size_t>>& out) =
      nullptr;
  // What a waiter is told when its key goes or changes type (XREADGROUP's
  // -UNBLOCKED); empty: it waits on.
  std::string_view goneError = {};
};

// Redis's ACL categories, in the order COMMAND INFO and ACL CAT list them.
// A row names the ones Redis declares for the command (its JSON's
// acl_categories, with @pubsub and @blocking); the ones Redis derives from
// flags (@write, @read, @admin, @dangerous, @fast, @slow) come from the
// row's flags (aclCategoriesOf).
namespace acl {
enum Category : std::uint32_t {
  kKeyspace = 1u << 0, kRead = 1u << 1, kWrite = 1u << 2, kSet = 1u << 3, kSortedSet = 1u << 4,
  kList = 1u << 5, kHash = 1u << 6, kString = 1u << 7, kBitmap = 1u << 8, kHyperLogLog = 1u << 9,
  kGeo = 1u << 10, kStream = 1u << 11, kPubsub = 1u << 12, kAdmin = 1u << 13, kFast = 1u << 14,
  kSlow = 1u << 15, kBlocking = 1u << 16, kDangerous = 1u << 17, kConnection = 1u << 18,
  kTransaction = 1u << 19, kScripting = 1u << 20,
};
inline constexpr std::string_view kNames[] = {
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog", "geo",
    "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection", "transaction", "scripting"};
}  // namespace acl

// What a write command does to its keys, for keyspace notifications
// (keyspace_events.h): `event` (of class `type`, a notify-keyspace-events
// letter) for each key, or for the first key group only when `second`
// names the second group's event.
struct KeyEventSpec {
  enum Rule : std::uint8_t {
    Plain,        // the event, and "del" too when the command emptied the key
    Renames,      // RENAME: the events only (the source's going is rename_from)
    EventOrDel,   // a STORE's destination, EXPIRE: the event, or only "del" when the key is gone
    TtlChange,    // GETEX: "expire" or "persist" as the TTL changed
    SetWithTtl,   // SET, SETEX: the event, and "expire" when it gave the key a TTL
  };
  char type = 0;  // 0: the command raises no event
  std::string_view event = {};
  Rule rule = Plain;
  std::string_view second = {};  // the second key group's event (RENAME's rename_to); empty: `event`
  bool firstKeyOnly = false;     // only the first key changes (a STORE's destination)
  // Irregular events (LMOVE's sides, ZADD's INCR): from the arguments, for
  // key argument `index` of group `group`; empty: none.
  std::string_view (*eventOf)(std::span<const std::string_view> args, std::size_t index, std::size_t group) = nullptr;
};

// One row of the table: a command or a container's subcommand. Rows are
// written with named fields (command_families.h); what a row leaves out
// is off or empty.
struct CommandSpec {
  std::string_view name;  // lower case
  int arity;
  std::uint32_t flags;
  std::uint32_t acl = 0;  // acl::Category bits Redis declares (not those from flags)
  KeySpec keys = {};
  CrossWorker cross = CrossWorker::None;
  // Redis's key-spec flags (COMMAND GETKEYSANDFLAGS): one space-separated
  // group per key spec, groups separated by ';' (RENAME: the source's, then
  // the destination's).
  std::string_view keyFlags = {};
  CommandHandler handler = nullptr;
  SessionHandler session = nullptr;  // instead of `handler`
  std::span<const CommandSpec> subcommands = {};
  // Key flags that depend on the arguments (SET with GET reads the key).
  std::string_view (*variableKeyFlags)(std::span<const std::string_view> args) = nullptr;
  // Whether this call may write when its arguments say (a script's declared
  // flags: EVAL `#!lua flags=no-writes` does not, as Redis's getCommandFlags);
  // null: `flags` say. CLIENT PAUSE WRITE asks it.
  bool (*writesFor)(WorkerServices& worker, std::span<const std::string_view> args) = nullptr;
  const BlockingSpec* blocking = nullptr;
  // A peer message's row (peer_messages.h): found by its kind, never by
  // name (its name only labels it); clients cannot run it.
  peer::Kind peer = peer::Kind::None;
  KeyEventSpec events = {};  // keyspace notifications of a write (type 0: none)
  // Arguments no log may show (AUTH's password): whether argument `index`
  // is one; the slow log and MONITOR show "(redacted)" instead.
  bool (*redacts)(std::span<const std::string_view> args, std::size_t index) = nullptr;
  // Its position in the merged table (set there; a family leaves it out):
  // what keyloop_commands_total and INFO count by.
  std::uint16_t index = 0;
};

// Every ACL category of a row: its own and the ones its flags imply (as
// Redis's setImplicitACLCategories derives them).
std::uint32_t aclCategoriesOf(const CommandSpec& spec);

// The events of a top-level command (null: it makes none).
const KeyEventSpec* keyEventsOf(const CommandSpec& topLevel);

// Calls `visit(index, specIndex)` for each key argument of `args` in order
// (specIndex: which ';' group of keyFlags describes it). Stops early when
// `visit` returns false. Arguments past the end are never visited.
template <typename Visit>
void forEachKey(const CommandSpec& spec, std::span<const std::string_view> args, Visit visit) {
  const KeySpec& k = spec.keys;
  if (k.find != nullptr) {  // the n-th key found is described by group n (or the last one)
    std::vector<std::size_t> indices;
    k.find(args, indices);
    for (std::size_t n = 0; n < indices.size(); ++n) {
      if (!visit(indices[n], n)) return;
    }
    return;
  }
  std::size_t group = 0;
  if (k.first > 0) {
    const std::size_t last = k.last < 0 ? args.size() - static_cast<std::size_t>(-k.last)
                                        : static_cast<std::size_t>(k.last);
    // RENAME-style rows (step 1, a fixed last) give each position its own
    // group; a range to the end that declares a second group (SINTERSTORE
    // dest key..., BITOP op dest key...) is the destination, then the sources.
    const bool groupPerKey = k.last > 0 && k.step == 1 && k.last > k.first;
    const bool destinationFirst = k.last < 0 && k.numkeysAt == 0 && spec.keyFlags.find(';') != std::string_view::npos;
    for (std::size_t i = static_cast<std::size_t>(k.first); i <= last && i < args.size();
         i += static_cast<std::size_t>(k.step)) {
      if (!visit(i, group)) return;
      if (groupPerKey || (destinationFirst && group == 0)) ++group;
    }
    if (!groupPerKey && !destinationFirst) ++group;
  }
  if (k.numkeysAt > 0 && static_cast<std::size_t>(k.numkeysAt) < args.size()) {
    long long n = 0;
    for (char c : args[static_cast<std::size_t>(k.numkeysAt)]) {
      if (c < '0' || c > '9' || n > (1 << 20)) return;  // the handler reports a bad count
      n = n * 10 + (c - '0');
    }
    for (std::size_t i = static_cast<std::size_t>(k.numkeysAt) + 1;
         i < args.size() && i <= static_cast<std::size_t>(k.numkeysAt) + static_cast<std::size_t>(n); ++i) {
      if (!visit(i, group)) return;
    }
  }
}

// The key arguments of a request, in order.
std::vector<std::string_view> keysOf(const CommandSpec& spec, std::span<const std::string_view> args);
// The key-spec flag groups of a request ("RW access update" per group, as
// forEachKey's specIndex counts them): keyFlags, or variableKeyFlags'.
std::vector<std::string_view> keyFlagGroups(const CommandSpec& spec, std::span<const std::string_view> args);
// The flags of group `group` ("" with none); a group past the last is
// described by the last (XREAD's streams after the first, say).
inline std::string_view flagsOfGroup(const std::vector<std::string_view>& groups, std::size_t group) {
  return groups.empty() ? std::string_view() : groups[std::min(group, groups.size() - 1)];
}

// Resolves a request's command: the top-level spec and, for a container
// (CLIENT, CONFIG, COMMAND), the subcommand. No string is built on this
// path (it runs for every request); names and errors only when asked for.
struct ResolvedCommand {
  const CommandSpec* topLevel = nullptr;
  const CommandSpec* spec = nullptr;  // null: unknown command or subcommand
  // "get", "client|setname" (Redis's names in errors and CLIENT LIST).
  std::string fullName() const;
  // Redis's error for an unknown command or subcommand.
  std::string unknownError(std::span<const std::string_view> args) const;
};
ResolvedCommand resolveCommand(std::span<const std::string_view> args);
inline bool arityAllows(const CommandSpec& spec, std::size_t argc) {
  const int n = static_cast<int>(argc);
  return spec.arity > 0 ? spec.arity == n : n >= -spec.arity;
}
// "ERR wrong number of arguments for '<name>' command"
std::string arityError(const ResolvedCommand& command);
// Redis's addReplySubcommandSyntaxError, for a subcommand that checks its
// own arguments (PUBSUB CHANNELS, FUNCTION FLUSH): `sub` as the client typed it.
std::string subcommandSyntaxError(std::string_view sub, std::string_view container);

// Case-insensitive; nullptr when unknown.
const CommandSpec* findCommand(std::string_view name);
// The row of the peer message a request's first argument names; nullptr
// for a command name (peer_messages.h).
const CommandSpec* findPeerMessage(std::string_view first);
const CommandSpec* findSubcommand(const CommandSpec& container, std::string_view name);
// The commands clients can see (COMMAND, COMMAND DOCS): no peer message.
std::span<const CommandSpec> allCommands();
// Every top-level row, peer messages included, and the position of one
// in it: keyloop_commands_total counts by position (shared_metrics.h).
std::span<const CommandSpec> commandTable();
inline std::size_t commandIndex(const CommandSpec& topLevel) { return topLevel.index; }

}  // namespace keyloop
