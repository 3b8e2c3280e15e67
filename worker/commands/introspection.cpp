// Server introspection: COMMAND and TIME.
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "worker/commands/commands.h"
#include "worker/execution/command_families.h"
#include "worker/execution/command_reference.h"

namespace keyloop::commands {

namespace {

std::string fullName(std::string_view parent, const CommandSpec& spec) {
  return std::string(parent) + "|" + std::string(spec.name);
}

// The subcommands COMMAND shows: those redis-server has too (DEBUG's are
// keyloop's own way of running one Redis command).
std::vector<const CommandSpec*> listedSubcommands(const CommandSpec& spec, std::string_view name) {
  std::vector<const CommandSpec*> listed;
  for (const CommandSpec& sub : spec.subcommands) {
    if (referenceOf(fullName(name, sub)) != nullptr) listed.push_back(&sub);
  }
  return listed;
}

// Every command keyloop has is one redis-server has (a test checks it):
// its entry is Redis's, with the subcommands keyloop has.
void replyCommandInfo(CommandContext& ctx, const CommandSpec& spec, std::string_view name) {
  const CommandReference* reference = referenceOf(name);
  if (reference == nullptr) return ctx.reply.nullArray();
  ctx.reply.array(10);
  ctx.reply.bulk(name);
  replayResp3(ctx.reply, reference->info);
  const std::vector<const CommandSpec*> subcommands = listedSubcommands(spec, name);
  // As Redis: an empty set when there are none, else an array.
  subcommands.empty() ? ctx.reply.set(0) : ctx.reply.array(subcommands.size());
  for (const CommandSpec* sub : subcommands) replyCommandInfo(ctx, *sub, fullName(name, *sub));
}

void replyCommandDocs(CommandContext& ctx, const CommandSpec& spec, std::string_view name) {
  const CommandReference* reference = referenceOf(name);
  const std::vector<const CommandSpec*> subcommands = listedSubcommands(spec, name);
  ctx.reply.bulk(name);
  ctx.reply.map((reference ? reference->docPairs : 0) + !subcommands.empty());
  if (reference != nullptr) replayResp3(ctx.reply, reference->docs);
  if (!subcommands.empty()) {
    ctx.reply.bulk("subcommands");
    ctx.reply.map(subcommands.size());
    for (const CommandSpec* sub : subcommands) replyCommandDocs(ctx, *sub, fullName(name, *sub));
  }
}

// A command or subcommand both keyloop and redis-server have.
const CommandSpec* findByFullName(std::string_view name) {
  if (referenceOf(name) == nullptr) return nullptr;
  const std::size_t bar = name.find('|');
  const CommandSpec* spec = findCommand(name.substr(0, bar));
  if (spec == nullptr || bar == std::string_view::npos) return spec;
  return findSubcommand(*spec, name.substr(bar + 1));
}

// COMMAND GETKEYS[ANDFLAGS] command arg...: the keys the table declares,
// with Redis's errors for what has none.
void replyKeys(CommandContext& ctx, bool withFlags) {
  const auto request = ctx.args.subspan(2);
  const ResolvedCommand resolved = resolveCommand(request);
  if (resolved.spec == nullptr) return ctx.reply.error("ERR Invalid command specified");
  const CommandSpec& spec = *resolved.spec;
  if (!spec.keys.any()) return ctx.reply.error("ERR The command has no key arguments");
  if (!arityAllows(spec, request.size())) {
    return ctx.reply.error("ERR Invalid number of arguments specified for command");
  }
  std::vector<std::pair<std::string_view, std::size_t>> keys;  // (key, key-spec group)
  forEachKey(spec, request, [&](std::size_t i, std::size_t group) {
    keys.emplace_back(request[i], group);
    return true;
  });
  if (keys.empty()) {
    // EVAL with 0 keys and the like (Redis's no-mandatory-keys flag) name none; others must.
    const CommandReference* reference = referenceOf(resolved.fullName());
    const bool optional = reference != nullptr && reference->info.find("+no_mandatory_keys\r\n") != std::string_view::npos;
    return optional ? ctx.reply.array(0) : ctx.reply.error("ERR Invalid arguments specified for command");
  }
  const std::vector<std::string_view> groups = keyFlagGroups(spec, request);
  ctx.reply.array(keys.size());
  for (const auto& [key, group] : keys) {
    if (!withFlags) {
      ctx.reply.bulk(key);
      continue;
    }
    const std::vector<std::string_view> flags =
        splitOn(flagsOfGroup(groups, group), ' ');
    ctx.reply.array(2);
    ctx.reply.bulk(key);
    ctx.reply.array(flags.size());
    for (std::string_view f : flags) ctx.reply.simple(f);
  }
}

}  // namespace

void commandGetkeys(CommandContext& ctx) { replyKeys(ctx, false); }
void commandGetkeysAndFlags(CommandContext& ctx) { replyKeys(ctx, true); }

void command(CommandContext& ctx) {
  ctx.reply.array(allCommands().size());
  for (const CommandSpec& spec : allCommands()) replyCommandInfo(ctx, spec, spec.name);
}

// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]:
// the full name of every command and subcommand COMMAND shows. keyloop
// has no modules; a command's ACL categories are Redis's (its entry).
void commandList(CommandContext& ctx) {
  enum class Filter { None, Module, Category, Pattern } filter = Filter::None;
  std::string_view argument;
  for (std::size_t i = 2; i < ctx.args.size(); ++i) {
    if (!equalsIgnoreCase(ctx.args[i], "filterby") || ctx.args.size() - 1 - i != 2) return ctx.reply.error(kSyntaxError);
    const std::string_view type = ctx.args[i + 1];
    if (equalsIgnoreCase(type, "module")) filter = Filter::Module;
    else if (equalsIgnoreCase(type, "aclcat")) filter = Filter::Category;
    else if (equalsIgnoreCase(type, "pattern")) filter = Filter::Pattern;
    else return ctx.reply.error(kSyntaxError);
    argument = ctx.args[i + 2];
    i += 2;
  }
  const std::string category = "+@" + toLower(argument) + "\r\n";
  const auto listed = [&](std::string_view name) {
    switch (filter) {
      case Filter::None: return true;
      case Filter::Module: return false;
      case Filter::Category: return referenceOf(name)->info.find(category) != std::string_view::npos;
      case Filter::Pattern: return globMatch(argument, name, /*noCase=*/true);
    }
    return false;
  };
  std::vector<std::string> names;
  for (const CommandSpec& spec : allCommands()) {
    if (referenceOf(spec.name) == nullptr) continue;
    if (listed(spec.name)) names.emplace_back(spec.name);
    for (const CommandSpec* sub : listedSubcommands(spec, spec.name)) {
      const std::string name = fullName(spec.name, *sub);
      if (listed(name)) names.push_back(name);
    }
  }
  ctx.reply.array(names.size());
  for (const std::string& name : names) ctx.reply.bulk(name);
}

void commandCount(CommandContext& ctx) { ctx.reply.integer(static_cast<long long>(allCommands().size())); }

void commandInfo(CommandContext& ctx) {
  if (ctx.args.size() == 2) return command(ctx);
  ctx.reply.array(ctx.args.size() - 2);
  for (std::size_t i = 2; i < ctx.args.size(); ++i) {
    const CommandSpec* spec = findByFullName(toLower(ctx.args[i]));
    spec ? replyCommandInfo(ctx, *spec, toLower(ctx.args[i])) : ctx.reply.nullArray();
  }
}

void commandDocs(CommandContext& ctx) {
  if (ctx.args.size() == 2) {
    ctx.reply.map(allCommands().size());
    for (const CommandSpec& spec : allCommands()) replyCommandDocs(ctx, spec, spec.name);
    return;
  }
  std::vector<std::pair<const CommandSpec*, std::string>> found;
  for (std::size_t i = 2; i < ctx.args.size(); ++i) {
    const std::string name = toLower(ctx.args[i]);
    if (const CommandSpec* spec = findByFullName(name)) found.emplace_back(spec, name);
  }
  ctx.reply.map(found.size());
  for (const auto& [spec, name] : found) replyCommandDocs(ctx, *spec, name);
}

void commandHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "(no subcommand)",
      "    Return details about all Redis commands.",
      "COUNT",
      "    Return the total number of commands in this Redis server.",
      "LIST",
      "    Return a list of all commands in this Redis server.",
      "INFO [<command-name> ...]",
      "    Return details about multiple Redis commands.",
      "    If no command names are given, documentation details for all",
      "    commands are returned.",
      "DOCS [<command-name> ...]",
      "    Return documentation details about multiple Redis commands.",
      "    If no command names are given, documentation details for all",
      "    commands are returned.",
      "GETKEYS <full-command>",
      "    Return the keys from a full Redis command.",
      "GETKEYSANDFLAGS <full-command>",
      "    Return the keys and the access flags from a full Redis command.",
      "HELP",
      "    Prints this help.",
  };
  replyHelp(ctx, kLines);
}


