// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT: Lua scripts (lua_engine.h)
// run where their declared keys live, like any keyed command: on their
// one owner, or through the multi-owner executor when they span workers
// (the table declares EVAL's keys and MultiOwnerAtomic). A command the
// script calls runs against the same store: a key it did not declare is
// served when this worker owns it (or it is one of the locked keys), and
// otherwise reached on its owner mid-script (script_reach.h).
//
// Every worker has its own interpreter and script cache: SCRIPT LOAD and
// SCRIPT FLUSH run on all of them (broadcast), and an EVAL that compiled
// a new script sends it to the others (the peer message ScriptLoad), so EVALSHA works
// whichever worker a client lands on.
#pragma once

namespace keyloop {

struct CommandContext;

namespace commands {
void eval(CommandContext& ctx);
void evalRo(CommandContext& ctx);
void evalsha(CommandContext& ctx);
void evalshaRo(CommandContext& ctx);
void scriptLoad(CommandContext& ctx);
void scriptExists(CommandContext& ctx);
void scriptFlush(CommandContext& ctx);
void scriptKill(CommandContext& ctx);
void scriptHelp(CommandContext& ctx);
void loadScriptHere(CommandContext& ctx);  // the peer message ScriptLoad
}  // namespace commands

}  // namespace keyloop
