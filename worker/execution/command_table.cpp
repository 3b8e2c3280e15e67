// The command table (see command_table.h), merged from its families.
#include "worker/execution/command_table.h"

#include <algorithm>
#include <array>
#include <deque>
#include <cstdio>
#include <cstdlib>
#include <tuple>
#include <vector>

#include "common/metrics/shared_metrics.h"
#include "common/text/text.h"
#include "worker/execution/command_families.h"

namespace keyloop {

namespace {

// The longest command name: the lookup lowers a name into a buffer this long.
constexpr std::size_t kLongestName = 32;

// [first, last) of the rows whose names start with each byte.
using Ranges = std::array<std::pair<std::uint16_t, std::uint16_t>, 256>;

struct Table {
  // Every family's: the peer messages first, by kind (found by kind, not
  // by name), then the commands, sorted by name.
  std::vector<CommandSpec> rows;
  // The containers' subcommands, copied so that each gets an index of its
  // own after the top-level rows (latency tracking counts by it).
  std::deque<std::vector<CommandSpec>> subcommands;
  std::vector<std::string> fullNames;  // by index
  std::size_t peerRows = 0;
  Ranges byFirstByte{};
};

[[noreturn]] void refuseTable(const char* why, std::string_view name) {
  // A programming error in a family's rows: no worker may run with it.
  std::fprintf(stderr, "keyloop: command table: %s: %.*s\n", why, static_cast<int>(name.size()), name.data());
  std::abort();
}

Table mergeFamilies() {
  Table t;
  for (const auto family : kCommandFamilies) {
    for (const CommandSpec& row : family()) t.rows.push_back(row);
  }
  std::sort(t.rows.begin(), t.rows.end(), [](const CommandSpec& a, const CommandSpec& b) {
    const bool aPeer = a.peer != peer::Kind::None, bPeer = b.peer != peer::Kind::None;
    if (aPeer || bPeer) return aPeer != bPeer ? aPeer : a.peer < b.peer;
    return a.name < b.name;
  });
  while (t.peerRows < t.rows.size() && t.rows[t.peerRows].peer != peer::Kind::None) {
    if (t.rows[t.peerRows].peer != static_cast<peer::Kind>(t.peerRows + 1)) {
      refuseTable("a peer message declared twice or missing", t.rows[t.peerRows].name);
    }
    t.rows[t.peerRows].index = static_cast<std::uint16_t>(t.peerRows);
    ++t.peerRows;
  }
  if (t.peerRows + 1 != static_cast<std::size_t>(peer::Kind::Count)) refuseTable("a peer message has no row", "");
  for (std::size_t i = t.peerRows; i < t.rows.size(); ++i) {
    const std::string_view name = t.rows[i].name;
    if (i > t.peerRows && t.rows[i - 1].name == name) refuseTable("declared twice", name);
    if (name.empty() || name.size() > kLongestName) refuseTable("bad name", name);
    auto& range = t.byFirstByte[static_cast<unsigned char>(name[0])];
    if (range.second == 0) range.first = static_cast<std::uint16_t>(i);
    range.second = static_cast<std::uint16_t>(i + 1);
    t.rows[i].index = static_cast<std::uint16_t>(i);
  }
  if (t.rows.size() > metrics::kMaxCommands) refuseTable("grow metrics::kMaxCommands", "");
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    t.fullNames.emplace_back(t.rows[i].peer != peer::Kind::None || !t.rows[i].subcommands.empty() ? "" : t.rows[i].name);
  }
  for (std::size_t i = t.peerRows; i < t.rows.size(); ++i) {
    CommandSpec& container = t.rows[i];
    if (container.subcommands.empty()) continue;
    std::vector<CommandSpec>& copies = t.subcommands.emplace_back(container.subcommands.begin(), container.subcommands.end());
    for (CommandSpec& sub : copies) {
      sub.index = static_cast<std::uint16_t>(t.fullNames.size());
      t.fullNames.push_back(std::string(container.name) + "|" + std::string(sub.name));
    }
    container.subcommands = copies;
  }
  if (t.fullNames.size() > metrics::kMaxTrackedCommands) refuseTable("grow metrics::kMaxTrackedCommands", "");
  if (t.rows.size() > kCommandSlots) refuseTable("grow kCommandSlots (stats.h)", "");
  return t;
}

const Table& table() {
  static const Table merged = mergeFamilies();
  return merged;
}

// Runs for every request (twice for a forwarded one): lowered into a stack
// buffer, ASCII only (command names are), no allocation, no locale; then
// only the names with the same first letter are compared, length first
// (a binary search's memcmp per step cost more than the whole lookup).
[[gnu::always_inline]] inline const CommandSpec* findIn(std::span<const CommandSpec> rows, std::string_view name,
                                                       const Ranges* byFirstByte) {
  std::array<char, kLongestName> buffer;
  if (name.empty() || name.size() > buffer.size()) return nullptr;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    buffer[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
  }
  const std::string_view lower(buffer.data(), name.size());
  std::size_t from = 0, to = rows.size();
  if (byFirstByte != nullptr) std::tie(from, to) = (*byFirstByte)[static_cast<unsigned char>(lower[0])];
  for (std::size_t i = from; i < to; ++i) {
    if (rows[i].name.size() == lower.size() && rows[i].name == lower) return &rows[i];
  }
  return nullptr;
}

}  // namespace

