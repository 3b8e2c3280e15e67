// cmsgpack for scripts, as Redis 7.0 ships it (lua-cmsgpack 0.4.0): the
// same encoding choices (a table is an array only when its keys are 1..n,
// a number is an integer when an int64 holds it exactly, a double that a
// float holds exactly is packed as a float, tables deeper than 16 become
// nil, which is how cycles end) and the same decoding quirks (a uint64
// past INT64_MAX reads back negative, no bin or ext types).
//
// Lua errors unwind with longjmp, so nothing here owns memory through a
// C++ destructor: the pack buffer is a userdata the collector frees.
#include "worker/scripting/lua_libraries.h"

extern "C" {
#include <lauxlib.h>
}

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace keyloop::lua {

namespace {

constexpr int kMaxNesting = 16;
constexpr const char* kBufferType = "keyloop:cmsgpack.buffer";

// ---- packing ------------------------------------------------------------------

struct PackBuffer {
  unsigned char* bytes;
  std::size_t length;
  std::size_t capacity;
};

int freeBuffer(lua_State* L) {
  auto* buffer = static_cast<PackBuffer*>(lua_touserdata(L, 1));
  std::free(buffer->bytes);
  buffer->bytes = nullptr;
  return 0;
}

PackBuffer* pushBuffer(lua_State* L) {
  auto* buffer = static_cast<PackBuffer*>(lua_newuserdata(L, sizeof(PackBuffer)));
  *buffer = PackBuffer{nullptr, 0, 0};
  if (luaL_newmetatable(L, kBufferType)) {
    lua_pushcfunction(L, freeBuffer);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return buffer;
}

void append(lua_State* L, PackBuffer* buffer, const void* data, std::size_t n) {
  if (buffer->capacity - buffer->length < n) {
    const std::size_t needed = buffer->length + n;
    if (needed < buffer->length) luaL_error(L, "not enough memory");
    const std::size_t capacity = std::max(needed, buffer->capacity * 2);
    void* grown = std::realloc(buffer->bytes, capacity);
    if (grown == nullptr) luaL_error(L, "not enough memory");
    buffer->bytes = static_cast<unsigned char*>(grown);
    buffer->capacity = capacity;
  }
  std::memcpy(buffer->bytes + buffer->length, data, n);
  buffer->length += n;
}

// A type byte followed by `width` bytes of `value`, most significant first.
void appendTagged(lua_State* L, PackBuffer* buffer, unsigned char tag, std::uint64_t value, int width) {
  unsigned char out[9];
  out[0] = tag;
  for (int i = 0; i < width; ++i) out[1 + i] = static_cast<unsigned char>(value >> (8 * (width - 1 - i)));
  append(L, buffer, out, 1 + width);
}

void appendByte(lua_State* L, PackBuffer* buffer, unsigned char byte) { append(L, buffer, &byte, 1); }

void packString(lua_State* L, PackBuffer* buffer) {
  std::size_t n = 0;
  const char* s = lua_tolstring(L, -1, &n);
  if (n < 32) appendByte(L, buffer, static_cast<unsigned char>(0xa0 | n));
  else if (n <= 0xff) appendTagged(L, buffer, 0xd9, n, 1);
  else if (n <= 0xffff) appendTagged(L, buffer, 0xda, n, 2);
  else appendTagged(L, buffer, 0xdb, n & 0xffffffffu, 4);
  append(L, buffer, s, n);
}

void packInteger(lua_State* L, PackBuffer* buffer, std::int64_t n) {
  const auto bits = static_cast<std::uint64_t>(n);
  if (n >= 0) {
    if (n <= 127) appendByte(L, buffer, static_cast<unsigned char>(n));
    else if (n <= 0xff) appendTagged(L, buffer, 0xcc, bits, 1);
    else if (n <= 0xffff) appendTagged(L, buffer, 0xcd, bits, 2);
    else if (n <= 0xffffffffLL) appendTagged(L, buffer, 0xce, bits, 4);
    else appendTagged(L, buffer, 0xcf, bits, 8);
  } else {
    if (n >= -32) appendByte(L, buffer, static_cast<unsigned char>(bits));
    else if (n >= -128) appendTagged(L, buffer, 0xd0, bits, 1);
    else if (n >= -32768) appendTagged(L, buffer, 0xd1, bits, 2);
    else if (n >= -2147483648LL) appendTagged(L, buffer, 0xd2, bits, 4);
    else appendTagged(L, buffer, 0xd3, bits, 8);
  }
}

void packNumber(lua_State* L, PackBuffer* buffer) {
  const double d = lua_tonumber(L, -1);
  // An int64 holds it exactly (the range test keeps the cast defined).
  if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && std::trunc(d) == d) {
    return packInteger(L, buffer, static_cast<std::int64_t>(d));
  }
  const auto f = static_cast<float>(d);
  if (d == static_cast<double>(f)) return appendTagged(L, buffer, 0xca, std::bit_cast<std::uint32_t>(f), 4);
  appendTagged(L, buffer, 0xcb, std::bit_cast<std::uint64_t>(d), 8);
}

void packHeader(lua_State* L, PackBuffer* buffer, std::size_t n, unsigned char fixed, unsigned char tag16) {
  if (n <= 15) appendByte(L, buffer, static_cast<unsigned char>(fixed | n));
  else if (n <= 65535) appendTagged(L, buffer, tag16, n, 2);
  else appendTagged(L, buffer, static_cast<unsigned char>(tag16 + 1), n & 0xffffffffu, 4);
}

// Keys 1..n and nothing else (positive whole numbers an int holds, as many
// as the largest).
bool isArray(lua_State* L) {
  const int top = lua_gettop(L);
  int count = 0;
  int max = 0;
  luaL_checkstack(L, 2, "in function table_is_an_array");
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    lua_pop(L, 1);
    const double n = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
    if (!(n > 0 && n <= INT_MAX && std::trunc(n) == n)) {
      lua_settop(L, top);
      return false;
    }
    max = std::max(max, static_cast<int>(n));
    ++count;
  }
  lua_settop(L, top);
  return max == count;
}

void packValue(lua_State* L, PackBuffer* buffer, int level);

void packTable(lua_State* L, PackBuffer* buffer, int level) {
  if (isArray(L)) {
    const std::size_t n = lua_objlen(L, -1);
    packHeader(L, buffer, n, 0x90, 0xdc);
    luaL_checkstack(L, 1, "in function mp_encode_lua_table_as_array");
    for (std::size_t i = 1; i <= n; ++i) {
      lua_pushnumber(L, static_cast<lua_Number>(i));
      lua_gettable(L, -2);
      packValue(L, buffer, level + 1);
    }
    return;
  }
  luaL_checkstack(L, 3, "in function mp_encode_lua_table_as_map");
  std::size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    lua_pop(L, 1);
    ++n;
  }
  packHeader(L, buffer, n, 0x80, 0xde);
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    lua_pushvalue(L, -2);
    packValue(L, buffer, level + 1);  // the key
    packValue(L, buffer, level + 1);  // the value
  }
}

