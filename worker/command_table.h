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

namespace keyloop {

class Server;
class Client;
class Store;

struct CommandContext {
  Server& server;
  Client& client;
  resp::Reply& reply;
  Store& store;
  std::span<const std::string_view> args;
  std::int64_t nowMs;
};

using CommandHandler = void (*)(CommandContext&);

enum CommandFlag : std::uint32_t {
  kWrite = 1u << 0,
  kReadonly = 1u << 1,
  kFast = 1u << 2,
  kNoAuth = 1u << 3,    // allowed before AUTH
  kAdmin = 1u << 4,
  kConnection = 1u << 5,
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

// Case-insensitive; nullptr when unknown.
const CommandSpec* findCommand(std::string_view name);
const CommandSpec* findSubcommand(const CommandSpec& container, std::string_view name);
std::span<const CommandSpec> allCommands();

}  // namespace keyloop
