// Text as Redis reads and writes it: arguments parsed with its exact rules
// and error texts, case-insensitive words, glob patterns.
//
// Numbers are parsed as strictly as Redis's string2ll / string2ld: no spaces,
// no '+', no leading zeros, no trailing bytes; anything else is the same
// error Redis gives, so clients see byte-identical replies.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result/result.h"

namespace keyloop {

inline constexpr std::string_view kSyntaxError = "ERR syntax error";
inline constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
inline constexpr std::string_view kNotFloat = "ERR value is not a valid float";
inline constexpr std::string_view kOverflow = "ERR increment or decrement would overflow";

std::optional<long long> parseInteger(std::string_view text);
// A SCAN cursor the way Redis reads it (strtoul): a leading '-' or '+' is
// accepted (and wraps), an empty cursor is 0, spaces and trailing bytes
// are not. nullopt means
// "ERR invalid cursor".
std::optional<std::uint64_t> parseScanCursor(std::string_view text);
std::optional<long double> parseLongDouble(std::string_view text);
// Redis's getDoubleFromObject: strtod of the whole text, no leading space,
// no NaN, no overflow ("inf" and "-inf" are fine). nullopt: kNotFloat.
std::optional<double> parseDouble(std::string_view text);
// A blocking command's timeout in seconds (BLPOP's), in milliseconds, as
// Redis 7.0 reads it at `nowMs`: its error text when refused; a number
// past a long long's range is "negative" (x86's conversion gives
// LONG_MIN), and one that overflows once the clock is added is a deadline
// already past (1 ms). 0: wait for ever.
Result<long long> parseBlockingTimeout(std::string_view text, std::int64_t nowMs);
// Redis's ld2string(LD_STR_HUMAN): "%.17Lf" without trailing zeros.
std::string formatLongDouble(long double value);
std::string formatInteger(long long value);
// printf into a string sized for the whole result (Redis's sdscatprintf):
// "%f" of 1e308 is 316 characters, and a reply is never cut short.
std::string printed(const char* format, ...) __attribute__((format(printf, 1, 2)));

bool equalsIgnoreCase(std::string_view a, std::string_view b);
// FLUSHALL's, SCRIPT FLUSH's and FUNCTION FLUSH's optional mode: SYNC or ASYNC.
inline bool isFlushMode(std::string_view arg) { return equalsIgnoreCase(arg, "sync") || equalsIgnoreCase(arg, "async"); }
std::string toLower(std::string_view text);
std::string toUpper(std::string_view text);
// The non-empty pieces of `text` between `separator`s.
std::vector<std::string_view> splitOn(std::string_view text, char separator);

// Redis's stringmatchlen: glob with * ? [a-z] [^x] and \ escapes.
bool globMatch(std::string_view pattern, std::string_view text, bool noCase = false);

}  // namespace keyloop
