// How a write is logged (aof_log.h), so that replay redoes it on whichever
// worker owns its keys then, for any worker count:
//   - a write whose keys share one slot (one key, or hash-tagged keys), or
//     a keyless one (FLUSHALL, FUNCTION LOAD), is logged as it propagates
//     (effects.h: propagatedForm, Redis 7.0's rules: SET ... PXAT for a
//     relative TTL, SREM for SPOP, SET ... KEEPTTL for INCRBYFLOAT...),
//     several commands as one block;
//   - a write over keys of several slots is logged as what its written
//     keys hold afterwards: RESTORE ... REPLACE ABSTTL or DEL, in one block
//     (no single worker could replay the command itself).
#pragma once

#include "worker/effects.h"

namespace keyloop {

class AofLog;

void logWrite(AofLog& log, const CommandRun& run, const Effects& effects);

}  // namespace keyloop
