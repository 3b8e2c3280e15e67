#include "worker/scripting/lua_convert.h"

extern "C" {
#include <lauxlib.h>
#include <lua.h>
}

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <vector>

namespace keyloop::lua {

namespace {

// ---- RESP -> Lua -----------------------------------------------------------

struct Line {
  char type;
  std::string_view text;  // after the type byte, before \r\n
  std::size_t next;       // offset after the \r\n
};

Line lineAt(std::string_view r, std::size_t at) {
  const std::size_t eol = r.find("\r\n", at);
  if (at >= r.size() || eol == std::string_view::npos) return {'\0', {}, r.size()};
  return {r[at], r.substr(at + 1, eol - at - 1), eol + 2};
}

long long numberOf(std::string_view text) { return std::strtoll(std::string(text).c_str(), nullptr, 10); }

void pushField(lua_State* L, const char* name, std::string_view value) {
  lua_newtable(L);
  lua_pushstring(L, name);
  lua_pushlstring(L, value.data(), value.size());
  lua_settable(L, -3);
}

// Pushes the reply at `at` (nothing when `L` is null: an attribute's
// contents are skipped); returns the offset after it.
std::size_t pushAt(lua_State* L, std::string_view r, std::size_t at) {
  if (L != nullptr) luaL_checkstack(L, 4, "reached lua stack limit");
  const Line line = lineAt(r, at);
  switch (line.type) {
    case ':':
      if (L) lua_pushnumber(L, static_cast<lua_Number>(numberOf(line.text)));
      return line.next;
    case '$':
    case '=': {
      const long long n = numberOf(line.text);
      if (n < 0) {
        if (L) lua_pushboolean(L, 0);
        return line.next;
      }
      const std::string_view body = r.substr(line.next, static_cast<std::size_t>(n));
      if (L && line.type == '$') {
        lua_pushlstring(L, body.data(), body.size());
      } else if (L) {
        lua_newtable(L);
        lua_pushstring(L, "verbatim_string");
        lua_newtable(L);
        lua_pushstring(L, "string");
        const std::string_view text = body.size() >= 4 ? body.substr(4) : std::string_view();
        lua_pushlstring(L, text.data(), text.size());
        lua_settable(L, -3);
        lua_pushstring(L, "format");
        lua_pushlstring(L, body.data(), std::min<std::size_t>(3, body.size()));
        lua_settable(L, -3);
        lua_settable(L, -3);
      }
      return line.next + static_cast<std::size_t>(n) + 2;
    }
    case '+':
      if (L) pushField(L, "ok", line.text);
      return line.next;
    case '-':
      if (L) {
        pushErrorTable(L, "-" + std::string(line.text));
        // It was counted when the command ran (Redis's flag, kept for scripts that look).
        lua_pushstring(L, "ignore_error_stats_update");
        lua_pushboolean(L, 1);
        lua_settable(L, -3);
      }
      return line.next;
    case '*':
    case '>': {
      const long long n = numberOf(line.text);
      if (n < 0) {
        if (L) lua_pushboolean(L, 0);
        return line.next;
      }
      if (L) lua_newtable(L);
      std::size_t next = line.next;
      for (long long j = 0; j < n; ++j) {
        if (L) lua_pushnumber(L, static_cast<lua_Number>(j + 1));
        next = pushAt(L, r, next);
        if (L) lua_settable(L, -3);
      }
      return next;
    }
    case '%':
    case '~': {
      const long long n = numberOf(line.text);
      const bool map = line.type == '%';
      if (L) {
        lua_newtable(L);
        lua_pushstring(L, map ? "map" : "set");
        lua_newtable(L);
      }
      std::size_t next = line.next;
      for (long long j = 0; j < n; ++j) {
        next = pushAt(L, r, next);
        if (map) {
          next = pushAt(L, r, next);
        } else if (L) {
          lua_pushboolean(L, 1);
        }
        if (L) lua_settable(L, -3);
      }
      if (L) lua_settable(L, -3);
      return next;
    }
    case '|': {  // attributes are not shown to scripts
      const long long n = numberOf(line.text);
      std::size_t next = line.next;
      for (long long j = 0; j < 2 * n; ++j) next = pushAt(nullptr, r, next);
      return pushAt(L, r, next);
    }
    case '_':
      if (L) lua_pushnil(L);
      return line.next;
    case '#':
      if (L) lua_pushboolean(L, line.text == "t");
      return line.next;
    case ',':
      if (L) {
        lua_newtable(L);
        lua_pushstring(L, "double");
        lua_pushnumber(L, std::strtod(std::string(line.text).c_str(), nullptr));
        lua_settable(L, -3);
      }
      return line.next;
    case '(':
      if (L) pushField(L, "big_number", line.text);
      return line.next;
    default:
      if (L) lua_pushnil(L);
      return r.size();
  }
}

// ---- Lua -> RESP -----------------------------------------------------------

// The string field `name` of the table at the top, if it has one.
bool stringField(lua_State* L, const char* name, std::string& out) {
  lua_pushstring(L, name);
  lua_rawget(L, -2);
  const bool found = lua_type(L, -1) == LUA_TSTRING;
  if (found) {
    std::size_t n = 0;
    const char* s = lua_tolstring(L, -1, &n);
    out.assign(s, n);
  }
  lua_pop(L, 1);
  return found;
}

void withoutNewlines(std::string& s) {
  for (char& c : s) {
    if (c == '\r' || c == '\n') c = ' ';
  }
}

void writeTable(lua_State* L, resp::Reply& reply, resp::Protocol scriptProtocol) {
  std::string text;
  if (stringField(L, "err", text)) {
    return reply.errorVerbatim(text);
  }
  if (stringField(L, "ok", text)) {
    withoutNewlines(text);
    return reply.simple(text);
  }
  lua_pushstring(L, "double");
  lua_rawget(L, -2);
  if (lua_type(L, -1) == LUA_TNUMBER) {
    const double d = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return reply.doubleValue(d);
  }
  lua_pop(L, 1);
  if (stringField(L, "big_number", text)) {
    withoutNewlines(text);
    if (reply.protocol() == resp::Protocol::Resp3) {
      reply.buffer() += "(" + text + "\r\n";
    } else {
      reply.bulk(text);
    }
    return;
  }
  lua_pushstring(L, "verbatim_string");
  lua_rawget(L, -2);
  if (lua_istable(L, -1)) {
    std::string format;
    if (stringField(L, "format", format) && stringField(L, "string", text)) {
      lua_pop(L, 1);
      if (reply.protocol() == resp::Protocol::Resp3) {
        reply.buffer() += "=" + std::to_string(text.size() + 4) + "\r\n" + format.substr(0, 3) + ":" + text + "\r\n";
      } else {
        reply.bulk(text);
      }
      return;
    }
  }
  lua_pop(L, 1);
  for (const char* kind : {"map", "set"}) {
    lua_pushstring(L, kind);
    lua_rawget(L, -2);
    if (!lua_istable(L, -1)) {
      lua_pop(L, 1);
      continue;
    }
    const bool map = kind[0] == 'm';
    std::size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
      lua_pop(L, 1);
      ++count;
    }
    map ? reply.map(count) : reply.set(count);
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
      // Stack: table, key, value.
      if (!map) lua_pop(L, 1);
      lua_pushvalue(L, map ? -2 : -1);
      writeReply(L, reply, scriptProtocol);  // the key
      if (map) writeReply(L, reply, scriptProtocol);  // the value
    }
    lua_pop(L, 1);
    return;
  }
  // An array: elements 1, 2, ... up to the first nil.
  std::size_t count = 0;
  for (;;) {
    lua_rawgeti(L, -1, static_cast<int>(count + 1));
    const bool end = lua_isnil(L, -1);
    lua_pop(L, 1);
    if (end) break;
    ++count;
  }
  reply.array(count);
  for (std::size_t i = 1; i <= count; ++i) {
    lua_rawgeti(L, -1, static_cast<int>(i));
    writeReply(L, reply, scriptProtocol);
  }
}

}  // namespace

