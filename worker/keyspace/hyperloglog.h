// HyperLogLog in Redis's own representation (hyperloglog.c), so that an
// HLL is the same string in keyloop and in Redis: GET of it, DUMP of it,
// and PFCOUNT of a value copied between them agree byte for byte.
//
// The value is a string: a 16-byte header ("HYLL", encoding, 3 unused, the
// cached cardinality little-endian with bit 63 set when stale) and 16384
// six-bit registers, sparse (run-length opcodes ZERO 00xxxxxx, XZERO
// 01xxxxxx xxxxxxxx, VAL 1vvvvvxx) until it passes hll-sparse-max-bytes
// or a register passes 32, then dense (12288 bytes). Elements are hashed
// with MurmurHash64A and seed 0xadc83b19, as Redis does.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result/result.h"

namespace keyloop::hll {

inline constexpr int kRegisters = 16384;
using Registers = std::array<std::uint8_t, kRegisters>;

inline constexpr std::string_view kNotHll = "WRONGTYPE Key is not a valid HyperLogLog string value.";
inline constexpr std::string_view kCorrupt = "INVALIDOBJ Corrupted HLL object detected";

// An empty HLL (sparse).
std::string create();
// Whether a string value is an HLL (magic, encoding, dense length).
bool isHll(std::string_view value);
// Adds an element: 1 if a register changed, 0 if not, -1 if corrupt.
int add(std::string& value, std::string_view element, std::size_t sparseMaxBytes);
// The cardinality, from the cache or computed (and cached in `value`:
// `changed` says so); nullopt when corrupt.
std::optional<std::uint64_t> count(std::string& value, bool& changed);
// Folds `value`'s registers into `max` (max of each); false when corrupt.
bool mergeInto(Registers& max, std::string_view value);
// The cardinality of a register array (PFCOUNT of several keys).
std::uint64_t countOf(const Registers& registers);
// Writes `max` into the HLL `value` (PFMERGE's destination), dense first
// when `dense`; invalidates the cache. False when corrupt.
bool store(std::string& value, const Registers& max, bool dense, std::size_t sparseMaxBytes);
bool isDense(std::string_view value);
// PFDEBUG's views: the value made dense (false: corrupt), and a sparse
// value's opcodes as Redis prints them ("Z:16384", "z:3 v:2,1 ...").
bool makeDense(std::string& value);
std::string describeSparse(std::string_view value);
// PFSELFTEST, Redis's checks: registers keep what is set in them, and
// dense and sparse counts agree and stay within six standard errors up to
// ten million elements. The error text, or nullopt when all passed.
Status selfTest(std::size_t sparseMaxBytes);

}  // namespace keyloop::hll
