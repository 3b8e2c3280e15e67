#include "worker/scripting/functions.h"
#include "worker/execution/command_families.h"

#include "worker/commands/commands.h"
#include "worker/persistence/dump.h"
#include "worker/persistence/value_codec.h"
#include "worker/scripting/lua_convert.h"
#include "worker/scripting/script_run.h"

namespace keyloop {

namespace {

constexpr char kFunctionOpcode = static_cast<char>(245);  // RDB_OPCODE_FUNCTION2
constexpr std::string_view kBadName =
    "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

struct Metadata {
  std::string engine, name;
  std::size_t codeAt = 0;  // where the code starts: the shebang's line feed
};

// Redis's functionExtractLibMetaData: "#!<engine> name=<library>".
Status parseMetadata(std::string_view code, Metadata& md) {
  if (code.substr(0, 2) != "#!") return fail("ERR Missing library metadata");
  const std::size_t end = code.find('\n');
  if (end == std::string_view::npos) return fail("ERR Invalid library metadata");
  md.codeAt = end;
  // Split as sdssplitargs does: spaces apart, quotes ("..." or '...')
  // grouping and dropped.
  std::vector<std::string> parts;
  const std::string_view line = code.substr(0, end);
  for (std::size_t at = 0; at < line.size();) {
    while (at < line.size() && std::isspace(static_cast<unsigned char>(line[at]))) ++at;
    if (at >= line.size()) break;
    std::string part;
    char quote = 0;
    for (; at < line.size() && (quote != 0 || !std::isspace(static_cast<unsigned char>(line[at]))); ++at) {
      const char c = line[at];
      if (quote == 0 && (c == '"' || c == '\'')) quote = c;
      else if (c == quote) quote = 0;
      else part += c;
    }
    if (quote != 0) return fail("ERR Invalid library metadata");
    parts.push_back(std::move(part));
  }
  if (parts.empty()) return fail("ERR Invalid library metadata");
  md.engine = parts[0].substr(2);
  bool named = false;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].size() >= 5 && equalsIgnoreCase(parts[i].substr(0, 5), "name=")) {
      if (named) return fail("ERR Invalid metadata value, name argument was given multiple times");
      md.name = parts[i].substr(5);
      named = true;
      continue;
    }
    return fail("ERR Invalid metadata value given: " + std::string(parts[i]));
  }
  if (!named) return fail("ERR Library name was not given");
  return {};
}

bool validName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

}  // namespace

bool FunctionLibraries::NoCase::operator()(std::string_view a, std::string_view b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) < std::tolower(static_cast<unsigned char>(y));
  });
}

Result<std::string> FunctionLibraries::load(std::string_view code, bool replace) {
  Metadata md;
  if (Status parsed = parseMetadata(code, md); !parsed) return fail(parsed.error());
  if (!validName(md.name)) return fail(std::string(kBadName));
  if (!equalsIgnoreCase(md.engine, "lua")) return fail("ERR Engine '" + md.engine + "' not found");
  if (libraries_.contains(md.name) && !replace) return fail("ERR Library '" + md.name + "' already exists");
  std::vector<LuaEngine::Registered> registered;
  if (Status loaded = engine_.loadLibrary(code.substr(md.codeAt), registered); !loaded) return fail(loaded.error());
  auto drop = [&] {
    for (const auto& f : registered) engine_.release(f.ref);
  };
  if (registered.empty()) return fail("ERR No functions registered");
  for (const auto& f : registered) {
    auto it = functions_.find(f.name);
    if (it != functions_.end() && it->second.library != md.name) {
      drop();
      return fail("ERR Function " + f.name + " already exists");
    }
  }
  unlink(md.name);
  Library& library = libraries_[md.name];
  library.code.assign(code);
  for (auto& f : registered) {
    const std::string name = f.name;
    library.functions.push_back(name);
    functions_[name] = Function{md.name, std::move(f)};
  }
  return md.name;
}

void FunctionLibraries::unlink(std::string_view name) {
  auto it = libraries_.find(name);
  if (it == libraries_.end()) return;
  for (const std::string& f : it->second.functions) {
    if (auto fn = functions_.find(f); fn != functions_.end()) {
      engine_.release(fn->second.registered.ref);
      functions_.erase(fn);
    }
  }
  libraries_.erase(it);
}

