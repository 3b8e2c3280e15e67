#include "worker/scripting/lua_engine.h"

extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <lua-bitop.h>
#include <lua-cjson.h>
}

#include <cctype>
#include <chrono>
#include <optional>
#include <cstring>
#include <vector>

#include "worker/scripting/lua_convert.h"
#include "worker/scripting/lua_libraries.h"
#include "worker/scripting/lua_sandbox.h"
#include "worker/scripting/redis_api.h"

namespace keyloop {

namespace {

using lua::kApi;
using lua::kRealGlobals;
using lua::raise;
using lua::RunState;
using lua::runState;
using lua::setFunction;

constexpr const char* kHandler = "keyloop:handler";      // the error handler
constexpr const char* kLibraryApi = "keyloop:library";   // that, while FUNCTION LOAD runs a library
constexpr const char* kLoadKey = "keyloop:load";         // light userdata: the LoadState
constexpr auto kLoadTimeout = std::chrono::milliseconds(500);  // Redis's LOAD_TIMEOUT_MS
constexpr int kHookInstructions = 100000;
constexpr int kGcEveryRuns = 50;

// Opens a library; one that only returns its table (lua-cjson) becomes a global too.
void openLibrary(lua_State* L, const char* name, lua_CFunction open) {
  lua_pushcfunction(L, open);
  lua_pushstring(L, name);
  lua_call(L, 1, 1);
  if (*name != '\0' && lua_istable(L, -1)) {
    lua_getglobal(L, name);
    const bool missing = lua_isnil(L, -1);
    lua_pop(L, 1);
    if (missing) {
      lua_setglobal(L, name);
      return;
    }
  }
  lua_pop(L, 1);
}

// Where the error of a raised call is reported: the script's line, not
// the C function's (redis.call) that raised it.
constexpr const char* kHandlerSource = R"(
local info_of = debug.getinfo
return function(err)
  local where = info_of(2, 'nSl')
  if where and where.what == 'C' then where = info_of(3, 'nSl') end
  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
  if where then
    err['source'] = where.source
    err['line'] = where.currentline
  end
  return err
end
)";

}  // namespace

namespace {

// ---- FUNCTION LOAD's redis.register_function --------------------------------

struct LoadState {
  std::vector<LuaEngine::Registered>* registered;
  std::chrono::steady_clock::time_point started;
};

LoadState* loadState(lua_State* L) {
  lua_getfield(L, LUA_REGISTRYINDEX, kLoadKey);
  auto* state = static_cast<LoadState*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  return state;
}

bool validName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

std::optional<std::string> stringAt(lua_State* L, int index) {
  if (!lua_isstring(L, index)) return std::nullopt;
  std::size_t n = 0;
  const char* s = lua_tolstring(L, index, &n);
  return std::string(s, n);
}

// register_function{function_name=..., callback=..., flags={...}, description=...}
std::string namedArguments(lua_State* L, LuaEngine::Registered& f) {
  if (!lua_istable(L, 1)) {
    return "calling redis.register_function with a single argument is only applicable to Lua table (representing "
           "named arguments).";
  }
  bool named = false;
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    if (!lua_isstring(L, -2)) return "named argument key given to redis.register_function is not a string";
    std::string key = lua_tostring(L, -2);
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (key == "function_name") {
      auto name = stringAt(L, -1);
      if (!name) return "function_name argument given to redis.register_function must be a string";
      f.name = *name;
      named = true;
    } else if (key == "description") {
      auto description = stringAt(L, -1);
      if (!description) return "description argument given to redis.register_function must be a string";
      f.description = *description;
      f.hasDescription = true;
    } else if (key == "callback") {
      if (!lua_isfunction(L, -1)) return "callback argument given to redis.register_function must be a function";
      if (f.ref != 0) luaL_unref(L, LUA_REGISTRYINDEX, f.ref);
      f.ref = luaL_ref(L, LUA_REGISTRYINDEX);  // pops the value
      continue;
    } else if (key == "flags") {
      if (!lua_istable(L, -1)) return "flags argument to redis.register_function must be a table representing function flags";
      for (int j = 1;; ++j) {
        lua_rawgeti(L, -1, j);
        if (lua_isnil(L, -1)) {
          lua_pop(L, 1);
          break;
        }
        const auto flag = lua_isstring(L, -1) ? lua::flagNamed(lua_tostring(L, -1)) : 0;
        lua_pop(L, 1);
        if (flag == 0) return "unknown flag given";
        f.flags |= flag;
      }
    } else {
      return "unknown argument given to redis.register_function";
    }
    lua_pop(L, 1);
  }
  if (!named) return "redis.register_function must get a function name argument";
  if (f.ref == 0) return "redis.register_function must get a callback argument";
  return {};
}

