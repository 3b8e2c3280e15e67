// The command table: what keyloop implements, declared in one place (name,
// arity, flags, key positions, handler), like Redis's commands.def.
//
// Arity follows Redis: N means exactly N arguments including the name, -N
// means at least N. A container command (CLIENT, CONFIG, COMMAND) lists its
// subcommands, which have arities of their own ("client|setname").
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/resp/reply.h"
#include "worker/stats.h"

namespace keyloop {

class Server;
class Client;
class Store;

struct CommandContext {
  Server& server;
  Client* client;  // null when a peer worker forwarded the command
  resp::Reply& reply;
  Store& store;
  std::span<const std::string_view> args;
  std::int64_t nowMs;
  // INFO fanned out over all workers: each worker's stats, by slot (empty:
  // this worker only).
  std::span<const ServerStats> workerStats = {};
};

using CommandHandler = void (*)(CommandContext&);

enum CommandFlag : std::uint32_t {
  kWrite = 1u << 0,
  kReadonly = 1u << 1,
  kFast = 1u << 2,
  kNoAuth = 1u << 3,    // allowed before AUTH
  kAdmin = 1u << 4,
  kConnection = 1u << 5,
  kInternal = 1u << 6,  // only for peer workers; clients see "unknown command"
};

struct CommandSpec {
  std::string_view name;  // lower case
  int arity;
  std::uint32_t flags;
  int firstKey, lastKey, keyStep;
  std::string_view group;    // COMMAND DOCS group
  std::string_view summary;  // COMMAND DOCS summary
  std::string_view since;
  // Arguments in a compact notation that COMMAND DOCS expands for clients
  // (redis-cli builds its hints from it): `key value [NX|XX] [EX:seconds]`,
  // `(key value)...`; see command_docs.h.
  std::string_view syntax;
  CommandHandler handler;
  std::span<const CommandSpec> subcommands = {};
};

// True if `test` holds for any key argument of the command (Redis's
// first/last/step key positions; lastKey -1 = through the last argument).
template <typename Test>
bool anyKey(const CommandSpec& spec, std::span<const std::string_view> args, Test test) {
  if (spec.firstKey <= 0) return false;
  const std::size_t last = spec.lastKey < 0 ? args.size() - 1 : static_cast<std::size_t>(spec.lastKey);
  for (std::size_t i = static_cast<std::size_t>(spec.firstKey); i <= last && i < args.size();
       i += static_cast<std::size_t>(spec.keyStep)) {
    if (test(args[i])) return true;
  }
  return false;
}

// Case-insensitive; nullptr when unknown.
const CommandSpec* findCommand(std::string_view name);
const CommandSpec* findSubcommand(const CommandSpec& container, std::string_view name);
// The commands clients can see (COMMAND, COMMAND DOCS), internal ones left out.
std::span<const CommandSpec> allCommands();
// Every top-level command, internal ones included, and the position of one
// in it: keyloop_commands_total counts by position (shared_metrics.h).
std::span<const CommandSpec> commandTable();
std::size_t commandIndex(const CommandSpec& topLevel);

}  // namespace keyloop