// Packs the value at the top of the stack and pops it.
void packValue(lua_State* L, PackBuffer* buffer, int level) {
  int type = lua_type(L, -1);
  if (type == LUA_TTABLE && level == kMaxNesting) type = LUA_TNIL;
  switch (type) {
    case LUA_TSTRING: packString(L, buffer); break;
    case LUA_TBOOLEAN: appendByte(L, buffer, lua_toboolean(L, -1) ? 0xc3 : 0xc2); break;
    case LUA_TNUMBER: packNumber(L, buffer); break;
    case LUA_TTABLE: packTable(L, buffer, level); break;
    default: appendByte(L, buffer, 0xc0); break;
  }
  lua_pop(L, 1);
}

int pack(lua_State* L) {
  const int arguments = lua_gettop(L);
  if (arguments == 0) return luaL_argerror(L, 0, "MessagePack pack needs input.");
  if (!lua_checkstack(L, arguments)) return luaL_argerror(L, 0, "Too many arguments for MessagePack pack.");
  PackBuffer* buffer = pushBuffer(L);
  for (int i = 1; i <= arguments; ++i) {
    luaL_checkstack(L, 1, "in function mp_check");
    lua_pushvalue(L, i);
    packValue(L, buffer, 0);
  }
  lua_pushlstring(L, reinterpret_cast<const char*>(buffer->bytes), buffer->length);
  std::free(buffer->bytes);
  buffer->bytes = nullptr;
  return 1;
}

// ---- unpacking ----------------------------------------------------------------

