// Server introspection: COMMAND and TIME.
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bit>


#include "worker/execution/command_docs.h"
#include "worker/execution/command_families.h"
#include "worker/commands/commands.h"

namespace keyloop::commands {

namespace {

void replyFlags(CommandContext& ctx, const CommandSpec& spec) {
  std::vector<std::string_view> flags;
  if (spec.flags & kWrite) flags.push_back("write");
  if (spec.flags & kReadonly) flags.push_back("readonly");
  if (spec.flags & kWrite) flags.push_back("denyoom");
  if (spec.flags & kAdmin) flags.push_back("admin");
  if (spec.flags & kNoScript) flags.push_back("noscript");
  if (spec.flags & kNoAuth) flags.push_back("no_auth");
  if (spec.flags & kFast) flags.push_back("fast");
  ctx.reply.set(flags.size());
  for (std::string_view f : flags) ctx.reply.simple(f);
}

void replyCommandInfo(CommandContext& ctx, const CommandSpec& spec, std::string_view name) {
  ctx.reply.array(10);
  ctx.reply.bulk(name);
  ctx.reply.integer(spec.arity);
  replyFlags(ctx, spec);
  ctx.reply.integer(spec.keys.first);
  ctx.reply.integer(spec.keys.last);
  ctx.reply.integer(spec.keys.step);
  const std::uint32_t categories = aclCategoriesOf(spec);
  ctx.reply.set(static_cast<std::size_t>(std::popcount(categories)));
  for (std::size_t i = 0; i < std::size(acl::kNames); ++i) {
    if (categories & (1u << i)) ctx.reply.simple("@" + std::string(acl::kNames[i]));
  }
  ctx.reply.set(0);  // tips
  ctx.reply.array(0);  // key specs: clients fall back to first/last/step
  ctx.reply.array(spec.subcommands.size());
  for (const CommandSpec& sub : spec.subcommands) {
    replyCommandInfo(ctx, sub, std::string(name) + "|" + std::string(sub.name));
  }
}

void replyCommandDocs(CommandContext& ctx, const CommandSpec& spec, std::string_view name) {
  ctx.reply.bulk(name);
  const bool hasArguments = !spec.syntax.empty();
  ctx.reply.map(3 + hasArguments + !spec.subcommands.empty());
  ctx.reply.bulk("summary");
  ctx.reply.bulk(spec.summary);
  ctx.reply.bulk("since");
  ctx.reply.bulk(spec.since);
  ctx.reply.bulk("group");
  ctx.reply.bulk(spec.group);
  if (hasArguments) {
    ctx.reply.bulk("arguments");
    replyArguments(ctx.reply, spec.syntax);
  }
  if (!spec.subcommands.empty()) {
    ctx.reply.bulk("subcommands");
    ctx.reply.map(spec.subcommands.size());
    for (const CommandSpec& sub : spec.subcommands) {
      replyCommandDocs(ctx, sub, std::string(name) + "|" + std::string(sub.name));
    }
  }
}

const CommandSpec* findByFullName(std::string_view name) {
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
  if (!arityAllows(spec, request.size())) {
    return ctx.reply.error("ERR Invalid number of arguments specified for command");
  }
  std::vector<std::pair<std::string_view, std::size_t>> keys;  // (key, key-spec group)
  forEachKey(spec, request, [&](std::size_t i, std::size_t group) {
    keys.emplace_back(request[i], group);
    return true;
  });
  if (keys.empty()) return ctx.reply.error("ERR The command has no key arguments");
  const std::vector<std::string_view> groups = keyFlagGroups(spec, request);
  ctx.reply.array(keys.size());
  for (const auto& [key, group] : keys) {
    if (!withFlags) {
      ctx.reply.bulk(key);
      continue;
    }
    const std::vector<std::string_view> flags =
        splitOn(group < groups.size() ? groups[group] : std::string_view(), ' ');
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
      "INFO [<command-name> ...]",
      "    Return details about multiple Redis commands.",
      "DOCS [<command-name> ...]",
      "    Return documentation details about multiple Redis commands.",
      "HELP",
      "    Print this help.",
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
       .handler = commandCount,
       .group = "server", .summary = "Returns a count of commands.", .since = "2.8.13"},
      {.name = "docs", .arity = -2, .flags = kConnection, .acl = acl::kConnection,
       .handler = commandDocs,
       .group = "server", .summary = "Returns documentary information about one, multiple or all commands.", .since = "7.0.0", .syntax = "[command-name...]"},
      {.name = "getkeys", .arity = -4, .flags = kConnection, .acl = acl::kConnection,
       .handler = commandGetkeys,
       .group = "server", .summary = "Extracts the key names from an arbitrary command.", .since = "2.8.13", .syntax = "command [arg...]"},
      {.name = "getkeysandflags", .arity = -4, .flags = kConnection, .acl = acl::kConnection,
       .handler = commandGetkeysAndFlags,
       .group = "server", .summary = "Extracts the key names and access flags for an arbitrary command.", .since = "7.0.0", .syntax = "command [arg...]"},
      {.name = "help", .arity = 2, .flags = kConnection, .acl = acl::kConnection,
       .handler = commandHelp,
       .group = "server", .summary = "Returns helpful text about the different subcommands.", .since = "5.0.0"},
      {.name = "info", .arity = -2, .flags = kConnection, .acl = acl::kConnection,
       .handler = commandInfo,
       .group = "server", .summary = "Returns information about one, multiple or all commands.", .since = "2.8.13", .syntax = "[command-name...]"},
  };
  static constexpr CommandSpec kRows[] = {
      {.name = "command", .arity = -1, .flags = kConnection, .acl = acl::kConnection,
       .handler = command, .subcommands = kCommandSubcommands,
       .group = "server", .summary = "Returns detailed information about all commands.", .since = "2.8.13"},
      {.name = "time", .arity = 1, .flags = kFast,
       .handler = time,
       .group = "server", .summary = "Returns the server time.", .since = "2.6.0"},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
