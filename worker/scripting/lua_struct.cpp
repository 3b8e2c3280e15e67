// struct for scripts, as Redis 7.0 ships it (Roberto Ierusalimschy's
// library, with Redis's bounds checks): pack, unpack and size over a
// format of integer (b B h H l L T i[n] I[n]), float (f d), string
// (c[n] s), padding (x) and control (< > ! space) options, x86-64 sizes.
//
// Where the original converts a double out of an integer's range (no
// defined result in C), this file gives what Redis's x86-64 build gives,
// with the range tests spelled out. Lua errors unwind with longjmp, so
// nothing here owns memory through a C++ destructor.
#include "worker/scripting/lua_libraries.h"

extern "C" {
#include <lauxlib.h>
}

#include <cctype>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace keyloop::lua {

namespace {

constexpr int kMaxIntegerSize = 32;
constexpr int kMaxAlign = 8;  // a double's alignment on x86-64

enum Endian { kBig = 0, kLittle = 1 };

struct Header {
  int endian = kLittle;
  int align = 1;
};

// x86-64's double to uint64 conversion: out of range (or NaN) gives the
// "integer indefinite" 2^63, and from 2^64 up, 0.
std::uint64_t toUnsigned(double d) {
  constexpr double kTwo63 = 9223372036854775808.0;
  if (!(d >= kTwo63)) {
    if (d >= -kTwo63 && d < kTwo63) return static_cast<std::uint64_t>(static_cast<std::int64_t>(d));
    return std::uint64_t{1} << 63;
  }
  const double low = d - kTwo63;
  if (low < kTwo63) return static_cast<std::uint64_t>(static_cast<std::int64_t>(low)) ^ (std::uint64_t{1} << 63);
  return 0;
}

bool isDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

int readNumber(lua_State* L, const char** format, int otherwise) {
  if (!isDigit(**format)) return otherwise;
  int n = 0;
  do {
    const int digit = *(*format)++ - '0';
    if (n > INT_MAX / 10 || n * 10 > INT_MAX - digit) luaL_error(L, "integral size overflow");
    n = n * 10 + digit;
  } while (isDigit(**format));
  return n;
}

std::size_t optionSize(lua_State* L, char option, const char** format) {
  switch (option) {
    case 'B': case 'b': return sizeof(char);
    case 'H': case 'h': return sizeof(short);
    case 'L': case 'l': return sizeof(long);
    case 'T': return sizeof(std::size_t);
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    case 'x': return 1;
    case 'c': return static_cast<std::size_t>(readNumber(L, format, 1));
    case 'i': case 'I': {
      const int size = readNumber(L, format, sizeof(int));
      if (size > kMaxIntegerSize) luaL_error(L, "integral size %d is larger than limit of %d", size, kMaxIntegerSize);
      return static_cast<std::size_t>(size);
    }
    default: return 0;
  }
}

// Padding before an item of `size` at offset `at`.
std::size_t paddingFor(std::size_t at, const Header& h, char option, std::size_t size) {
  if (size == 0 || option == 'c') return 0;
  if (size > static_cast<std::size_t>(h.align)) size = static_cast<std::size_t>(h.align);
  return (size - (at & (size - 1))) & (size - 1);
}

void applyControl(lua_State* L, char option, const char** format, Header& h) {
  switch (option) {
    case ' ': return;
    case '>': h.endian = kBig; return;
    case '<': h.endian = kLittle; return;
    case '!': {
      const int align = readNumber(L, format, kMaxAlign);
      if (align <= 0 || (align & (align - 1)) != 0) luaL_error(L, "alignment %d is not a power of 2", align);
      h.align = align;
      return;
    }
    default: luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", option));
  }
}

void putInteger(lua_State* L, luaL_Buffer* b, int arg, int endian, std::size_t size) {
  std::uint64_t value = toUnsigned(luaL_checknumber(L, arg));
  char bytes[kMaxIntegerSize];
  for (std::size_t i = 0; i < size; ++i) {
    bytes[endian == kLittle ? i : size - 1 - i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  luaL_addlstring(b, bytes, size);
}

// Little-endian is this machine's order: big-endian items are reversed.
void toOrder(char* bytes, std::size_t size, int endian) {
  if (endian == kLittle) return;
  for (std::size_t i = 0, j = size - 1; i < j; ++i, --j) {
    const char t = bytes[i];
    bytes[i] = bytes[j];
    bytes[j] = t;
  }
}

double getInteger(const char* bytes, int endian, bool isSigned, std::size_t size) {
  std::uint64_t value = 0;
  for (std::size_t k = 0; k < size; ++k) {
    const std::size_t i = endian == kBig ? k : size - 1 - k;
    value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  }
  if (!isSigned) return static_cast<double>(value);
  // The sign bit's mask; x86-64 shifts by the count modulo 64 (sizes past 8).
  const std::uint64_t mask = ~std::uint64_t{0} << ((size * 8 - 1) & 63);
  if (value & mask) value |= mask;
  return static_cast<double>(static_cast<std::int64_t>(value));
}

// A float or double in the given byte order.
template <typename Float>
double readFloat(const char* bytes, int endian) {
  Float value;
  std::memcpy(&value, bytes, sizeof value);
  toOrder(reinterpret_cast<char*>(&value), sizeof value, endian);
  return value;
}

bool isIntegerOption(char option) { return std::strchr("bBhHlLTiI", option) != nullptr && option != '\0'; }

int pack(lua_State* L) {
  const char* format = luaL_checkstring(L, 1);
  Header h;
  int arg = 2;
  std::size_t total = 0;
  lua_pushnil(L);  // keeps the arguments apart from the buffer's slots
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  while (*format != '\0') {
    const char option = *format++;
    std::size_t size = optionSize(L, option, &format);
    std::size_t padding = paddingFor(total, h, option, size);
    total += padding;
    while (padding-- > 0) luaL_addchar(&b, '\0');
    if (isIntegerOption(option)) {
      putInteger(L, &b, arg++, h.endian, size);
    } else if (option == 'x') {
      luaL_addchar(&b, '\0');
    } else if (option == 'f') {
      auto f = static_cast<float>(luaL_checknumber(L, arg++));
      toOrder(reinterpret_cast<char*>(&f), size, h.endian);
      luaL_addlstring(&b, reinterpret_cast<const char*>(&f), size);
    } else if (option == 'd') {
      double d = luaL_checknumber(L, arg++);
      toOrder(reinterpret_cast<char*>(&d), size, h.endian);
      luaL_addlstring(&b, reinterpret_cast<const char*>(&d), size);
    } else if (option == 'c' || option == 's') {
      std::size_t length = 0;
      const char* s = luaL_checklstring(L, arg++, &length);
      if (size == 0) size = length;
      // The argument number Redis names is the next one (its own quirk).
      luaL_argcheck(L, length >= size, arg, "string too short");
      luaL_addlstring(&b, s, size);
      if (option == 's') {
        luaL_addchar(&b, '\0');
        ++size;
      }
    } else {
      applyControl(L, option, &format, h);
    }
    total += size;
  }
  luaL_pushresult(&b);
  return 1;
}

int unpack(lua_State* L) {
  Header h;
  const char* format = luaL_checkstring(L, 1);
  std::size_t length = 0;
  const char* data = luaL_checklstring(L, 2, &length);
  // As size_t: a negative offset becomes huge and fails "too short" below.
  std::size_t at = static_cast<std::size_t>(luaL_optinteger(L, 3, 1));
  luaL_argcheck(L, at > 0, 3, "offset must be 1 or greater");
  --at;
  int results = 0;
  while (*format != '\0') {
    const char option = *format++;
    std::size_t size = optionSize(L, option, &format);
    at += paddingFor(at, h, option, size);
    luaL_argcheck(L, size <= length && at <= length - size, 2, "data string too short");
    luaL_checkstack(L, 2, "too many results");
    if (isIntegerOption(option)) {
      lua_pushnumber(L, getInteger(data + at, h.endian, std::islower(static_cast<unsigned char>(option)) != 0, size));
      ++results;
    } else if (option == 'x') {
      // padding: nothing to read
    } else if (option == 'f' || option == 'd') {
      lua_pushnumber(L, option == 'f' ? readFloat<float>(data + at, h.endian) : readFloat<double>(data + at, h.endian));
      ++results;
    } else if (option == 'c') {
      if (size == 0) {
        if (results == 0 || !lua_isnumber(L, -1)) luaL_error(L, "format 'c0' needs a previous size");
        size = toUnsigned(lua_tonumber(L, -1));
        lua_pop(L, 1);
        --results;
        luaL_argcheck(L, size <= length && at <= length - size, 2, "data string too short");
      }
      lua_pushlstring(L, data + at, size);
      ++results;
    } else if (option == 's') {
      const void* end = std::memchr(data + at, '\0', length - at);
      if (end == nullptr) luaL_error(L, "unfinished string in data");
      size = static_cast<std::size_t>(static_cast<const char*>(end) - (data + at)) + 1;
      lua_pushlstring(L, data + at, size - 1);
      ++results;
    } else {
      applyControl(L, option, &format, h);
    }
    at += size;
  }
  lua_pushinteger(L, static_cast<lua_Integer>(at + 1));
  return results + 1;
}

int size(lua_State* L) {
  Header h;
  const char* format = luaL_checkstring(L, 1);
  std::size_t at = 0;
  while (*format != '\0') {
    const char option = *format++;
    const std::size_t size = optionSize(L, option, &format);
    at += paddingFor(at, h, option, size);
    if (option == 's') luaL_argerror(L, 1, "option 's' has no fixed size");
    else if (option == 'c' && size == 0) luaL_argerror(L, 1, "option 'c0' has no fixed size");
    // Unknown letters and digits count for nothing here (pack refuses them).
    if (!std::isalnum(static_cast<unsigned char>(option))) applyControl(L, option, &format, h);
    at += size;
  }
  lua_pushinteger(L, static_cast<lua_Integer>(at));
  return 1;
}

}  // namespace

int openStruct(lua_State* L) {
  const luaL_Reg functions[] = {{"pack", pack}, {"unpack", unpack}, {"size", size}, {nullptr, nullptr}};
  luaL_register(L, "struct", functions);
  return 1;
}

}  // namespace keyloop::lua
