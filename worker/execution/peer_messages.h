// Peer messages: what one worker asks of another of its generation besides
// running a client's command for it. Every one is listed here, as a kind
// and a struct, with its encoding and decoding; no other file lays out or
// reads their arguments by position.
//
// On the channel (common/ipc/messages.h) a peer message is a Request
// record like a forwarded command, whose first argument is the message's
// one-byte kind instead of a command name (a name is letters, a kind is a
// control byte: the two never meet). The receiver runs it through its row
// of the command table (the row's `.peer` field: key locks, busy scripts
// and the write pipeline treat it as they treat any command); clients can
// neither name nor send one. Replies are RESP, described per message.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/resp/reply.h"

namespace keyloop::peer {

enum class Kind : std::uint8_t {
  None = 0,  // not a peer message: a client's command
  // A transaction across workers (routing/atomic.h, session/transaction.h).
  Lock,     // lock keys for a transaction; reply: per key [image expire-at version] or [version]
  Commit,   // apply a transaction's writes and events, unlock; no reply (posted)
  Exec,     // run a MULTI block whose keys all live here if its watches hold; reply: EXEC's
  Watch,    // register a client's watch of keys; reply: per key [version existed]
  Unwatch,  // a client watches these keys no more; no reply (posted)
  // A blocked client's wait on keys of other workers (dispatch/blocking.h).
  Block,    // register the wait; +OK
  Unblock,  // the wait is over
  Rewait,   // the client waits again (the element it was offered went)
  Wake,     // may the client be served now? :1 reserves it, :2 busy (look again), :0 gone
  Served,   // the client's reply, from the owner that served it
  Retry,    // a waited-on key has an element: the client's worker runs it the long way
  // Sharing what every worker must know.
  ScriptLoad,  // compile a script another worker ran (EVALSHA finds it everywhere)
  Deliver,     // a keyspace notification for this worker's subscribers
  Totals,      // this worker's INFO counters; reply: an array of integers (stats.h)
  // A script reaching other workers' keys waits for a transaction's lock
  // (scripting/script_reach.h): its coordinator gives the locks up and
  // starts over, unless it ran already (its commit is on the way).
  Revoke,  // no reply (posted)
  // The scripts' permission is free: a script waiting for it looks again
  // (its arrival wakes the loop; it carries nothing).
  ReachFree,  // no reply (notified)
  // A client about to block on streams' newest entries (XREAD ... $):
  // the last IDs of these keys here; reply: an array of IDs ("0-0": none).
  LastIds,
  // A line of MONITOR's feed for this worker's monitors; no reply (posted).
  MonitorLine,
  // CLIENT KILL's filters: this worker closes its clients that match;
  // reply: how many.
  KillClients,
  // SWAPDB's barrier (dispatch/cross_worker.h: runBehindBarrier): hold this
  // worker's clients, say whether it is quiet, let them go. Reply: +OK, or
  // an error (a reload holds them already); :1 or :0 for Ready.
  Barrier,
  // Client tracking (session/tracking.h): invalidations, redirections,
  // BCAST prefixes, reads to remember; no reply (notified).
  Tracking,
  // CLIENT TRACKING ... REDIRECT id: whether this worker has that client; :1 or :0.
  HasClient,
  // WAITAOF (session/aof_waits.h): this worker's append-only log, bytes
  // appended so far and bytes fsynced; reply *2 of integers, or *0 with no log.
  AofOffsets,
  Count,
};

// The kind a request's first argument names; None for a command name.
Kind kindOf(std::string_view first);

// A message laid out as a channel request's arguments. The numbers it
// spells out live in it; every other argument is a view the sender keeps
// alive until the message is sent (the router copies it into the ring).
class Message {
 public:
  explicit Message(Kind kind);
  Message(Message&&) = default;
  Message& operator=(Message&&) = default;
  std::span<const std::string_view> args() const { return args_; }

