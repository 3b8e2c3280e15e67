// Intset: a set of integers as Redis lays it out (intset.c): a u32 width
// (2, 4 or 8 bytes per member), a u32 count, then the members sorted
// ascending, little-endian, all of that width. A small integer-only set
// lives in its store entry in exactly these bytes, which are also what
// DUMP and RDB carry for it (RDB_TYPE_SET_INTSET).
//
// Functions take the bytes and return new ones where they change them;
// the set commands write them back into the entry.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keyloop::intset {

inline constexpr std::size_t kHeader = 8;

std::string empty();
std::uint32_t count(std::string_view set);
std::int64_t at(std::string_view set, std::uint32_t index);
bool contains(std::string_view set, std::int64_t value);
// Whether `set` is a well-formed intset (RESTORE checks payloads).
bool valid(std::string_view set);
// Adds `value` in order, widening every member first when it needs more
// bytes; false when it was there.
bool add(std::string& set, std::int64_t value);
bool remove(std::string& set, std::int64_t value);
// The member `text` stands for if it is one (Redis's string2ll: canonical
// decimal only, so the set gives the same bytes back).
std::optional<std::int64_t> memberValue(std::string_view text);

}  // namespace keyloop::intset
