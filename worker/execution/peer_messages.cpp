// Peer messages (see peer_messages.h): their layouts, in one place.
#include "worker/execution/peer_messages.h"

#include <array>

#include "common/resp/reply_reader.h"
#include "common/text/text.h"
#include "worker/execution/command_table.h"
#include "worker/keyspace/store.h"

namespace keyloop::peer {

namespace {

// The first argument of each kind: one control byte, its own value.
constexpr auto kKindBytes = [] {
  std::array<char, static_cast<std::size_t>(Kind::Count)> bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i);
  return bytes;
}();

// Each TrackingNote::What as a one-character argument (its own letter).
constexpr auto kTrackingWhat = [] {
  std::array<char, 128> letters{};
  for (std::size_t i = 0; i < letters.size(); ++i) letters[i] = static_cast<char>(i);
  return letters;
}();

// A Commit's ops: a one-letter tag, then the op's fields.
constexpr std::string_view kSetOp = "s", kDeleteOp = "d", kEventOp = "e";

std::optional<std::uint64_t> unsignedAt(std::span<const std::string_view> args, std::size_t at) {
  if (at >= args.size()) return std::nullopt;
  const auto n = parseInteger(args[at]);
  if (!n || *n < 0) return std::nullopt;
  return static_cast<std::uint64_t>(*n);
}

bool is(std::span<const std::string_view> args, Kind kind, std::size_t atLeast) {
  return args.size() >= atLeast && kindOf(args[0]) == kind;
}

// Walks a Commit's ops from `at`; `op(op, first field's index)`; stops at
// a malformed one.
template <typename Visit>
void forEachCommitOp(std::span<const std::string_view> args, Visit visit) {
  for (std::size_t i = 2; i < args.size();) {
    const std::string_view tag = args[i];
    if (tag == kSetOp && i + 3 < args.size()) {
      visit(CommitOp::Op::Set, i + 1);
      i += 4;
    } else if (tag == kDeleteOp && i + 1 < args.size()) {
      visit(CommitOp::Op::Delete, i + 1);
      i += 2;
    } else if (tag == kEventOp && i + 2 < args.size()) {
      visit(CommitOp::Op::Event, i + 1);
      i += 3;
    } else {
      return;
    }
  }
}

// Walks an Exec: `watched(key index)` for each watch, `command(first,
// argc)` for each command; false if malformed.
template <typename Watched, typename Command>
bool forEachExecPart(std::span<const std::string_view> args, Watched watched, Command command) {
  std::size_t at = 1;
  const auto watches = unsignedAt(args, at++);
  if (!watches) return false;
  for (std::uint64_t i = 0; i < *watches; ++i, at += 4) {
    if (at + 4 > args.size()) return false;
    watched(at);
  }
  const auto commands = unsignedAt(args, at++);
  if (!commands) return false;
  for (std::uint64_t i = 0; i < *commands; ++i) {
    const auto argc = unsignedAt(args, at++);
    if (!argc || *argc == 0 || at + *argc > args.size()) return false;
    command(at, static_cast<std::size_t>(*argc));
    at += static_cast<std::size_t>(*argc);
  }
  return at == args.size();
}

}  // namespace

Kind kindOf(std::string_view first) {
  if (first.size() != 1) return Kind::None;
  const auto byte = static_cast<unsigned char>(first[0]);
  return byte < static_cast<unsigned char>(Kind::Count) ? static_cast<Kind>(byte) : Kind::None;
}

Message::Message(Kind kind) {
  args_.push_back(std::string_view(&kKindBytes[static_cast<std::size_t>(kind)], 1));
}

// ---- a transaction across workers ------------------------------------------

Message encode(const Lock& lock) {
  Message m(Kind::Lock);
  m.add(lock.transaction);
  m.add(lock.keys);
  return m;
}

std::optional<Lock> decodeLock(std::span<const std::string_view> args) {
  if (!is(args, Kind::Lock, 3)) return std::nullopt;
  return Lock{args[1], args.subspan(2)};
}

void replyLocked(resp::Reply& reply, const LockedKey& key) {
  reply.array(key.image ? 3 : 1);
  if (key.image) {
    reply.bulk(*key.image);
    reply.integer(key.expireAt);
  }
  reply.integer(static_cast<long long>(key.version));
}

