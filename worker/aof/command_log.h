// How a write is logged (aof_log.h), so that replay redoes it on whichever
// worker owns its keys then, for any worker count:
//   - a command whose keys share one slot (one key, or hash-tagged keys)
//     is logged as it was sent, and a relative TTL (SET EX, EXPIRE: the
//     table's kRelativeExpiry) is followed by PEXPIREAT with the absolute time;
//   - a keyless write (FLUSHALL, FUNCTION LOAD) is logged as sent;
//   - a command over keys of several slots, or whose effect is a random
//     choice (SPOP: kLoggedAsEffect), is logged as what its written keys
//     hold afterwards: RESTORE ... REPLACE ABSTTL or DEL, in one block.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace keyloop {

class AofLog;
class Store;
struct CommandSpec;

void logWrite(AofLog& log, const CommandSpec& spec, std::span<const std::string_view> args, Store& store,
              std::int64_t nowMs);

}  // namespace keyloop