int registerFunction(lua_State* L) {
  LoadState* state = loadState(L);
  if (state == nullptr) return raise(L, "redis.register_function can only be called on FUNCTION LOAD command");
  const int argc = lua_gettop(L);
  if (argc < 1 || argc > 2) return raise(L, "wrong number of arguments to redis.register_function");
  LuaEngine::Registered f;
  std::string error;
  if (argc == 1) {
    error = namedArguments(L, f);
  } else if (auto name = stringAt(L, 1); !name) {
    error = "first argument to redis.register_function must be a string";
  } else if (!lua_isfunction(L, 2)) {
    error = "second argument to redis.register_function must be a function";
  } else {
    f.name = *name;
    lua_settop(L, 2);
    f.ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  if (error.empty() && !validName(f.name)) {
    error = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";
  }
  for (const auto& other : *state->registered) {
    if (error.empty() && other.name == f.name) error = "Function already exists in the library";
  }
  if (!error.empty()) {
    if (f.ref != 0) luaL_unref(L, LUA_REGISTRYINDEX, f.ref);
    return raise(L, error);
  }
  state->registered->push_back(std::move(f));
  return 0;
}

void loadHook(lua_State* L, lua_Debug*) {
  LoadState* state = loadState(L);
  if (state == nullptr || std::chrono::steady_clock::now() - state->started <= kLoadTimeout) return;
  lua_sethook(L, loadHook, LUA_MASKLINE, 0);
  raise(L, "FUNCTION LOAD timeout");
}

// The library API: redis.register_function, redis.log and the version.
void registerLibraryApi(lua_State* L) {
  lua_newtable(L);  // the library's globals
  lua_newtable(L);  // its redis table
  setFunction(L, "register_function", registerFunction);
  lua::setLogAndVersion(L);
  lua::pushProxyOf(L, true);
  lua_setfield(L, -2, "redis");
  lua_setfield(L, LUA_REGISTRYINDEX, kLibraryApi);
}

}  // namespace

LuaEngine::LuaEngine(Mode mode) : mode_(mode) { open(); }
LuaEngine::~LuaEngine() { close(); }

void LuaEngine::open() {
  lua_State* L = luaL_newstate();
  lua_ = L;
  openLibrary(L, "", luaopen_base);
  openLibrary(L, LUA_TABLIBNAME, luaopen_table);
  openLibrary(L, LUA_STRLIBNAME, luaopen_string);
  openLibrary(L, LUA_MATHLIBNAME, luaopen_math);
  openLibrary(L, LUA_DBLIBNAME, luaopen_debug);
  openLibrary(L, "cjson", luaopen_cjson);
  openLibrary(L, "struct", lua::openStruct);
  openLibrary(L, "cmsgpack", lua::openMsgpack);
  openLibrary(L, "bit", luaopen_bit);
  for (const char* gone : {"dofile", "loadfile", "print"}) {
    lua_pushnil(L);
    lua_setglobal(L, gone);
  }
  lua::guardBuiltins(L);
  lua::registerRedisApi(L);
  if (mode_ == Mode::Scripts) lua::registerEvalOnlyApi(L);
  luaL_loadbuffer(L, kHandlerSource, std::strlen(kHandlerSource), "@err_handler_def");
  lua_call(L, 0, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, kHandler);
  lua_pushnil(L);
  lua_setglobal(L, "debug");  // the handler keeps its own reference

  lua::lockGlobals(L, {"string", "table", "math", "cjson", "struct", "cmsgpack", "bit", "redis", "coroutine"});
  if (mode_ == Mode::Functions) registerLibraryApi(L);
}

void LuaEngine::close() {
  if (lua_ != nullptr) lua_close(lua_);
  lua_ = nullptr;
}

void LuaEngine::flush() {
  close();
  bodies_.clear();
  flags_.clear();
  open();
}

std::size_t LuaEngine::memoryBytes() const { return static_cast<std::size_t>(lua_gc(lua_, LUA_GCCOUNT, 0)) * 1024; }

const std::string* LuaEngine::body(std::string_view sha) const {
  auto it = bodies_.find(sha);
  return it == bodies_.end() ? nullptr : &it->second;
}

Status LuaEngine::load(const std::string& sha, std::string_view body) {
  if (has(sha)) return {};
  const lua::Shebang shebang = lua::parseShebang(body);
  if (!shebang.error.empty()) return fail("ERR " + shebang.error);
  // The shebang line goes, its line feed stays: line numbers still match.
  const std::string_view code = body.substr(shebang.length);
  if (luaL_loadbuffer(lua_, code.data(), code.size(), "@user_script") != 0) {
    Failure error = fail(std::string("ERR Error compiling script (new function): ") + lua_tostring(lua_, -1));
    lua_pop(lua_, 1);
    return error;
  }
  lua_setfield(lua_, LUA_REGISTRYINDEX, ("f_" + sha).c_str());
  bodies_.emplace(sha, std::string(body));
  flags_[sha] = shebang.flags;
  return {};
}

