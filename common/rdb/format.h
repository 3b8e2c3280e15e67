// RDB's building blocks, as Redis 7.0's rdb.c writes them (version 10):
// lengths (the 6, 14, 32 and 64-bit forms), strings (small integers in
// their integer encodings; LZF-compressed ones read too), little-endian
// integers, and a whole file's frame:
//
//   "REDIS0010"  aux fields (0xFA name value)...  [function libraries]
//   0xFE db  0xFB keys expires  records...  0xFF  CRC-64 (8 bytes, LE)
//
// Both processes use them: a worker writes its records (the values, in
// worker/rdb/value_codec.h), the master frames every worker's records as
// one snapshot file (fileHead, dbHead, the records, fileTail).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keyloop::rdb {

inline constexpr int kVersion = 10;
// What is read: up to Redis 7.4's version 12 (a hash with field times is
// written in its types; files and payloads of older versions stay 10).
inline constexpr int kReadableVersion = 12;

enum Opcode : unsigned char {
  kFunction2 = 0xF5, kFunctionOld = 0xF6, kModuleAux = 0xF7, kIdle = 0xF8, kFreq = 0xF9,
  kAux = 0xFA, kResizeDb = 0xFB, kExpireMs = 0xFC, kExpireSeconds = 0xFD, kSelectDb = 0xFE, kEof = 0xFF,
};

// An RDB length; a string (length-prefixed, or a small integer encoded).
void appendRdbLength(std::string& out, std::uint64_t n);
void appendRdbString(std::string& out, std::string_view s);
// RDB's fixed-width integers are little-endian (expiries, checksums,
// scores, listpack and ziplist fields): `bytes` of them at `at`.
void appendLittleEndian(std::string& out, std::uint64_t v, int bytes);
std::uint64_t littleEndian(std::string_view s, std::size_t at, int bytes);
// An aux field (0xFA name value).
void appendAux(std::string& out, std::string_view name, std::string_view value);

// Reads RDB's building blocks off the front of `in` (advancing it);
// nullopt (false) when the bytes are cut short or malformed.
struct Reader {
  std::string_view& in;

  std::optional<unsigned char> byte();
  std::optional<std::uint64_t> bigEndian(int bytes);
  // A length, or (`encoded` set) the encoding of a special string.
  std::optional<std::uint64_t> length(bool* encoded = nullptr);
  std::optional<std::string> string();
  // ZSET_2's score: 8 bytes, little-endian IEEE 754.
  std::optional<double> binaryDouble();
  // The old ZSET's score: a length byte (253 nan, 254 inf, 255 -inf) and text.
  std::optional<double> textDouble();
  bool skip(std::uint64_t n);
  // Steps over a string without expanding it.
  bool skipString();
  std::optional<std::string> take(std::uint64_t n);
};
std::optional<std::uint64_t> readRdbLength(std::string_view& in);
std::optional<std::string> readRdbString(std::string_view& in);

// The signature and aux fields (redis-ver, redis-bits, ctime, used-mem, aof-base).
std::string fileHead(std::int64_t nowSeconds, std::uint64_t usedMemory);
// SELECTDB 0 and RESIZEDB: what comes before the records.
std::string dbHead(std::uint64_t keys, std::uint64_t expires);
// EOF and the checksum of `crcSoFar` (all bytes before) extended by the EOF byte.
std::string fileTail(std::uint64_t crcSoFar);

}  // namespace keyloop::rdb