enum class Fault { None, MissingBytes, BadFormat };

struct Cursor {
  const unsigned char* p;
  std::size_t left;
  Fault fault;

  bool need(std::size_t n) {
    if (left >= n) return true;
    fault = Fault::MissingBytes;
    return false;
  }
  // The `width` bytes after the type byte, most significant first.
  std::uint64_t big(int width) const {
    std::uint64_t value = 0;
    for (int i = 1; i <= width; ++i) value = (value << 8) | p[i];
    return value;
  }
  void consume(std::size_t n) {
    p += n;
    left -= n;
  }
};

void unpackValue(lua_State* L, Cursor& c);

void unpackArray(lua_State* L, Cursor& c, std::size_t n) {
  lua_newtable(L);
  luaL_checkstack(L, 1, "in function mp_decode_to_lua_array");
  for (std::size_t index = 1; index <= n; ++index) {
    lua_pushnumber(L, static_cast<lua_Number>(index));
    unpackValue(L, c);
    if (c.fault != Fault::None) return;
    lua_settable(L, -3);
  }
}

void unpackMap(lua_State* L, Cursor& c, std::size_t n) {
  lua_newtable(L);
  while (n-- > 0) {
    unpackValue(L, c);
    if (c.fault != Fault::None) return;
    unpackValue(L, c);
    if (c.fault != Fault::None) return;
    lua_settable(L, -3);
  }
}

// A value whose length field is `width` bytes after the type byte.
void unpackString(lua_State* L, Cursor& c, int width) {
  if (!c.need(1 + width)) return;
  const std::size_t n = c.big(width);
  c.consume(1 + width);
  if (!c.need(n)) return;
  lua_pushlstring(L, reinterpret_cast<const char*>(c.p), n);
  c.consume(n);
}

void unpackContainer(lua_State* L, Cursor& c, int width, bool map) {
  if (!c.need(1 + width)) return;
  const std::size_t n = c.big(width);
  c.consume(1 + width);
  map ? unpackMap(L, c, n) : unpackArray(L, c, n);
}

// A number of `width` bytes; signed ones are sign-extended from their width.
void unpackNumber(lua_State* L, Cursor& c, int width, bool isSigned) {
  if (!c.need(1 + width)) return;
  const std::uint64_t bits = c.big(width);
  c.consume(1 + width);
  if (!isSigned) {
    // Lua 5.1 pushes it as a ptrdiff_t: past INT64_MAX it turns negative.
    lua_pushinteger(L, static_cast<lua_Integer>(static_cast<std::int64_t>(bits)));
    return;
  }
  const int unused = 64 - 8 * width;
  const auto value = static_cast<std::int64_t>(bits << unused) >> unused;
  lua_pushnumber(L, static_cast<lua_Number>(value));
}

void unpackValue(lua_State* L, Cursor& c) {
  if (!c.need(1)) return;
  luaL_checkstack(L, 1, "too many return values at once; use unpack_one or unpack_limit instead.");
  const unsigned char type = c.p[0];
  switch (type) {
    case 0xcc: return unpackNumber(L, c, 1, false);
    case 0xcd: return unpackNumber(L, c, 2, false);
    case 0xce: return unpackNumber(L, c, 4, false);
    case 0xcf: return unpackNumber(L, c, 8, false);
    case 0xd0: return unpackNumber(L, c, 1, true);
    case 0xd1: return unpackNumber(L, c, 2, true);
    case 0xd2: return unpackNumber(L, c, 4, true);
    case 0xd3: return unpackNumber(L, c, 8, true);
    case 0xc0: lua_pushnil(L); return c.consume(1);
    case 0xc3: lua_pushboolean(L, 1); return c.consume(1);
    case 0xc2: lua_pushboolean(L, 0); return c.consume(1);
    case 0xca:
      if (!c.need(5)) return;
      lua_pushnumber(L, std::bit_cast<float>(static_cast<std::uint32_t>(c.big(4))));
      return c.consume(5);
    case 0xcb:
      if (!c.need(9)) return;
      lua_pushnumber(L, std::bit_cast<double>(c.big(8)));
      return c.consume(9);
    case 0xd9: return unpackString(L, c, 1);
    case 0xda: return unpackString(L, c, 2);
    case 0xdb: return unpackString(L, c, 4);
    case 0xdc: return unpackContainer(L, c, 2, false);
    case 0xdd: return unpackContainer(L, c, 4, false);
    case 0xde: return unpackContainer(L, c, 2, true);
    case 0xdf: return unpackContainer(L, c, 4, true);
    default: break;
  }
  if ((type & 0x80) == 0) {  // positive fixnum
    lua_pushinteger(L, type);
    c.consume(1);
  } else if ((type & 0xe0) == 0xe0) {  // negative fixnum
    lua_pushinteger(L, static_cast<signed char>(type));
    c.consume(1);
  } else if ((type & 0xe0) == 0xa0) {  // fixstr
    const std::size_t n = type & 0x1f;
    if (!c.need(1 + n)) return;
    lua_pushlstring(L, reinterpret_cast<const char*>(c.p + 1), n);
    c.consume(1 + n);
  } else if ((type & 0xf0) == 0x90) {  // fixarray
    c.consume(1);
    unpackArray(L, c, type & 0xf);
  } else if ((type & 0xf0) == 0x80) {  // fixmap
    c.consume(1);
    unpackMap(L, c, type & 0xf);
  } else {
    c.fault = Fault::BadFormat;
  }
}