std::uint32_t LuaEngine::flags(std::string_view sha) const {
  auto it = flags_.find(sha);
  return it == flags_.end() ? lua::kCompatible : it->second;
}

namespace {

void hook(lua_State* L, lua_Debug*) {
  RunState* state = runState(L);
  if (state == nullptr || !state->run->poll || !state->run->poll()) return;
  // From now on every line checks again: a pcall cannot swallow the kill.
  lua_sethook(L, hook, LUA_MASKLINE, 0);
  raise(L, "Script killed by user with SCRIPT KILL...");
}

// KEYS / ARGV, or a function's (keys, args).
void pushArray(lua_State* L, std::span<const std::string_view> items) {
  lua_newtable(L);
  for (std::size_t i = 0; i < items.size(); ++i) {
    lua_pushlstring(L, items[i].data(), items[i].size());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
}

}  // namespace

void LuaEngine::run(const Run& run, resp::Reply& reply) {
  lua_State* L = lua_;
  RunState state{&run};
  lua::setRunState(L, &state);
  if (run.poll) lua_sethook(L, hook, LUA_MASKCOUNT, kHookInstructions);
  lua_getfield(L, LUA_REGISTRYINDEX, kRealGlobals);
  pushArray(L, run.keys);
  lua_setfield(L, -2, "KEYS");
  pushArray(L, run.args);
  lua_setfield(L, -2, "ARGV");
  lua_pop(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, kHandler);
  lua_getfield(L, LUA_REGISTRYINDEX, ("f_" + std::string(run.name)).c_str());
  finishRun(lua_pcall(L, 0, 1, -2) != 0, state, reply);
}

void LuaEngine::call(int ref, const Run& run, resp::Reply& reply) {
  lua_State* L = lua_;
  RunState state{&run};
  lua::setRunState(L, &state);
  if (run.poll) lua_sethook(L, hook, LUA_MASKCOUNT, kHookInstructions);
  lua_getfield(L, LUA_REGISTRYINDEX, kHandler);
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  pushArray(L, run.keys);
  pushArray(L, run.args);
  finishRun(lua_pcall(L, 2, 1, -4) != 0, state, reply);
}

void LuaEngine::finishRun(bool failed, const lua::RunState& state, resp::Reply& reply) {
  lua_State* L = lua_;
  const std::string_view name = state.run->name;
  const resp::Protocol protocol = state.protocol;
  if (++runs_ % kGcEveryRuns == 0) lua_gc(L, LUA_GCSTEP, kGcEveryRuns);
  if (failed) {
    lua::replyError(L, name, reply);
  } else {
    lua::writeReply(L, reply, protocol);
  }
  lua_settop(L, 0);
  lua_sethook(L, nullptr, 0, 0);
  lua::setRunState(L, nullptr);
}

Status LuaEngine::loadLibrary(std::string_view code, std::vector<Registered>& registered) {
  lua_State* L = lua_;
  if (luaL_loadbuffer(L, code.data(), code.size(), "@user_function") != 0) {
    Failure error = fail(std::string("ERR Error compiling function: ") + lua_tostring(L, -1));
    lua_settop(L, 0);
    return error;
  }
  LoadState state{&registered, std::chrono::steady_clock::now()};
  lua_pushlightuserdata(L, &state);
  lua_setfield(L, LUA_REGISTRYINDEX, kLoadKey);
  lua_getfield(L, LUA_REGISTRYINDEX, kLibraryApi);
  lua_setfield(L, LUA_REGISTRYINDEX, kApi);
  lua_sethook(L, loadHook, LUA_MASKCOUNT, kHookInstructions);
  Status outcome;
  if (lua_pcall(L, 0, 0, 0) != 0) {
    std::string message;
    if (lua_istable(L, -1)) {
      lua_getfield(L, -1, "err");
      if (lua_isstring(L, -1)) message = lua_tostring(L, -1);
      lua_pop(L, 1);
    } else if (lua_isstring(L, -1)) {
      message = std::string("ERR ") + lua_tostring(L, -1);
    }
    outcome = fail("ERR Error registering functions: " + message);
    for (const Registered& f : registered) luaL_unref(L, LUA_REGISTRYINDEX, f.ref);
    registered.clear();
  }
  lua_sethook(L, nullptr, 0, 0);
  lua_getfield(L, LUA_REGISTRYINDEX, kRealGlobals);
  lua_setfield(L, LUA_REGISTRYINDEX, kApi);
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, kLoadKey);
  lua_settop(L, 0);
  return outcome;
}

void LuaEngine::release(int ref) { luaL_unref(lua_, LUA_REGISTRYINDEX, ref); }

}  // namespace keyloop