const CommandSpec* findPeerMessage(std::string_view first) {
  const peer::Kind kind = peer::kindOf(first);
  return kind == peer::Kind::None ? nullptr : &table().rows[static_cast<std::size_t>(kind) - 1];
}

const CommandSpec* findCommand(std::string_view name) {
  const Table& t = table();
  return findIn(t.rows, name, &t.byFirstByte);
}

const KeyEventSpec* keyEventsOf(const CommandSpec& topLevel) {
  return topLevel.events.type != 0 ? &topLevel.events : nullptr;
}

std::uint32_t aclCategoriesOf(const CommandSpec& spec) {
  std::uint32_t categories = spec.acl;
  if (spec.flags & kWrite) categories |= acl::kWrite;
  // Scripts are not @read even when read-only (Redis excludes @scripting).
  if ((spec.flags & kReadonly) && !(categories & acl::kScripting)) categories |= acl::kRead;
  if (spec.flags & kAdmin) categories |= acl::kAdmin | acl::kDangerous;
  if (spec.flags & kFast) categories |= acl::kFast;
  if (!(categories & acl::kFast)) categories |= acl::kSlow;
  return categories;
}

const CommandSpec* findSubcommand(const CommandSpec& container, std::string_view name) {
  return findIn(container.subcommands, name, nullptr);
}

std::span<const CommandSpec> commandTable() { return table().rows; }

std::vector<std::string_view> keysOf(const CommandSpec& spec, std::span<const std::string_view> args) {
  std::vector<std::string_view> keys;
  forEachKey(spec, args, [&](std::size_t i, std::size_t) {
    keys.push_back(args[i]);
    return true;
  });
  return keys;
}

std::vector<std::string_view> keyFlagGroups(const CommandSpec& spec, std::span<const std::string_view> args) {
  return splitOn(spec.variableKeyFlags ? spec.variableKeyFlags(args) : spec.keyFlags, ';');
}

ResolvedCommand resolveCommand(std::span<const std::string_view> args) {
  ResolvedCommand r;
  const CommandSpec* spec = args.empty() ? nullptr : findCommand(args[0]);
  if (spec == nullptr) return r;
  r.topLevel = spec;
  r.spec = spec->subcommands.empty() || args.size() < 2 ? spec : findSubcommand(*spec, args[1]);
  return r;
}

std::string ResolvedCommand::fullName() const {
  if (topLevel == nullptr) return {};
  std::string name(topLevel->name);
  if (spec != nullptr && spec != topLevel) name += "|" + std::string(spec->name);
  return name;
}

std::string ResolvedCommand::unknownError(std::span<const std::string_view> args) const {
  if (topLevel != nullptr) {
    return "ERR unknown subcommand '" + std::string(args[1].substr(0, 128)) + "'. Try " + toUpper(topLevel->name) +
           " HELP.";
  }
  std::string quoted;
  for (std::size_t i = 1; i < args.size() && quoted.size() < 128; ++i) {
    quoted += "'" + std::string(args[i].substr(0, 128 - quoted.size())) + "' ";
  }
  return "ERR unknown command '" + std::string(args.empty() ? "" : args[0].substr(0, 128)) +
         "', with args beginning with: " + quoted;
}

std::string arityError(const ResolvedCommand& command) {
  return "ERR wrong number of arguments for '" + command.fullName() + "' command";
}

std::string subcommandSyntaxError(std::string_view sub, std::string_view container) {
  return "ERR unknown subcommand or wrong number of arguments for '" + std::string(sub) + "'. Try " +
         std::string(container) + " HELP.";
}

std::span<const std::string> metrics::trackedCommandNames() { return table().fullNames; }

std::span<const std::string_view> metrics::countedCommandNames() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> all;
    for (const CommandSpec& c : commandTable()) all.push_back(c.peer != peer::Kind::None ? std::string_view() : c.name);
    return all;
  }();
  return names;
}

std::span<const CommandSpec> allCommands() {
  return commandTable().subspan(table().peerRows);
}

}  // namespace keyloop
