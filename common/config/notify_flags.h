// notify-keyspace-events: Redis's classes of keyspace notifications and
// their letters (the YAML and CONFIG value), shared by the config reader
// and the workers that publish (worker/execution/keyspace_events.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace keyloop::keyspace_events {

// Redis's NOTIFY_* classes, by the letters of notify-keyspace-events.
enum Class : std::uint32_t {
  kGeneric = 1u << 0,   // g
  kString = 1u << 1,    // $
  kList = 1u << 2,      // l
  kSet = 1u << 3,       // s
  kHash = 1u << 4,      // h
  kZset = 1u << 5,      // z
  kExpired = 1u << 6,   // x
  kEvicted = 1u << 7,   // e
  kStream = 1u << 8,    // t
  kKeyMiss = 1u << 9,   // m
  kModule = 1u << 10,   // d
  kNew = 1u << 11,      // n
  kKeyspace = 1u << 12, // K
  kKeyevent = 1u << 13, // E
};
// "A": every class but key-miss and new.
constexpr std::uint32_t kAll = kGeneric | kString | kList | kSet | kHash | kZset | kExpired | kEvicted | kStream | kModule;

// The letters in Redis's order (keyspaceEventsFlagsToString).
constexpr std::pair<char, std::uint32_t> kLetters[] = {
    {'g', kGeneric}, {'$', kString}, {'l', kList}, {'s', kSet}, {'h', kHash}, {'z', kZset}, {'x', kExpired},
    {'e', kEvicted}, {'t', kStream}, {'d', kModule}, {'n', kNew}, {'K', kKeyspace}, {'E', kKeyevent}, {'m', kKeyMiss}};

inline std::uint32_t classOf(char letter) {
  for (const auto& [c, flag] : kLetters) {
    if (c == letter) return flag;
  }
  return 0;
}

// Redis's keyspaceEventsStringToFlags (nullopt: a letter it does not know)
// and keyspaceEventsFlagsToString.
inline std::optional<std::uint32_t> parse(std::string_view letters) {
  std::uint32_t flags = 0;
  for (char c : letters) {
    if (c == 'A') {
      flags |= kAll;
      continue;
    }
    const std::uint32_t flag = classOf(c);
    if (flag == 0) return std::nullopt;
    flags |= flag;
  }
  return flags;
}

inline std::string format(std::uint32_t flags) {
  std::string out;
  const bool all = (flags & kAll) == kAll;
  if (all) out += 'A';
  for (const auto& [c, flag] : kLetters) {
    const bool inAll = (flag & kAll) != 0;
    if ((flags & flag) && !(all && inAll)) out += c;
  }
  return out;
}

}  // namespace keyloop::keyspace_events