std::optional<std::vector<LockedKey>> decodeLockReply(std::string_view reply, std::size_t keys) {
  if (resp::isError(reply)) return std::nullopt;
  const auto states = resp::replyElements(reply);
  if (states.size() != keys) return std::nullopt;
  std::vector<LockedKey> locked;
  for (std::string_view state : states) {
    const auto parts = resp::replyElements(state);
    if (parts.size() != 1 && parts.size() != 3) return std::nullopt;
    LockedKey& key = locked.emplace_back();
    key.version = static_cast<std::uint64_t>(resp::replyInteger(parts.back()).value_or(0));
    if (parts.size() == 3) {
      key.image = resp::replyBulk(parts[0]).value_or("");
      key.expireAt = resp::replyInteger(parts[1]).value_or(kNoExpiry);
    }
  }
  return locked;
}

Message commitOf(std::string_view transaction) {
  Message m(Kind::Commit);
  m.add(transaction);
  return m;
}

void addSet(Message& commit, std::string_view key, std::string_view image, std::int64_t expireAt) {
  commit.add(kSetOp);
  commit.add(key);
  commit.add(image);
  commit.addNumber(expireAt);
}

void addDelete(Message& commit, std::string_view key) {
  commit.add(kDeleteOp);
  commit.add(key);
}

void addEvent(Message& commit, std::string_view channel, std::string_view message) {
  commit.add(kEventOp);
  commit.add(channel);
  commit.add(message);
}

std::optional<Commit> decodeCommit(std::span<const std::string_view> args) {
  if (!is(args, Kind::Commit, 2)) return std::nullopt;
  Commit commit{args[1], {}};
  forEachCommitOp(args, [&](CommitOp::Op op, std::size_t at) {
    CommitOp& out = commit.ops.emplace_back(CommitOp{op, args[at], {}, 0});
    if (op == CommitOp::Op::Delete) return;
    out.value = args[at + 1];
    if (op == CommitOp::Op::Set) out.expireAt = parseInteger(args[at + 2]).value_or(kNoExpiry);
  });
  return commit;
}

void commitKeyIndices(std::span<const std::string_view> args, std::vector<std::size_t>& indices) {
  forEachCommitOp(args, [&](CommitOp::Op op, std::size_t at) {
    if (op != CommitOp::Op::Event) indices.push_back(at);
  });
}

Message execOf(std::span<const WatchCheck> watches, std::size_t commands) {
  Message m(Kind::Exec);
  m.addNumber(static_cast<std::int64_t>(watches.size()));
  for (const WatchCheck& w : watches) {
    m.add(w.key);
    m.addNumber(static_cast<std::int64_t>(w.version));
    m.add(w.existed ? "1" : "0");
    m.addNumber(w.db);
  }
  m.addNumber(static_cast<std::int64_t>(commands));
  return m;
}

void addCommand(Message& exec, std::span<const std::string> args) {
  exec.addNumber(static_cast<std::int64_t>(args.size()));
  exec.add(args);
}

std::optional<Exec> decodeExec(std::span<const std::string_view> args) {
  if (!is(args, Kind::Exec, 3)) return std::nullopt;
  Exec exec;
  const bool wellFormed = forEachExecPart(
      args,
      [&](std::size_t k) {
        exec.watches.push_back(
            WatchCheck{args[k], static_cast<std::uint64_t>(parseInteger(args[k + 1]).value_or(0)),
                       args[k + 2] == "1", static_cast<int>(parseInteger(args[k + 3]).value_or(-1))});
      },
      [&](std::size_t first, std::size_t argc) {
        exec.commands.push_back(args.subspan(first, argc));
      });
  if (!wellFormed) return std::nullopt;
  return exec;
}

void execKeyIndices(std::span<const std::string_view> args, std::vector<std::size_t>& indices) {
  forEachExecPart(
      args, [&](std::size_t key) { indices.push_back(key); },
      [&](std::size_t first, std::size_t argc) {
        const auto command = args.subspan(first, argc);
        const ResolvedCommand resolved = resolveCommand(command);
        if (resolved.spec == nullptr) return;
        forEachKey(*resolved.spec, command, [&](std::size_t i, std::size_t) {
          indices.push_back(first + i);
          return true;
        });
      });
}