void pushErrorTable(lua_State* L, std::string_view text) {
  std::string code = "ERR", message;
  if (!text.empty() && text[0] == '-') {
    const std::size_t space = text.find(' ');
    if (space == std::string_view::npos) {
      message = text.substr(1);
    } else {
      code = text.substr(1, space - 1);
      message = text.substr(space + 1);
    }
  } else {
    message = text;
  }
  while (!message.empty() && (message.back() == '\r' || message.back() == '\n')) message.pop_back();
  while (!message.empty() && (message.front() == '\r' || message.front() == '\n')) message.erase(0, 1);
  const std::string full = code + " " + message;
  lua_newtable(L);
  lua_pushstring(L, "err");
  lua_pushlstring(L, full.data(), full.size());
  lua_settable(L, -3);
}

void pushReply(lua_State* L, std::string_view reply) { pushAt(L, reply, 0); }

void writeReply(lua_State* L, resp::Reply& reply, resp::Protocol scriptProtocol) {
  if (!lua_checkstack(L, 4)) {
    reply.error("ERR reached lua stack limit");
    lua_pop(L, 1);
    return;
  }
  switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
      std::size_t n = 0;
      const char* s = lua_tolstring(L, -1, &n);
      reply.bulk(std::string_view(s, n));
      break;
    }
    case LUA_TBOOLEAN:
      if (scriptProtocol == resp::Protocol::Resp2) {
        lua_toboolean(L, -1) ? reply.integer(1) : reply.null();
      } else {
        reply.boolean(lua_toboolean(L, -1) != 0);
      }
      break;
    case LUA_TNUMBER:
      reply.integer(static_cast<long long>(lua_tonumber(L, -1)));
      break;
    case LUA_TTABLE:
      writeTable(L, reply, scriptProtocol);
      break;
    default:
      reply.null();
  }
  lua_pop(L, 1);
}