bool FunctionLibraries::remove(std::string_view library) {
  if (!libraries_.contains(library)) return false;
  unlink(library);
  return true;
}

void FunctionLibraries::flush() {
  while (!libraries_.empty()) unlink(libraries_.begin()->first);
}

const FunctionLibraries::Function* FunctionLibraries::find(std::string_view name) const {
  auto it = functions_.find(name);
  return it == functions_.end() ? nullptr : &it->second;
}

namespace commands {

namespace {

FunctionLibraries* librariesOrReply(CommandContext& ctx) {
  FunctionLibraries* libraries = ctx.worker.functions();
  if (libraries == nullptr) ctx.reply.error("ERR functions are not available");
  return libraries;
}

// FCALL's writesFor (command_table.h): a function registered with
// no-writes does not write (Redis's fcallGetCommandFlags); an unknown one may.
bool fcallWrites(WorkerServices& worker, std::span<const std::string_view> args) {
  const FunctionLibraries* libraries = worker.functions();
  const FunctionLibraries::Function* f = libraries != nullptr && args.size() > 1 ? libraries->find(args[1]) : nullptr;
  return f == nullptr || !(f->registered.flags & lua::kNoWrites);
}

void fcallGeneric(CommandContext& ctx, bool readOnlyCommand) {
  FunctionLibraries* libraries = librariesOrReply(ctx);
  if (libraries == nullptr) return;
  const FunctionLibraries::Function* f = libraries->find(ctx.args[1]);
  if (f == nullptr) return ctx.reply.error("ERR Function not found");
  const auto numkeys = numkeysOrReply(ctx, "ERR Bad number of keys provided");
  if (!numkeys) return;
  const std::uint32_t flags = f->registered.flags;
  if (!flagsAllowOrReply(ctx, flags, readOnlyCommand)) return;
  const int ref = f->registered.ref;
  runWithCalls(ctx, ScriptCall{readOnlyCommand || (flags & lua::kNoWrites), /*function=*/true, false,
                               f->registered.name, ctx.args},
               ctx.args.subspan(3, *numkeys), ctx.args.subspan(3 + *numkeys),
               [&](const LuaEngine::Run& run) { libraries->engine().call(ref, run, ctx.reply); });
}

}  // namespace

void fcall(CommandContext& ctx) { fcallGeneric(ctx, false); }
void fcallRo(CommandContext& ctx) { fcallGeneric(ctx, true); }

void functionLoad(CommandContext& ctx) {
  FunctionLibraries* libraries = librariesOrReply(ctx);
  if (libraries == nullptr) return;
  bool replace = false;
  std::size_t at = 2;
  for (; at + 1 < ctx.args.size(); ++at) {
    if (!equalsIgnoreCase(ctx.args[at], "replace")) {
      return ctx.reply.error("ERR Unknown option given: " + std::string(ctx.args[at]));
    }
    replace = true;
  }
  if (at >= ctx.args.size()) return ctx.reply.error("ERR Function code is missing");
  const auto name = libraries->load(ctx.args[at], replace);
  if (!name) return ctx.reply.error(name.error());
  ctx.reply.bulk(*name);
}

void functionDelete(CommandContext& ctx) {
  FunctionLibraries* libraries = librariesOrReply(ctx);
  if (libraries == nullptr) return;
  if (!libraries->remove(ctx.args[2])) return ctx.reply.error("ERR Library not found");
  ctx.reply.ok();
}

void functionFlush(CommandContext& ctx) {
  FunctionLibraries* libraries = librariesOrReply(ctx);
  if (libraries == nullptr) return;
  if (ctx.args.size() > 3) return ctx.reply.error(subcommandSyntaxError("flush", "FUNCTION"));
  if (ctx.args.size() == 3 && !isFlushMode(ctx.args[2])) {
    return ctx.reply.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
  }
  libraries->flush();
  ctx.reply.ok();
}

void functionList(CommandContext& ctx) {
  FunctionLibraries* libraries = librariesOrReply(ctx);
  if (libraries == nullptr) return;
  bool withCode = false;
  std::optional<std::string_view> pattern;
  for (std::size_t i = 2; i < ctx.args.size(); ++i) {
    if (!withCode && equalsIgnoreCase(ctx.args[i], "withcode")) {
      withCode = true;
    } else if (!pattern && equalsIgnoreCase(ctx.args[i], "libraryname")) {
      if (i + 1 >= ctx.args.size()) return ctx.reply.error("ERR library name argument was not given");
      pattern = ctx.args[++i];
    } else {
      return ctx.reply.error("ERR Unknown argument " + std::string(ctx.args[i]));
    }
  }
  std::vector<const std::pair<const std::string, FunctionLibraries::Library>*> shown;
  for (const auto& entry : libraries->libraries()) {
    if (!pattern || globMatch(*pattern, entry.first, /*noCase=*/true)) shown.push_back(&entry);
  }
  ctx.reply.array(shown.size());
  for (const auto* entry : shown) {
    const auto& [name, library] = *entry;
    ctx.reply.map(withCode ? 4 : 3);
    ctx.reply.bulk("library_name");
    ctx.reply.bulk(name);
    ctx.reply.bulk("engine");
    ctx.reply.bulk("LUA");
    ctx.reply.bulk("functions");
    ctx.reply.array(library.functions.size());
    for (const std::string& fname : library.functions) {
      const LuaEngine::Registered& f = libraries->find(fname)->registered;
      ctx.reply.map(3);
      ctx.reply.bulk("name");
      ctx.reply.bulk(f.name);
      ctx.reply.bulk("description");
      f.hasDescription ? ctx.reply.bulk(f.description) : ctx.reply.null();
      ctx.reply.bulk("flags");
      const auto names = lua::flagNames(f.flags);
      ctx.reply.set(names.size());
      for (std::string_view n : names) ctx.reply.simple(n);
    }
    if (withCode) {
      ctx.reply.bulk("library_code");
      ctx.reply.bulk(library.code);
    }
  }
}

void functionDump(CommandContext& ctx) {
  FunctionLibraries* libraries = librariesOrReply(ctx);
  if (libraries == nullptr) return;
  std::string body;
  for (const auto& [name, library] : libraries->libraries()) {
    body.push_back(kFunctionOpcode);
    rdb::appendRdbString(body, library.code);
  }
  ctx.reply.bulk(rdb::sealPayload(std::move(body)));
}

void functionRestore(CommandContext& ctx) {
  FunctionLibraries* libraries = librariesOrReply(ctx);
  if (libraries == nullptr) return;
  enum class Policy { Append, Replace, Flush } policy = Policy::Append;
  if (ctx.args.size() > 4) return ctx.reply.error(subcommandSyntaxError("restore", "FUNCTION"));
  if (ctx.args.size() == 4) {
    if (equalsIgnoreCase(ctx.args[3], "append")) policy = Policy::Append;
    else if (equalsIgnoreCase(ctx.args[3], "replace")) policy = Policy::Replace;
    else if (equalsIgnoreCase(ctx.args[3], "flush")) policy = Policy::Flush;
    else return ctx.reply.error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
  }
  const auto value = rdb::verifiedValue(ctx.args[2]);
  if (!value) return ctx.reply.error("ERR DUMP payload version or checksum are wrong");
  std::string_view in = *value;
  std::vector<std::string> codes;
  while (!in.empty()) {
    if (in[0] != kFunctionOpcode) return ctx.reply.error("ERR given type is not a function");
    in.remove_prefix(1);
    auto code = rdb::readRdbString(in);
    if (!code) return ctx.reply.error("ERR can not read data type");
    codes.push_back(std::move(*code));
  }
  if (policy == Policy::Append) {
    for (const std::string& code : codes) {
      Metadata md;
      if (parseMetadata(code, md) && libraries->libraries().contains(md.name)) {
        return ctx.reply.error("ERR Library " + md.name + " already exists");
      }
    }
  }
  if (policy == Policy::Flush) libraries->flush();
  for (const std::string& code : codes) {
    if (auto loaded = libraries->load(code, policy != Policy::Append); !loaded) return ctx.reply.error(loaded.error());
  }
  ctx.reply.ok();
}

void functionStats(CommandContext& ctx) {
  FunctionLibraries* libraries = librariesOrReply(ctx);
  if (libraries == nullptr) return;
  long long ms = 0;
  const ScriptCall* running = ctx.worker.runningScript(&ms);
  if (running != nullptr && !running->function) {
    return ctx.reply.error("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.");
  }
  ctx.reply.map(2);
  ctx.reply.bulk("running_script");
  if (running == nullptr) {
    ctx.reply.null();
  } else {
    ctx.reply.map(3);
    ctx.reply.bulk("name");
    ctx.reply.bulk(running->name);
    ctx.reply.bulk("command");
    ctx.reply.array(running->command.size());
    for (std::string_view a : running->command) ctx.reply.bulk(a);
    ctx.reply.bulk("duration_ms");
    ctx.reply.integer(ms);
  }
  ctx.reply.bulk("engines");
  ctx.reply.map(1);
  ctx.reply.bulk("LUA");
  ctx.reply.map(2);
  ctx.reply.bulk("libraries_count");
  ctx.reply.integer(static_cast<long long>(libraries->libraries().size()));
  ctx.reply.bulk("functions_count");
  ctx.reply.integer(static_cast<long long>(libraries->functions().size()));
}

void functionKill(CommandContext& ctx) { replyKill(ctx, /*eval=*/false); }

void functionHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "LOAD [REPLACE] <FUNCTION CODE>",
      "    Create a new library with the given library name and code.",
      "DELETE <LIBRARY NAME>",
      "    Delete the given library.",
      "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
      "    Return general information on all the libraries:",
      "    * Library name",
      "    * The engine used to run the Library",
      "    * Library description",
      "    * Functions list",
      "    * Library code (if WITHCODE is given)",
      "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
      "STATS",
      "    Return information about the current function running:",
      "    * Function name",
      "    * Command used to run the function",
      "    * Duration in MS that the function is running",
      "    If no function is running, return nil",
      "    In addition, returns a list of available engines.",
      "KILL",
      "    Kill the current running function.",
      "FLUSH [ASYNC|SYNC]",
      "    Delete all the libraries.",
      "    When called without the optional mode argument, the behavior is determined by the",
      "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
      "    * ASYNC: Asynchronously flush the libraries.",
      "    * SYNC: Synchronously flush the libraries.",
      "DUMP",
      "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
      "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
      "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
      "    control how to handle existing libraries (default APPEND):",
      "    * FLUSH: delete all existing libraries.",
      "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
      "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
      "      libraries with the new libraries (notice that even on this option there is a chance of failure",
      "      in case of functions name collision with another library).",
      "HELP",
      "    Prints this help."};
  replyHelp(ctx, kLines);
}

}  // namespace commands

}  // namespace keyloop

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> functionCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kFunctionSubcommands[] = {
      {.name = "delete", .arity = 3, .flags = kNoScript | kWrite, .acl = acl::kScripting,
       .cross = CrossWorker::BroadcastSame, .handler = functionDelete},
      {.name = "dump", .arity = 2, .flags = kNoScript, .acl = acl::kScripting,
       .handler = functionDump},
      {.name = "flush", .arity = -2, .flags = kNoScript | kWrite, .acl = acl::kScripting,
       .cross = CrossWorker::BroadcastSame, .handler = functionFlush},
      {.name = "help", .arity = 2, .flags = 0, .acl = acl::kScripting,
       .handler = functionHelp},
      {.name = "kill", .arity = 2, .flags = kNoScript | kAllowBusy, .acl = acl::kScripting,
       .cross = CrossWorker::BroadcastKill, .handler = functionKill},
      {.name = "list", .arity = -2, .flags = kNoScript, .acl = acl::kScripting,
       .handler = functionList},
      {.name = "load", .arity = -3, .flags = kNoScript | kWrite, .acl = acl::kScripting,
       .cross = CrossWorker::BroadcastSame, .handler = functionLoad},
      {.name = "restore", .arity = -3, .flags = kNoScript | kWrite, .acl = acl::kScripting,
       .cross = CrossWorker::BroadcastSame, .handler = functionRestore},
      {.name = "stats", .arity = 2, .flags = kNoScript | kAllowBusy, .acl = acl::kScripting,
       .handler = functionStats},
  };
  static constexpr CommandSpec kRows[] = {
      {.name = "fcall", .arity = -3, .flags = kNoScript | kMayWrite, .acl = acl::kScripting,
       .keys = {.numkeysAt = 2}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access update", .handler = fcall, .writesFor = fcallWrites},
      {.name = "fcall_ro", .arity = -3, .flags = kNoScript | kReadonly, .acl = acl::kScripting,
       .keys = {.numkeysAt = 2}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RO access", .handler = fcallRo},
      {.name = "function", .arity = -2, .flags = 0,
       .subcommands = kFunctionSubcommands},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
