// LuaEngine: one worker's Lua 5.1 interpreter for EVAL (and the library
// functions of FUNCTION), with Redis 7.0's sandbox and conversions.
//
//   load(sha, body)   compiles a script and keeps it under its sha
//   run(sha, ...)     runs it with KEYS and ARGV; redis.call / redis.pcall
//                     go to the Caller, and the script's value becomes the
//                     client's reply, converted as Redis converts it
//
// The sandbox is Redis's: the globals are read only (a new global, or a
// change to one, is "Attempt to modify a readonly table"; reading a
// missing one is "Script attempted to access nonexistent global
// variable"), so are the libraries (string, table, math, cjson, bit,
// redis); no os, io, print, dofile, loadfile. Debian's Lua has no read-only
// tables (Redis patches its own copy), so globals and libraries are empty
// proxies in front of the real tables, and rawset/setmetatable refuse them.
//
// A script that runs past `busy-reply-threshold` is polled every 100,000
// instructions (the hook): run() takes a Poll that can ask it to stop.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/resp/reply.h"
#include "common/result/result.h"

struct lua_State;

namespace keyloop {

namespace lua {
struct RunState;
}

// Redis's sha1hex: 40 lower-case hex digits.
std::string sha1Hex(std::string_view data);

class LuaEngine {
 public:
  // Scripts: EVAL's interpreter. Functions: FUNCTION's, whose library
  // code runs with only redis.register_function (and log) in reach.
  enum class Mode { Scripts, Functions };
  explicit LuaEngine(Mode mode = Mode::Scripts);
  ~LuaEngine();
  LuaEngine(const LuaEngine&) = delete;
  LuaEngine& operator=(const LuaEngine&) = delete;

  // Runs one command for the script and returns its reply, encoded in
  // `protocol` (what redis.setresp chose).
  using Caller = std::function<std::string(std::span<const std::string_view> args, resp::Protocol protocol)>;
  // Called from the instruction hook; true: stop the script now
  // ("Script killed by user with SCRIPT KILL...").
  using Poll = std::function<bool()>;

  // Compiles `body`: ready under `sha` (also if it already was), or
  // Redis's error (without the leading '-').
  Status load(const std::string& sha, std::string_view body);
  bool has(std::string_view sha) const { return bodies_.contains(sha); }
  // The script's shebang flags (lua_convert.h: kCompatible without one).
  std::uint32_t flags(std::string_view sha) const;
  const std::string* body(std::string_view sha) const;
  // Drops every script (SCRIPT FLUSH): a fresh interpreter.
  void flush();
  std::size_t scripts() const { return bodies_.size(); }
  std::size_t memoryBytes() const;

  struct Run {
    std::string_view name;  // the script's sha (EVAL) or the function's name (FCALL), as errors show it
    std::span<const std::string_view> keys, args;
    Caller call;
    Poll poll;
  };
  // Runs a loaded script and writes what it returned (or its error) to `reply`.
  void run(const Run& run, resp::Reply& reply);

  // ---- Functions mode ----
  struct Registered {
    std::string name, description;  // description empty: none given
    bool hasDescription = false;
    std::uint32_t flags = 0;        // lua_convert.h's ScriptFlag bits
    int ref = 0;                    // the callback, in the registry
  };
  // Runs a library's code (after its shebang line, whose line feed it
  // keeps); the functions it registered, or Redis's error.
  Status loadLibrary(std::string_view code, std::vector<Registered>& registered);
  // Calls a registered function with (keys, args).
  void call(int ref, const Run& run, resp::Reply& reply);
  void release(int ref);

 private:
  void open();
  void close();
  void finishRun(bool failed, const lua::RunState& state, resp::Reply& reply);

  Mode mode_;
  lua_State* lua_ = nullptr;
  std::map<std::string, std::string, std::less<>> bodies_;  // sha -> body
  std::map<std::string, std::uint32_t, std::less<>> flags_;
  std::uint64_t runs_ = 0;  // a small GC step every few runs, as Redis does
};

}  // namespace keyloop