  void add(std::string_view arg) { args_.push_back(arg); }
  void add(std::span<const std::string_view> args) {
    args_.insert(args_.end(), args.begin(), args.end());
  }
  void add(std::span<const std::string> args) {
    args_.insert(args_.end(), args.begin(), args.end());
  }
  void addNumber(std::int64_t n) { args_.push_back(numbers_.emplace_back(std::to_string(n))); }

 private:
  std::vector<std::string_view> args_;
  std::deque<std::string> numbers_;  // a deque: views of its strings survive its growth
};

// ---- SWAPDB's barrier --------------------------------------------------------

enum class BarrierStep : std::uint8_t { Hold, Ready, Release };
Message barrierMessage(BarrierStep step);
std::optional<BarrierStep> decodeBarrier(std::span<const std::string_view> args);

// ---- a transaction across workers ------------------------------------------

struct Lock {
  std::string_view transaction;
  std::span<const std::string_view> keys;
};
Message encode(const Lock& lock);
std::optional<Lock> decodeLock(std::span<const std::string_view> args);

// What a worker whose script reaches other workers' keys answers a Lock
// (dispatch.h's script wait): the transaction releases its locks and
// starts over (atomic.h).
inline constexpr std::string_view kLockRefusedForScript = "-TRYAGAIN keys held by a running script\r\n";

// Its reply: the state of each key as the lock found it, in the keys' order.
struct LockedKey {
  std::optional<std::string_view> image;  // keyspace/image.h; none: no such key
  std::int64_t expireAt = 0;
  std::uint64_t version = 0;  // its WATCH version (watches.h)
};
void replyLocked(resp::Reply& reply, const LockedKey& key);  // after reply.array(keys)
// Nullopt: an error reply, or not one state per key.
std::optional<std::vector<LockedKey>> decodeLockReply(std::string_view reply, std::size_t keys);

// Commit: built op by op (the owner applies them in order, then unlocks).
Message commitOf(std::string_view transaction);
void addSet(Message& commit, std::string_view key, std::string_view image, std::int64_t expireAt);
void addDelete(Message& commit, std::string_view key);
void addEvent(Message& commit, std::string_view channel, std::string_view message);
struct CommitOp {
  enum class Op : std::uint8_t { Set, Delete, Event } op;
  std::string_view key;    // Event: the channel
  std::string_view value;  // Set: the image (keyspace/image.h); Event: the message
  std::int64_t expireAt = 0;
};
struct Commit {
  std::string_view transaction;
  std::vector<CommitOp> ops;  // up to the first malformed one (the keys still unlock)
};
std::optional<Commit> decodeCommit(std::span<const std::string_view> args);
// Its keys' argument positions (the row's key spec: its owner parks
// nothing behind them, they are its own transaction's).
void commitKeyIndices(std::span<const std::string_view> args, std::vector<std::size_t>& indices);

// Exec: the watches to check, then the commands, added one by one.
struct WatchCheck {
  std::string_view key;
  std::uint64_t version = 0;  // the owner's (watches.h)
  bool existed = false;
  int db = 0;  // the key's database
};
Message execOf(std::span<const WatchCheck> watches, std::size_t commands);
void addCommand(Message& exec, std::span<const std::string> args);
struct Exec {
  std::vector<WatchCheck> watches;
  std::vector<std::span<const std::string_view>> commands;
};
std::optional<Exec> decodeExec(std::span<const std::string_view> args);
// Its keys' argument positions: the watched keys, then each command's.
void execKeyIndices(std::span<const std::string_view> args, std::vector<std::size_t>& indices);

// Watch, Unwatch: the keys.
Message keysMessage(Kind kind, std::span<const std::string> keys);
std::span<const std::string_view> decodeKeys(std::span<const std::string_view> args);
// Watch's reply: each key's version and whether it existed, in order.
struct WatchedState {
  std::uint64_t version = 0;
  bool existed = false;
};
void replyWatched(resp::Reply& reply, const WatchedState& key);  // after reply.array(keys)
// One state per key asked; a missing or malformed one is unwatched
// (watches.h: kUnwatched) and did not exist.
std::vector<WatchedState> decodeWatchReply(std::string_view reply, std::size_t keys,
                                           std::uint64_t unwatched);

// ---- a blocked client --------------------------------------------------------

struct Block {
  std::uint64_t wait = 0;
  int worker = 0;  // the client's
  resp::Protocol protocol = resp::Protocol::Resp2;
  std::uint8_t waitsFor = 0;                  // a Type (keyspace/kind.h)
  std::span<const std::string_view> keys;     // those of this owner
  std::span<const std::string_view> command;  // the client's, whole
};
Message encode(const Block& block);
std::optional<Block> decodeBlock(std::span<const std::string_view> args);

// Unblock, Rewait, Wake, Retry: the wait's id.
Message waitMessage(Kind kind, std::uint64_t wait);
std::optional<std::uint64_t> decodeWait(std::span<const std::string_view> args);

struct Served {
  std::uint64_t wait = 0;
  std::string_view reply;
};
Message encode(const Served& served);
std::optional<Served> decodeServed(std::span<const std::string_view> args);

// ---- shared knowledge ----------------------------------------------------------

struct Revoke {
  std::string_view transaction;
};
Message encode(const Revoke& revoke);
std::optional<Revoke> decodeRevoke(std::span<const std::string_view> args);

struct ScriptLoad {
  std::string_view body;
};
Message encode(const ScriptLoad& load);
std::optional<ScriptLoad> decodeScriptLoad(std::span<const std::string_view> args);

struct Deliver {
  std::string_view channel, message;
};

// CLIENT KILL: every filter given must match (empty or 0: any).
struct KillClients {
  std::uint64_t caller = 0;  // who asked: closed after its reply, or skipped
  bool skipCaller = true;    // SKIPME yes (the new form's default)
  std::uint64_t id = 0;
  std::string_view type, addr, laddr, user;
};
Message encode(const KillClients& kill);
std::optional<KillClients> decodeKillClients(std::span<const std::string_view> args);

struct MonitorLine {
  std::string_view line;
};
// Client tracking's messages (session/tracking.h), by what they carry.
struct TrackingNote {
  enum class What : char {
    Keys = 'k',        // to a reader's worker: invalidate `items` for `client`, written by `other`
    Broadcast = 'b',   // the same for a BCAST subscriber: `items` in one message
    Redirected = 'r',  // to the redirect target `client`: payload items[0] of tracking client `other` on `worker`
    Broken = 'x',      // back to tracking client `client`'s worker: its redirect target is gone
    Found = 'f',       // back to tracking client `client`'s worker: its redirect target talks to `worker`
    Prefixes = 'p',    // BCAST subscriber `client` on `worker` (NOLOOP: `flag`) registers prefixes `items`
    Unprefix = 'u',    // subscriber `client` registers nothing any more
    Remember = 'm',    // the owner remembers `items` read by `client` on `worker`
  };
  What what = What::Keys;
  std::uint64_t client = 0;
  std::uint64_t other = 0;
  std::int64_t worker = -1;
  bool flag = false;  // Prefixes: NOLOOP; Redirected: sent to every worker (not finding it is no error)
  std::span<const std::string_view> items;
};
Message encode(const TrackingNote& note);
std::optional<TrackingNote> decodeTrackingNote(std::span<const std::string_view> args);
Message hasClientMessage(std::uint64_t client);
inline Message aofOffsetsRequest() { return Message(Kind::AofOffsets); }
std::optional<std::uint64_t> decodeHasClient(std::span<const std::string_view> args);

Message encode(const MonitorLine& line);
std::optional<MonitorLine> decodeMonitorLine(std::span<const std::string_view> args);
Message encode(const Deliver& deliver);
std::optional<Deliver> decodeDeliver(std::span<const std::string_view> args);

// Totals: its reply is the worker's counters (stats.h), in order.
Message totalsRequest();
Message lastIdsRequest(std::span<const std::string_view> keys);
void replyTotals(resp::Reply& reply, std::span<const std::uint64_t> counters);
// Fills `counters` from the reply (what it lacks stays 0).
void decodeTotalsReply(std::string_view reply, std::span<std::uint64_t> counters);

}  // namespace keyloop::peer