// Decodes up to `limit` values from `offset`; with neither, all of them
// and no offset in the results (so unpack_limit(s, 0) decodes everything).
int unpackFrom(lua_State* L, lua_Integer limit, lua_Integer offset) {
  std::size_t length = 0;
  const char* s = luaL_checklstring(L, 1, &length);
  const bool everything = limit == 0 && offset == 0;
  if (offset < 0 || limit < 0) {
    // Redis prints the input's length where it says "limit".
    return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.", static_cast<int>(offset),
                      static_cast<int>(length));
  }
  if (static_cast<std::size_t>(offset) > length) {
    return luaL_error(L, "Start offset %d greater than input length %d.", static_cast<int>(offset),
                      static_cast<int>(length));
  }
  if (everything) limit = INT_MAX;
  Cursor c{reinterpret_cast<const unsigned char*>(s) + offset, length - static_cast<std::size_t>(offset), Fault::None};
  int count = 0;
  for (; c.left > 0 && count < limit; ++count) {
    unpackValue(L, c);
    if (c.fault == Fault::MissingBytes) return luaL_error(L, "Missing bytes in input.");
    if (c.fault == Fault::BadFormat) return luaL_error(L, "Bad data format in input.");
  }
  if (everything) return count;
  luaL_checkstack(L, 1, "in function mp_unpack_full");
  lua_pushinteger(L, c.left == 0 ? -1 : static_cast<lua_Integer>(length - c.left));
  lua_insert(L, 2);  // the next offset comes first
  return count + 1;
}

int unpack(lua_State* L) { return unpackFrom(L, 0, 0); }

int unpackOne(lua_State* L) {
  const lua_Integer offset = luaL_optinteger(L, 2, 0);
  lua_pop(L, lua_gettop(L) - 1);  // with no argument at all, still none (Redis's error says so)
  return unpackFrom(L, 1, offset);
}

int unpackLimit(lua_State* L) {
  const lua_Integer limit = luaL_checkinteger(L, 2);
  const lua_Integer offset = luaL_optinteger(L, 3, 0);
  lua_pop(L, lua_gettop(L) - 1);
  return unpackFrom(L, limit, offset);
}

}  // namespace

int openMsgpack(lua_State* L) {
  lua_newtable(L);
  // In Redis's order: a script walking the table sees the same sequence.
  const luaL_Reg functions[] = {{"pack", pack}, {"unpack", unpack}, {"unpack_one", unpackOne}, {"unpack_limit", unpackLimit}};
  for (const luaL_Reg& f : functions) {
    lua_pushcfunction(L, f.func);
    lua_setfield(L, -2, f.name);
  }
  const char* const about[][2] = {{"_NAME", "cmsgpack"},
                                  {"_VERSION", "lua-cmsgpack 0.4.0"},
                                  {"_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo"},
                                  {"_DESCRIPTION", "MessagePack C implementation for Lua"}};
  for (const auto& [field, text] : about) {
    lua_pushstring(L, text);
    lua_setfield(L, -2, field);
  }
  lua_pushvalue(L, -1);
  lua_setglobal(L, "cmsgpack");
  return 1;
}

}  // namespace keyloop::lua
