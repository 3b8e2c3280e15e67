// FUNCTION and FCALL (Redis 7.0's functions): libraries of Lua functions
// loaded with FUNCTION LOAD ("#!lua name=<library>" then code that calls
// redis.register_function), called by name with FCALL / FCALL_RO.
//
// Every worker keeps the same libraries in its own interpreter: LOAD,
// DELETE, FLUSH and RESTORE run on all of them (the table broadcasts
// them); FCALL runs where its keys live, as EVAL does (scripts.h).
// FUNCTION DUMP is Redis's payload (RDB_OPCODE_FUNCTION2 + the library
// code per library, the RDB version, a CRC-64): dumps restore both ways
// between keyloop and redis-server.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "worker/scripting/lua_engine.h"
#include "common/result/result.h"

namespace keyloop {

struct CommandContext;

class FunctionLibraries {
 public:
  // Library and function names compare ignoring case, as in Redis.
  struct NoCase {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const;
  };
  struct Function {
    std::string library;
    LuaEngine::Registered registered;
  };
  struct Library {
    std::string code;  // as loaded, shebang included
    std::vector<std::string> functions;
  };

  FunctionLibraries() : engine_(LuaEngine::Mode::Functions) {}

  // FUNCTION LOAD: the library's name, or Redis's error (after "-").
  Result<std::string> load(std::string_view code, bool replace);
  bool remove(std::string_view library);
  void flush();
  const Function* find(std::string_view name) const;
  const std::map<std::string, Library, NoCase>& libraries() const { return libraries_; }
  const std::map<std::string, Function, NoCase>& functions() const { return functions_; }
  LuaEngine& engine() { return engine_; }

 private:
  void unlink(std::string_view library);

  LuaEngine engine_;
  std::map<std::string, Library, NoCase> libraries_;
  std::map<std::string, Function, NoCase> functions_;
};

namespace commands {
void fcall(CommandContext& ctx);
void fcallRo(CommandContext& ctx);
void functionLoad(CommandContext& ctx);
void functionDelete(CommandContext& ctx);
void functionFlush(CommandContext& ctx);
void functionList(CommandContext& ctx);
void functionDump(CommandContext& ctx);
void functionRestore(CommandContext& ctx);
void functionStats(CommandContext& ctx);
void functionKill(CommandContext& ctx);
void functionHelp(CommandContext& ctx);
}  // namespace commands

}  // namespace keyloop