Message keysMessage(Kind kind, std::span<const std::string> keys) {
  Message m(kind);
  m.add(keys);
  return m;
}

std::span<const std::string_view> decodeKeys(std::span<const std::string_view> args) {
  return args.subspan(1);
}

void replyWatched(resp::Reply& reply, const WatchedState& key) {
  reply.array(2);
  reply.integer(static_cast<long long>(key.version));
  reply.integer(key.existed ? 1 : 0);
}

std::vector<WatchedState> decodeWatchReply(std::string_view reply, std::size_t keys,
                                           std::uint64_t unwatched) {
  const auto answers = resp::replyElements(reply);
  std::vector<WatchedState> states(keys, WatchedState{unwatched, false});
  for (std::size_t i = 0; i < keys && i < answers.size(); ++i) {
    const auto parts = resp::replyElements(answers[i]);
    if (parts.size() != 2) continue;
    states[i].version = static_cast<std::uint64_t>(resp::replyInteger(parts[0]).value_or(0));
    states[i].existed = resp::replyInteger(parts[1]).value_or(0) != 0;
  }
  return states;
}

// ---- a blocked client --------------------------------------------------------

Message encode(const Block& block) {
  Message m(Kind::Block);
  m.addNumber(static_cast<std::int64_t>(block.wait));
  m.addNumber(block.worker);
  m.add(block.protocol == resp::Protocol::Resp3 ? "3" : "2");
  m.addNumber(block.waitsFor);
  m.addNumber(static_cast<std::int64_t>(block.keys.size()));
  m.add(block.keys);
  m.add(block.command);
  return m;
}

std::optional<Block> decodeBlock(std::span<const std::string_view> args) {
  // kind wait worker protocol waits-for n key... command...
  if (!is(args, Kind::Block, 8)) return std::nullopt;
  const auto wait = unsignedAt(args, 1), worker = unsignedAt(args, 2),
             waitsFor = unsignedAt(args, 4), n = unsignedAt(args, 5);
  if (!wait || !worker || !waitsFor || !n || *n < 1 || args.size() < 6 + *n + 1)
    return std::nullopt;
  const auto count = static_cast<std::size_t>(*n);
  return Block{*wait,
               static_cast<int>(*worker),
               args[3] == "3" ? resp::Protocol::Resp3 : resp::Protocol::Resp2,
               static_cast<std::uint8_t>(*waitsFor),
               args.subspan(6, count),
               args.subspan(6 + count)};
}

Message waitMessage(Kind kind, std::uint64_t wait) {
  Message m(kind);
  m.addNumber(static_cast<std::int64_t>(wait));
  return m;
}

std::optional<std::uint64_t> decodeWait(std::span<const std::string_view> args) {
  return unsignedAt(args, 1);
}

Message encode(const Served& served) {
  Message m = waitMessage(Kind::Served, served.wait);
  m.add(served.reply);
  return m;
}

std::optional<Served> decodeServed(std::span<const std::string_view> args) {
  const auto wait = unsignedAt(args, 1);
  if (!is(args, Kind::Served, 3) || !wait) return std::nullopt;
  return Served{*wait, args[2]};
}

Message encode(const Revoke& revoke) {
  Message m(Kind::Revoke);
  m.add(revoke.transaction);
  return m;
}

std::optional<Revoke> decodeRevoke(std::span<const std::string_view> args) {
  if (!is(args, Kind::Revoke, 2)) return std::nullopt;
  return Revoke{args[1]};
}

// ---- shared knowledge ----------------------------------------------------------

Message encode(const ScriptLoad& load) {
  Message m(Kind::ScriptLoad);
  m.add(load.body);
  return m;
}

std::optional<ScriptLoad> decodeScriptLoad(std::span<const std::string_view> args) {
  if (!is(args, Kind::ScriptLoad, 2)) return std::nullopt;
  return ScriptLoad{args[1]};
}

Message encode(const Deliver& deliver) {
  Message m(Kind::Deliver);
  m.add(deliver.channel);
  m.add(deliver.message);
  return m;
}

std::optional<Deliver> decodeDeliver(std::span<const std::string_view> args) {
  if (!is(args, Kind::Deliver, 3)) return std::nullopt;
  return Deliver{args[1], args[2]};
}

