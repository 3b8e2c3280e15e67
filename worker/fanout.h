// Fan-out: commands whose keys (or whose scope, like DBSIZE) span several
// workers, or whose keys are locked right now. The worker that got the
// command splits it by owner (Router), runs the parts, and merges the
// replies into the one reply Redis would give: DEL/EXISTS/TOUCH/UNLINK
// summed, KEYS concatenated, DBSIZE and INFO's numbers summed, SCAN walking
// worker after worker with the worker index in the cursor's low bits.
// MGET, MSET, MSETNX, RENAME and RENAMENX across owners run as transactions
// (transaction.h), so no client ever sees one half done.
#pragma once

#include <span>
#include <string_view>

#include "worker/command_table.h"

namespace keyloop {

class Server;
class Client;

// True when `spec` with `args` must involve workers other than this one.
bool needsFanOut(Server& server, const CommandSpec& spec, std::span<const std::string_view> args);
// Runs it; the reply reaches `client` in its pipeline order.
void fanOut(Server& server, Client& client, const CommandSpec& spec, std::span<const std::string_view> args);

}  // namespace keyloop