void time(CommandContext& ctx) {
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  ctx.reply.array(2);
  ctx.reply.bulk(std::to_string(tv.tv_sec));
  ctx.reply.bulk(std::to_string(tv.tv_usec));
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> introspectionCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kCommandSubcommands[] = {
      {.name = "count", .arity = 2, .flags = kConnection, .acl = acl::kConnection,
       .handler = commandCount},
      {.name = "docs", .arity = -2, .flags = kConnection, .acl = acl::kConnection,
       .handler = commandDocs},
      {.name = "getkeys", .arity = -4, .flags = kConnection, .acl = acl::kConnection,
       .handler = commandGetkeys},
      {.name = "getkeysandflags", .arity = -4, .flags = kConnection, .acl = acl::kConnection,
       .handler = commandGetkeysAndFlags},
      {.name = "help", .arity = 2, .flags = kConnection, .acl = acl::kConnection,
       .handler = commandHelp},
      {.name = "info", .arity = -2, .flags = kConnection, .acl = acl::kConnection,
       .handler = commandInfo},
      {.name = "list", .arity = -2, .flags = kConnection, .acl = acl::kConnection,
       .handler = commandList},
  };
  static constexpr CommandSpec kRows[] = {
      {.name = "command", .arity = -1, .flags = kConnection, .acl = acl::kConnection,
       .handler = command, .subcommands = kCommandSubcommands},
      {.name = "time", .arity = 1, .flags = kFast,
       .handler = time},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