Message encode(const KillClients& kill) {
  Message m(Kind::KillClients);
  m.addNumber(static_cast<std::int64_t>(kill.caller));
  m.add(kill.skipCaller ? "1" : "0");
  m.addNumber(static_cast<std::int64_t>(kill.id));
  m.add(kill.type);
  m.add(kill.addr);
  m.add(kill.laddr);
  m.add(kill.user);
  return m;
}

std::optional<KillClients> decodeKillClients(std::span<const std::string_view> args) {
  const auto caller = unsignedAt(args, 1);
  const auto id = unsignedAt(args, 3);
  if (!is(args, Kind::KillClients, 8) || !caller || !id) return std::nullopt;
  return KillClients{*caller, args[2] == "1", *id, args[4], args[5], args[6], args[7]};
}

Message encode(const MonitorLine& line) {
  Message m(Kind::MonitorLine);
  m.add(line.line);
  return m;
}

std::optional<MonitorLine> decodeMonitorLine(std::span<const std::string_view> args) {
  if (!is(args, Kind::MonitorLine, 2)) return std::nullopt;
  return MonitorLine{args[1]};
}

Message encode(const TrackingNote& note) {
  Message m(Kind::Tracking);
  m.add(std::string_view(&kTrackingWhat[static_cast<unsigned char>(note.what)], 1));
  m.addNumber(static_cast<std::int64_t>(note.client));
  m.addNumber(static_cast<std::int64_t>(note.other));
  m.addNumber(note.worker);
  m.add(note.flag ? "1" : "0");
  m.add(note.items);
  return m;
}

std::optional<TrackingNote> decodeTrackingNote(std::span<const std::string_view> args) {
  if (!is(args, Kind::Tracking, 6) || args[1].size() != 1) return std::nullopt;
  const auto client = unsignedAt(args, 2), other = unsignedAt(args, 3);
  const auto worker = parseInteger(args[4]);
  if (!client || !other || !worker) return std::nullopt;
  using What = TrackingNote::What;
  const What what = static_cast<What>(args[1][0]);
  switch (what) {
    case What::Keys: case What::Broadcast: case What::Redirected: case What::Broken: case What::Found:
    case What::Prefixes: case What::Unprefix: case What::Remember:
      break;
    default:
      return std::nullopt;
  }
  if (what == What::Redirected && args.size() != 7) return std::nullopt;
  return TrackingNote{what, *client, *other, *worker, args[5] == "1", args.subspan(6)};
}

Message hasClientMessage(std::uint64_t client) {
  Message m(Kind::HasClient);
  m.addNumber(static_cast<std::int64_t>(client));
  return m;
}

std::optional<std::uint64_t> decodeHasClient(std::span<const std::string_view> args) {
  if (!is(args, Kind::HasClient, 2)) return std::nullopt;
  return unsignedAt(args, 1);
}

Message totalsRequest() { return Message(Kind::Totals); }

Message barrierMessage(BarrierStep step) {
  Message m(Kind::Barrier);
  m.addNumber(static_cast<std::int64_t>(step));
  return m;
}

std::optional<BarrierStep> decodeBarrier(std::span<const std::string_view> args) {
  if (!is(args, Kind::Barrier, 2)) return std::nullopt;
  const auto step = parseInteger(args[1]);
  if (!step || *step < 0 || *step > static_cast<long long>(BarrierStep::Release)) return std::nullopt;
  return static_cast<BarrierStep>(*step);
}

Message lastIdsRequest(std::span<const std::string_view> keys) {
  Message m(Kind::LastIds);
  m.add(keys);
  return m;
}

void replyTotals(resp::Reply& reply, std::span<const std::uint64_t> counters) {
  reply.array(counters.size());
  for (std::uint64_t value : counters) reply.integer(static_cast<long long>(value));
}

void decodeTotalsReply(std::string_view reply, std::span<std::uint64_t> counters) {
  const auto values = resp::replyElements(reply);
  for (std::size_t i = 0; i < values.size() && i < counters.size(); ++i) {
    counters[i] = static_cast<std::uint64_t>(resp::replyInteger(values[i]).value_or(0));
  }
}

}  // namespace keyloop::peer