void replyError(lua_State* L, std::string_view sha, resp::Reply& reply) {
  if (!lua_istable(L, -1)) {
    const char* message = lua_isstring(L, -1) ? lua_tostring(L, -1) : "execution failure";
    reply.error("ERR Error running script f_" + std::string(sha) + ", " + std::string(message).substr(0, 100));
    lua_pop(L, 1);
    return;
  }
  std::string message, source, line;
  if (!stringField(L, "err", message)) message = "ERR unknown error";
  lua_getfield(L, -1, "source");
  if (lua_isstring(L, -1)) source = lua_tostring(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, -1, "line");
  if (lua_isstring(L, -1)) line = lua_tostring(L, -1);
  lua_pop(L, 1);
  std::string out = message;
  if (!source.empty() && !line.empty()) out += " script: " + std::string(sha) + ", on " + source + ":" + line + ".";
  withoutNewlines(out);
  reply.errorVerbatim(out);
  lua_pop(L, 1);
}

namespace {
constexpr std::pair<std::string_view, ScriptFlag> kFlagNames[] = {
    {"no-writes", kNoWrites}, {"allow-oom", kAllowOom}, {"allow-stale", kAllowStale},
    {"no-cluster", kNoCluster}, {"allow-cross-slot-keys", kAllowCrossSlot}};
}  // namespace

std::uint32_t flagNamed(std::string_view name) {
  for (const auto& [text, flag] : kFlagNames) {
    if (text.size() == name.size() &&
        std::equal(text.begin(), text.end(), name.begin(), [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
      return flag;
    }
  }
  return 0;
}

std::vector<std::string_view> flagNames(std::uint32_t flags) {
  std::vector<std::string_view> out;
  for (const auto& [text, flag] : kFlagNames) {
    if (flags & flag) out.push_back(text);
  }
  return out;
}

Shebang parseShebang(std::string_view body) {
  Shebang shebang;
  if (body.substr(0, 2) != "#!") return shebang;
  const std::size_t end = body.find('\n');
  if (end == std::string_view::npos) return {0, kCompatible, "Invalid script shebang"};
  shebang.length = end;
  std::vector<std::string_view> parts;
  const std::string_view line = body.substr(0, end);
  for (std::size_t at = 0; at < line.size();) {
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t' || line[at] == '\r')) ++at;
    std::size_t stop = at;
    while (stop < line.size() && line[stop] != ' ' && line[stop] != '\t' && line[stop] != '\r') ++stop;
    if (stop > at) parts.push_back(line.substr(at, stop - at));
    at = stop;
  }
  if (parts.empty()) return {0, kCompatible, "Invalid engine in script shebang"};
  if (parts[0] != "#!lua") return {0, kCompatible, "Unexpected engine in script shebang: " + std::string(parts[0])};
  shebang.flags = 0;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].substr(0, 6) != "flags=") return {0, kCompatible, "Unknown lua shebang option: " + std::string(parts[i])};
    std::string_view list = parts[i].substr(6);
    while (!list.empty()) {
      const std::size_t comma = list.find(',');
      const std::string_view name = list.substr(0, comma);
      const std::uint32_t flag = flagNamed(name);
      // The shebang's names are exact (lower case), register_function's any case.
      const bool known = flag != 0 && name == flagNames(flag).front();
      shebang.flags |= flag;
      if (!known) return {0, kCompatible, "Unexpected flag in script shebang: " + std::string(name)};
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
  }
  return shebang;
}

}  // namespace keyloop::lua
