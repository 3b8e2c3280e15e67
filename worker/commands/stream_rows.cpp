// The stream family's rows of the command table (command_families.h), and
// where XREAD's and XREADGROUP's keys, IDs and timeout sit among their
// options (the keys are the first half of what follows STREAMS).
#include "worker/commands/stream_commands.h"
#include "worker/execution/command_families.h"
#include "worker/keyspace/kind.h"
#include "common/text/text.h"

namespace keyloop {

namespace {

using namespace commands::streams;

// The index after STREAMS, walking the options as the handler does; 0 when
// there is none (the handler replies the error).
std::size_t streamsAt(std::span<const std::string_view> args, std::size_t* blockAt = nullptr) {
  for (std::size_t i = 1; i < args.size();) {
    if (equalsIgnoreCase(args[i], "streams")) return (args.size() - i - 1) % 2 == 0 ? i + 1 : 0;
    if (equalsIgnoreCase(args[i], "block") && blockAt != nullptr) *blockAt = i + 1;
    if (equalsIgnoreCase(args[i], "count") || equalsIgnoreCase(args[i], "block")) i += 2;
    else if (equalsIgnoreCase(args[i], "group")) i += 3;
    else if (equalsIgnoreCase(args[i], "noack")) i += 1;
    else return 0;
  }
  return 0;
}

void streamKeys(std::span<const std::string_view> args, std::vector<std::size_t>& indices) {
  const std::size_t at = streamsAt(args);
  if (at == 0) return;
  for (std::size_t k = 0; k < (args.size() - at) / 2; ++k) indices.push_back(at + k);
}

std::size_t blockTimeoutAt(std::span<const std::string_view> args) {
  std::size_t blockAt = 0;
  return streamsAt(args, &blockAt) > 0 && blockAt < args.size() ? blockAt : 0;
}

std::vector<std::string> restrictToStream(std::span<const std::string_view> args, std::string_view key) {
  const std::size_t at = streamsAt(args), n = (args.size() - at) / 2;
  std::vector<std::string> out(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(at));
  for (std::size_t k = 0; k < n; ++k) {
    if (args[at + k] != key) continue;
    out.emplace_back(key);
    out.emplace_back(args[at + n + k]);
    break;
  }
  return out;
}

void newestMarks(std::span<const std::string_view> args, std::vector<std::pair<std::size_t, std::size_t>>& out) {
  const std::size_t at = streamsAt(args);
  if (at == 0) return;
  const std::size_t n = (args.size() - at) / 2;
  for (std::size_t k = 0; k < n; ++k) {
    if (args[at + n + k] == "$") out.emplace_back(at + k, at + n + k);
  }
}

constexpr auto kStream = static_cast<std::uint8_t>(Type::Stream);
constexpr BlockingSpec kReadWait{.waitKeys = {.find = streamKeys}, .waitsFor = kStream, .timeoutAt = 0,
                                 .optionalTimeoutAt = blockTimeoutAt, .restrictTo = restrictToStream,
                                 .newestMarks = newestMarks};
constexpr BlockingSpec kGroupReadWait{.waitKeys = {.find = streamKeys}, .waitsFor = kStream, .timeoutAt = 0,
                                      .optionalTimeoutAt = blockTimeoutAt, .restrictTo = restrictToStream,
                                      .goneError = "UNBLOCKED the stream key no longer exists"};

}  // namespace

std::span<const CommandSpec> streamCommands() {
  // clang-format off
  static constexpr CommandSpec kGroupSubcommands[] = {
      {.name = "create", .arity = -5, .flags = kWrite, .acl = acl::kStream,
       .keys = {2, 2, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW insert", .handler = xgroupCreate, .events = {.type = 't', .event = "xgroup-create"}},
      {.name = "createconsumer", .arity = 5, .flags = kWrite | kNoneIsNoChange, .acl = acl::kStream,
       .keys = {2, 2, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW insert", .handler = xgroupCreateconsumer, .events = {.type = 't', .event = "xgroup-createconsumer"}},
      {.name = "delconsumer", .arity = 5, .flags = kWrite | kNeverGrows, .acl = acl::kStream,
       .keys = {2, 2, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW delete", .handler = xgroupDelconsumer, .events = {.type = 't', .event = "xgroup-delconsumer"}},
      {.name = "destroy", .arity = 4, .flags = kWrite | kNoneIsNoChange | kNeverGrows, .acl = acl::kStream,
       .keys = {2, 2, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW delete", .handler = xgroupDestroy, .events = {.type = 't', .event = "xgroup-destroy"}},
      {.name = "help", .arity = 2, .flags = 0, .acl = acl::kStream,
       .handler = xgroupHelp},
      {.name = "setid", .arity = -5, .flags = kWrite, .acl = acl::kStream,
       .keys = {2, 2, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = xgroupSetid, .events = {.type = 't', .event = "xgroup-setid"}},
  };
  static constexpr CommandSpec kInfoSubcommands[] = {
      {.name = "consumers", .arity = 4, .flags = kReadonly, .acl = acl::kStream,
       .keys = {2, 2, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = xinfoConsumers},
      {.name = "groups", .arity = 3, .flags = kReadonly, .acl = acl::kStream,
       .keys = {2, 2, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = xinfoGroups},
      {.name = "help", .arity = 2, .flags = 0, .acl = acl::kStream,
       .handler = xinfoHelp},
      {.name = "stream", .arity = -3, .flags = kReadonly, .acl = acl::kStream,
       .keys = {2, 2, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = xinfoStream},
  };
  static constexpr CommandSpec kRows[] = {
      {.name = "peer-last-ids", .arity = 0, .flags = 0,
       .handler = lastIds, .peer = peer::Kind::LastIds},
      {.name = "xack", .arity = -4, .flags = kWrite | kFast | kNeverGrows, .acl = acl::kStream,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = xack},
      {.name = "xadd", .arity = -5, .flags = kWrite | kFast, .acl = acl::kStream,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW insert", .handler = xadd, .events = {.type = 't', .event = "xadd"}},
      {.name = "xautoclaim", .arity = -6, .flags = kWrite | kFast, .acl = acl::kStream,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = xautoclaim},
      {.name = "xclaim", .arity = -6, .flags = kWrite | kFast, .acl = acl::kStream,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = xclaim},
      {.name = "xdel", .arity = -3, .flags = kWrite | kFast | kNeverGrows, .acl = acl::kStream,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW delete", .handler = xdel, .events = {.type = 't', .event = "xdel"}},
      {.name = "xgroup", .arity = -2, .flags = 0,
       .subcommands = kGroupSubcommands},
      {.name = "xinfo", .arity = -2, .flags = 0,
       .subcommands = kInfoSubcommands},
      {.name = "xlen", .arity = 2, .flags = kReadonly | kFast, .acl = acl::kStream,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO", .handler = xlen},
      {.name = "xpending", .arity = -3, .flags = kReadonly, .acl = acl::kStream,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = xpending},
      {.name = "xrange", .arity = -4, .flags = kReadonly, .acl = acl::kStream,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = xrange},
      {.name = "xread", .arity = -4, .flags = kReadonly, .acl = acl::kStream | acl::kBlocking,
       .keys = {.find = streamKeys}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RO access", .handler = xread, .blocking = &kReadWait},
      {.name = "xreadgroup", .arity = -7, .flags = kWrite, .acl = acl::kStream | acl::kBlocking,
       .keys = {.find = streamKeys}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access", .handler = xreadgroup, .blocking = &kGroupReadWait},
      {.name = "xrevrange", .arity = -4, .flags = kReadonly, .acl = acl::kStream,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = xrevrange},
      {.name = "xsetid", .arity = -3, .flags = kWrite | kFast, .acl = acl::kStream,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = xsetid, .events = {.type = 't', .event = "xsetid"}},
      {.name = "xtrim", .arity = -4, .flags = kWrite | kNeverGrows, .acl = acl::kStream,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW delete", .handler = xtrim, .events = {.type = 't', .event = "xtrim"}},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
