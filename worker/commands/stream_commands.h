// The stream commands' handlers (streams.cpp, stream_groups.cpp,
// stream_info.cpp); their rows are in stream_rows.cpp.
#pragma once

#include <optional>
#include <string_view>

#include "worker/execution/command_table.h"

namespace keyloop::commands::streams {

// XREAD's and XREADGROUP's options; nullopt after replying the error.
struct ReadArgs {
  std::size_t count = 0;  // 0: no limit
  bool blocks = false, noAck = false;
  std::size_t streamsAt = 0, keys = 0;  // the first key's index, how many
  std::string_view group, consumer;
};
std::optional<ReadArgs> readArgsOrReply(CommandContext& ctx, bool group);

void xadd(CommandContext&);
void xrange(CommandContext&);
void xrevrange(CommandContext&);
void xlen(CommandContext&);
void xdel(CommandContext&);
void xtrim(CommandContext&);
void xsetid(CommandContext&);
void xread(CommandContext&);
void lastIds(CommandContext&);  // peer::LastIds

void xreadgroup(CommandContext&);
void xack(CommandContext&);
void xclaim(CommandContext&);
void xautoclaim(CommandContext&);
void xpending(CommandContext&);
void xgroupCreate(CommandContext&);
void xgroupCreateconsumer(CommandContext&);
void xgroupDelconsumer(CommandContext&);
void xgroupDestroy(CommandContext&);
void xgroupSetid(CommandContext&);
void xgroupHelp(CommandContext&);

void xinfoStream(CommandContext&);
void xinfoGroups(CommandContext&);
void xinfoConsumers(CommandContext&);
void xinfoHelp(CommandContext&);

}  // namespace keyloop::commands::streams
