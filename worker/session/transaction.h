// Transactions: MULTI, EXEC, DISCARD, WATCH and UNWATCH as Redis 7.0 has
// them, for a client whose keys may live on any worker.
//
//   MULTI       opens; every command after it (but EXEC, DISCARD, MULTI,
//               WATCH, QUIT, RESET) is checked and queued (+QUEUED); one
//               refused while queueing makes EXEC answer -EXECABORT.
//   WATCH k...  each key's owner registers a watch and answers the key's
//               version (watches.h); the client keeps it.
//   EXEC        when every queued key and watched key is this worker's,
//               the check and the commands run here, one after the other
//               (nothing else runs on a worker in between); otherwise the
//               multi-owner executor (atomic.h) locks all of them first,
//               checks the versions it read while locking, runs the
//               commands against what it locked and commits. Either way a
//               watched key written, deleted, expired or flushed since
//               WATCH makes EXEC answer a null array.
//
// A command that runs on every worker (KEYS, DBSIZE, FLUSHALL, PUBLISH...)
// cannot be run against locked keys: with several workers it answers an
// error in its place in EXEC's reply (README, "What it speaks").
#pragma once

#include <span>
#include <string_view>
#include <vector>

namespace keyloop {

class Client;
class Dispatch;
struct CommandContext;
struct ResolvedCommand;

namespace transaction {

// Inside MULTI: queues the request and answers +QUEUED.
void queue(Client& client, const ResolvedCommand& command, std::span<const std::string_view> args);
// A request refused while MULTI is open: EXEC will abort.
void refused(Client& client);
// Ends the transaction and drops the watches (DISCARD, RESET, a
// disconnect).
void forget(Dispatch& dispatch, Client& client);

// The commands (command_table.h's session handlers).
void multi(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);
void exec(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);
void discard(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);
void watch(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);
void unwatch(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);
// RESET: the whole session ends (transaction, watches, subscriptions,
// name, protocol, authentication), as on a new connection.
void reset(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);

}  // namespace transaction

namespace commands {
// The peer message Exec: a transaction whose keys all live here, sent
// whole by the client's worker.
void execHere(CommandContext& ctx);
void watchKeys(CommandContext& ctx);    // the peer message Watch: [version, existed] each
void unwatchKeys(CommandContext& ctx);  // the peer message Unwatch
}  // namespace commands

}  // namespace keyloop
