// The declarative command table (see command_table.h).
#include "worker/command_table.h"

#include <algorithm>
#include <array>
#include <tuple>

#include "common/metrics/shared_metrics.h"
#include "worker/args.h"
#include "worker/commands/commands.h"
#include "worker/atomic.h"
#include "worker/pubsub.h"
#include "worker/scripting/functions.h"
#include "worker/scripting/scripts.h"
#include "worker/transaction.h"

namespace keyloop {

namespace {

using namespace commands;

constexpr std::uint32_t R = kReadonly, W = kWrite, F = kFast;

// SET reads its key only with GET (Redis's setGetKeys).
std::string_view setKeyFlags(std::span<const std::string_view> args) {
  for (std::size_t i = 3; i < args.size(); ++i) {
    if (equalsIgnoreCase(args[i], "get")) return "RW access update";
  }
  return "OW update";
}

constexpr auto kList = static_cast<std::uint8_t>(Type::List), kZset = static_cast<std::uint8_t>(Type::Zset);
constexpr BlockingSpec kListWait{{1, -2, 1}, kList, -1};           // BLPOP key... timeout
constexpr BlockingSpec kListMoveWait{{1, 1, 1}, kList, -1};        // BLMOVE source dest ... timeout
constexpr BlockingSpec kListNumkeysWait{{0, 0, 0, 2}, kList, 1};   // BLMPOP timeout numkeys key...
constexpr BlockingSpec kZsetWait{{1, -2, 1}, kZset, -1};           // BZPOPMIN key... timeout
constexpr BlockingSpec kZsetNumkeysWait{{0, 0, 0, 2}, kZset, 1};   // BZMPOP timeout numkeys key...

constexpr CommandSpec kClientSubcommands[] = {
    {"getname", 2, F | kConnection | kNoScript, {0, 0, 0}, CrossWorker::None, "", "connection", "Returns the name of the connection.", "2.6.9", "", clientGetname},
    {"help", 2, F | kConnection, {0, 0, 0}, CrossWorker::None, "", "connection", "Returns helpful text about the different subcommands.", "5.0.0", "", clientHelp},
    {"id", 2, F | kConnection | kNoScript, {0, 0, 0}, CrossWorker::None, "", "connection", "Returns the unique client ID of the connection.", "5.0.0", "", clientId},
    {"info", 2, F | kConnection | kNoScript, {0, 0, 0}, CrossWorker::GatherTotals, "", "connection", "Returns information about the connection.", "6.2.0", "", clientInfo},
    {"reply", 3, F | kNoScript | kConnection, {0, 0, 0}, CrossWorker::None, "", "connection", "Instructs the server whether to reply to commands.", "3.2.0", "ON|OFF|SKIP", clientReply},
    {"list", -2, kAdmin | kConnection | kNoScript, {0, 0, 0}, CrossWorker::None, "", "connection", "Lists open connections.", "2.4.0", "[TYPE:client-type]", clientList},
    {"setname", 3, F | kConnection | kNoScript, {0, 0, 0}, CrossWorker::None, "", "connection", "Sets the connection name.", "2.6.9", "connection-name", clientSetname},
    {"unblock", -3, kAdmin | kConnection | kNoScript, {0, 0, 0}, CrossWorker::BroadcastSum, "", "connection", "Unblock a client blocked in a blocking command from a different connection", "5.0.0", "client-id [TIMEOUT|ERROR]", clientUnblock},
};

constexpr CommandSpec kClusterSubcommands[] = {
    {"countkeysinslot", 3, 0, {0, 0, 0}, CrossWorker::BroadcastSum, "", "cluster", "Returns the number of keys in a hash slot.", "3.0.0", "slot", clusterCountkeysinslot},
    {"getkeysinslot", 4, 0, {0, 0, 0}, CrossWorker::BroadcastConcat, "", "cluster", "Returns the key names in a hash slot.", "3.0.0", "slot count", clusterGetkeysinslot},
    {"help", 2, 0, {0, 0, 0}, CrossWorker::None, "", "cluster", "Returns helpful text about the different subcommands.", "5.0.0", "", clusterHelp},
    {"info", 2, 0, {0, 0, 0}, CrossWorker::None, "", "cluster", "Returns information about the state of a node.", "3.0.0", "", clusterInfo},
    {"keyslot", 3, 0, {0, 0, 0}, CrossWorker::None, "", "cluster", "Returns the hash slot for a key.", "3.0.0", "key", clusterKeyslot},
    {"myid", 2, 0, {0, 0, 0}, CrossWorker::None, "", "cluster", "Returns the ID of a node.", "3.0.0", "", clusterMyid},
    {"nodes", 2, 0, {0, 0, 0}, CrossWorker::None, "", "cluster", "Returns the cluster configuration for a node.", "3.0.0", "", clusterNodes},
    {"shards", 2, 0, {0, 0, 0}, CrossWorker::None, "", "cluster", "Returns the mapping of cluster slots to shards.", "7.0.0", "", clusterShards},
    {"slots", 2, 0, {0, 0, 0}, CrossWorker::None, "", "cluster", "Returns the mapping of cluster slots to nodes.", "3.0.0", "", clusterSlots},
};

constexpr CommandSpec kCommandSubcommands[] = {
    {"count", 2, kConnection, {0, 0, 0}, CrossWorker::None, "", "server", "Returns a count of commands.", "2.8.13", "", commandCount},
    {"docs", -2, kConnection, {0, 0, 0}, CrossWorker::None, "", "server", "Returns documentary information about one, multiple or all commands.", "7.0.0", "[command-name...]", commandDocs},
    {"getkeys", -4, kConnection, {0, 0, 0}, CrossWorker::None, "", "server", "Extracts the key names from an arbitrary command.", "2.8.13", "command [arg...]", commandGetkeys},
    {"getkeysandflags", -4, kConnection, {0, 0, 0}, CrossWorker::None, "", "server", "Extracts the key names and access flags for an arbitrary command.", "7.0.0", "command [arg...]", commandGetkeysAndFlags},
    {"help", 2, kConnection, {0, 0, 0}, CrossWorker::None, "", "server", "Returns helpful text about the different subcommands.", "5.0.0", "", commandHelp},
    {"info", -2, kConnection, {0, 0, 0}, CrossWorker::GatherTotals, "", "server", "Returns information about one, multiple or all commands.", "2.8.13", "[command-name...]", commandInfo},
};

constexpr CommandSpec kConfigSubcommands[] = {
    {"get", -3, kAdmin | kNoScript, {0, 0, 0}, CrossWorker::None, "RO access", "server", "Returns the effective values of configuration parameters.", "2.0.0", "parameter...", configGet},
    {"help", 2, 0, {0, 0, 0}, CrossWorker::None, "", "server", "Returns helpful text about the different subcommands.", "5.0.0", "", configHelp},
    {"resetstat", 2, kAdmin | kNoScript, {0, 0, 0}, CrossWorker::BroadcastSame, "", "server", "Reset the stats returned by INFO", "2.0.0", "", configResetstat},
    {"rewrite", 2, kAdmin | kNoScript, {0, 0, 0}, CrossWorker::None, "", "server", "Rewrite the configuration file with the in memory configuration", "2.8.0", "", configRewrite},
    {"set", -4, kAdmin | kNoScript, {0, 0, 0}, CrossWorker::BroadcastSame, "", "server", "Set configuration parameters to the given values", "2.0.0", "(parameter value)...", configSet},
};

constexpr CommandSpec kMemorySubcommands[] = {
    {"doctor", 2, 0, {0, 0, 0}, CrossWorker::None, "", "server", "Outputs memory problems report", "4.0.0", "", memoryDoctor},
    {"help", 2, 0, {0, 0, 0}, CrossWorker::None, "", "server", "Show helpful text about the different subcommands", "4.0.0", "", memoryHelp},
    {"malloc-stats", 2, 0, {0, 0, 0}, CrossWorker::None, "", "server", "Show allocator internal stats", "4.0.0", "", memoryMallocStats},
    {"purge", 2, 0, {0, 0, 0}, CrossWorker::BroadcastSame, "", "server", "Ask the allocator to release memory", "4.0.0", "", memoryPurge},
    {"usage", -3, R, {2, 2, 1}, CrossWorker::Keyed, "RO", "server", "Estimate the memory usage of a key", "4.0.0", "key [SAMPLES:count]", memoryUsage},
};

constexpr CommandSpec kObjectSubcommands[] = {
    {"encoding", 3, R, {2, 2, 1}, CrossWorker::Keyed, "RO", "generic", "Inspect the internal encoding of a Redis object", "2.2.3", "key", objectEncoding},
    {"freq", 3, R, {2, 2, 1}, CrossWorker::Keyed, "RO", "generic", "Get the logarithmic access frequency counter of a Redis object", "4.0.0", "key", objectFreq},
    {"help", 2, 0, {0, 0, 0}, CrossWorker::None, "", "generic", "Show helpful text about the different subcommands", "6.2.0", "", objectHelp},
    {"idletime", 3, R, {2, 2, 1}, CrossWorker::Keyed, "RO", "generic", "Get the time since a Redis object was last accessed", "2.2.3", "key", objectIdletime},
    {"refcount", 3, R, {2, 2, 1}, CrossWorker::Keyed, "RO", "generic", "Get the number of references to the value of the key", "2.2.3", "key", objectRefcount},
};

constexpr CommandSpec kPubsubSubcommands[] = {
    {"channels", -2, 0, {0, 0, 0}, CrossWorker::BroadcastUnion, "", "pubsub", "Returns the active channels.", "2.8.0", "[pattern]", pubsubChannels},
    {"help", 2, 0, {0, 0, 0}, CrossWorker::None, "", "pubsub", "Returns helpful text about the different subcommands.", "6.2.0", "", pubsubHelp},
    {"numpat", 2, 0, {0, 0, 0}, CrossWorker::BroadcastCountUnion, "", "pubsub", "Returns a count of unique pattern subscriptions.", "2.8.0", "", pubsubNumpat},
    {"numsub", -2, 0, {0, 0, 0}, CrossWorker::BroadcastPairSums, "", "pubsub", "Returns a count of subscribers to channels.", "2.8.0", "[channel...]", pubsubNumsub},
    {"shardchannels", -2, 0, {0, 0, 0}, CrossWorker::BroadcastUnion, "", "pubsub", "Returns the active shard channels.", "7.0.0", "[pattern]", pubsubShardchannels},
    {"shardnumsub", -2, 0, {0, 0, 0}, CrossWorker::BroadcastPairSums, "", "pubsub", "Returns the count of subscribers of shard channels.", "7.0.0", "[shardchannel...]", pubsubShardnumsub},
};

constexpr CommandSpec kScriptSubcommands[] = {
    {"exists", -3, kNoScript, {0, 0, 0}, CrossWorker::None, "", "scripting", "Determines whether server-side Lua scripts exist in the script cache.", "2.6.0", "sha1...", scriptExists},
    {"flush", -2, kNoScript, {0, 0, 0}, CrossWorker::BroadcastSame, "", "scripting", "Removes all server-side Lua scripts from the script cache.", "2.6.0", "[ASYNC|SYNC]", scriptFlush},
    {"help", 2, 0, {0, 0, 0}, CrossWorker::None, "", "scripting", "Returns helpful text about the different subcommands.", "5.0.0", "", scriptHelp},
    {"kill", 2, kNoScript | kAllowBusy, {0, 0, 0}, CrossWorker::BroadcastKill, "", "scripting", "Terminates a server-side Lua script during execution.", "2.6.0", "", scriptKill},
    {"load", 3, kNoScript, {0, 0, 0}, CrossWorker::BroadcastSame, "", "scripting", "Loads a server-side Lua script to the script cache.", "2.6.0", "script", scriptLoad},
};

constexpr CommandSpec kFunctionSubcommands[] = {
    {"delete", 3, kNoScript | W, {0, 0, 0}, CrossWorker::BroadcastSame, "", "scripting", "Deletes a library and its functions.", "7.0.0", "library-name", functionDelete},
    {"dump", 2, kNoScript, {0, 0, 0}, CrossWorker::None, "", "scripting", "Dumps all libraries into a serialized binary payload.", "7.0.0", "", functionDump},
    {"flush", -2, kNoScript | W, {0, 0, 0}, CrossWorker::BroadcastSame, "", "scripting", "Deletes all libraries and functions.", "7.0.0", "[ASYNC|SYNC]", functionFlush},
    {"help", 2, 0, {0, 0, 0}, CrossWorker::None, "", "scripting", "Returns helpful text about the different subcommands.", "7.0.0", "", functionHelp},
    {"kill", 2, kNoScript | kAllowBusy, {0, 0, 0}, CrossWorker::BroadcastKill, "", "scripting", "Terminates a function during execution.", "7.0.0", "", functionKill},
    {"list", -2, kNoScript, {0, 0, 0}, CrossWorker::None, "", "scripting", "Returns information about all libraries.", "7.0.0", "[LIBRARYNAME:library-name-pattern] [WITHCODE]", functionList},
    {"load", -3, kNoScript | W, {0, 0, 0}, CrossWorker::BroadcastSame, "", "scripting", "Creates a library.", "7.0.0", "[REPLACE] function-code", functionLoad},
    {"restore", -3, kNoScript | W, {0, 0, 0}, CrossWorker::BroadcastSame, "", "scripting", "Restores all libraries from a payload.", "7.0.0", "serialized-value [FLUSH|APPEND|REPLACE]", functionRestore},
    {"stats", 2, kNoScript | kAllowBusy, {0, 0, 0}, CrossWorker::None, "", "scripting", "Returns information about a function during execution.", "7.0.0", "", functionStats},
};

constexpr CommandSpec kDebugSubcommands[] = {
    {"help", 2, kAdmin, {0, 0, 0}, CrossWorker::None, "", "server", "Returns helpful text about the different subcommands.", "1.0.0", "", debugHelp},
    {"protocol", 3, kAdmin, {0, 0, 0}, CrossWorker::None, "", "server", "Replies with a value of each RESP type.", "1.0.0", "type", debugProtocol},
    {"set-active-expire", 3, kAdmin, {0, 0, 0}, CrossWorker::BroadcastSame, "", "server", "Pauses or resumes the active expire cycle.", "1.0.0", "0|1", debugSetActiveExpire},
    {"set-disable-deny-scripts", 3, kAdmin, {0, 0, 0}, CrossWorker::BroadcastSame, "", "server", "Lets scripts call commands denied in scripts (tests only).", "1.0.0", "0|1", debugSetDisableDenyScripts},
};

// Sorted by name: findCommand() binary-searches it.
constexpr CommandSpec kCommands[] = {
    {"__block", -8, kInternal, {0, 0, 0, 5}, CrossWorker::None, "", "list", "Registers a blocked client's wait on keys of this worker.", "0.1.0", "id worker resp type numkeys key... command...", blockWaiter},
    {"__commit", -2, kInternal | W | kHoldsLocks, {0, 0, 0, 0, commitKeyIndices}, CrossWorker::None, "", "keyspace", "Applies a cross-worker transaction's writes and unlocks.", "0.1.0", "transaction [op...]", commitKeys},
    {"__deliver", 3, kInternal, {0, 0, 0}, CrossWorker::None, "", "pubsub", "Delivers a keyspace notification to this worker's subscribers.", "0.1.0", "channel message", publish},
    {"__exec", -3, kInternal | kMayWrite | kCarriesRequest, {0, 0, 0, 0, transaction::execKeyIndices}, CrossWorker::None, "", "transactions", "Runs a transaction whose keys all live here, and checks its watches.", "0.1.0", "watches [key version existed]... commands [argc arg...]...", execHere},
    {"__lock", -3, kInternal | kCarriesRequest, {2, -1, 1}, CrossWorker::Keyed, "", "keyspace", "Locks keys for a cross-worker transaction; replies their values.", "0.1.0", "transaction key...", lockKeys},
    {"__retry", 2, kInternal, {0, 0, 0}, CrossWorker::None, "", "list", "A waited-on key has an element: run the command the long way.", "0.1.0", "id", retryWait},
    {"__rewait", 2, kInternal, {0, 0, 0}, CrossWorker::None, "", "list", "A blocked client waits again (its element went).", "0.1.0", "id", rewaitWaiter},
    {"__scriptload", 2, kInternal, {0, 0, 0}, CrossWorker::None, "", "scripting", "Compiles a script another worker ran (EVALSHA finds it here too).", "0.1.0", "script", loadScriptHere},
    {"__served", 3, kInternal, {0, 0, 0}, CrossWorker::None, "", "list", "A blocked client's reply, from the owner that served it.", "0.1.0", "id reply", servedWait},
    {"__totals", 1, kInternal, {0, 0, 0}, CrossWorker::None, "", "server", "This worker's INFO counters (INFO sums them).", "0.1.0", "", totals},
    {"__unblock", 2, kInternal, {0, 0, 0}, CrossWorker::None, "", "list", "A blocked client waits no more.", "0.1.0", "id", unblockWaiter},
    {"__unwatch", -2, kInternal | kHoldsLocks, {1, -1, 1}, CrossWorker::Keyed, "", "transactions", "A client watches these keys no more.", "0.1.0", "key...", unwatchKeys},
    {"__wake", 2, kInternal, {0, 0, 0}, CrossWorker::None, "", "list", "May a blocked client be served? 1 reserves it.", "0.1.0", "id", wakeWait},
    {"__watch", -2, kInternal | kCarriesRequest, {1, -1, 1}, CrossWorker::Keyed, "", "transactions", "Registers a client's watch of keys; replies their versions.", "0.1.0", "key...", watchKeys},
    {"append", 3, W, {1, 1, 1}, CrossWorker::Keyed, "RW insert", "string", "Appends a string to the value of a key. Creates the key if it doesn't exist.", "2.0.0", "key value", append},
    {"asking", 1, F, {0, 0, 0}, CrossWorker::None, "", "cluster", "Signals that a cluster client is following an -ASK redirect.", "3.0.0", "", clusterAccept},
    {"auth", -2, kNoAuth | F | kConnection | kNoScript | kAllowBusy, {0, 0, 0}, CrossWorker::None, "", "connection", "Authenticates the connection.", "1.0.0", "[username] password", auth},
    {"bgrewriteaof", 1, kAdmin | kNoScript | kNoMulti, {0, 0, 0}, CrossWorker::None, "", "server", "Asynchronously rewrites the append-only file to disk.", "1.0.0", "", nullptr, {}, nullptr, nullptr, bgrewriteaof},
    {"bgsave", -1, kAdmin | kNoScript | kNoMulti, {0, 0, 0}, CrossWorker::None, "", "server", "Asynchronously saves the database(s) to disk.", "1.0.0", "[SCHEDULE]", nullptr, {}, nullptr, nullptr, bgsave},
    {"bitcount", -2, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "bitmap", "Count set bits in a string", "2.6.0", "key [start end [BYTE|BIT]]", bitcount},
    {"bitfield", -2, W, {1, 1, 1}, CrossWorker::Keyed, "RW access update variable_flags", "bitmap", "Perform arbitrary bitfield integer operations on strings", "3.2.0", "key [(GET encoding offset)|(SET encoding offset value)|(INCRBY encoding offset increment)|(OVERFLOW WRAP|SAT|FAIL)]...", bitfield},
    {"bitfield_ro", -2, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO access", "bitmap", "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD", "6.0.0", "key [(GET encoding offset)]...", bitfieldRo},
    {"bitop", -4, W, {2, -1, 1}, CrossWorker::MultiOwnerAtomic, "OW update;RO access", "bitmap", "Perform bitwise operations between strings", "2.6.0", "operation key key...", bitop},
    {"bitpos", -3, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "bitmap", "Find first bit set or clear in a string", "2.8.7", "key bit [start [end [BYTE|BIT]]]", bitpos},
    {"blmove", 6, W | kNoScript, {1, 2, 1}, CrossWorker::MultiOwnerAtomic, "RW access delete;RW insert", "list", "Pop an element from a list, push it to another list and return it; or block until one is available", "6.2.0", "key key (LEFT|RIGHT) (LEFT|RIGHT) timeout", blmove, {}, nullptr, &kListMoveWait},
    {"blmpop", -5, W | kNeverGrows, {0, 0, 0, 2}, CrossWorker::MultiOwnerAtomic, "RW access delete", "list", "Pop elements from a list, or block until one is available", "7.0.0", "timeout numkeys key... (LEFT|RIGHT) [COUNT:count]", blmpop, {}, nullptr, &kListNumkeysWait},
    {"blpop", -3, W | kNoScript | kNeverGrows, {1, -2, 1}, CrossWorker::MultiOwnerAtomic, "RW access delete", "list", "Remove and get the first element in a list, or block until one is available", "2.0.0", "key... timeout", blpop, {}, nullptr, &kListWait},
    {"brpop", -3, W | kNoScript | kNeverGrows, {1, -2, 1}, CrossWorker::MultiOwnerAtomic, "RW access delete", "list", "Remove and get the last element in a list, or block until one is available", "2.0.0", "key... timeout", brpop, {}, nullptr, &kListWait},
    {"brpoplpush", 4, W | kNoScript, {1, 2, 1}, CrossWorker::MultiOwnerAtomic, "RW access delete;RW insert", "list", "Pop an element from a list, push it to another list and return it; or block until one is available", "2.2.0", "key key timeout", brpoplpush, {}, nullptr, &kListMoveWait},
    {"bzmpop", -5, W | kNeverGrows, {0, 0, 0, 2}, CrossWorker::MultiOwnerAtomic, "RW access delete", "sorted-set", "Remove and return members with scores in a sorted set or block until one is available", "7.0.0", "timeout numkeys key... (MIN|MAX) [COUNT:count]", bzmpop, {}, nullptr, &kZsetNumkeysWait},
    {"bzpopmax", -3, W | F | kNoScript | kNeverGrows, {1, -2, 1}, CrossWorker::MultiOwnerAtomic, "RW access delete", "sorted-set", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", "5.0.0", "key... timeout", bzpopmax, {}, nullptr, &kZsetWait},
    {"bzpopmin", -3, W | F | kNoScript | kNeverGrows, {1, -2, 1}, CrossWorker::MultiOwnerAtomic, "RW access delete", "sorted-set", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", "5.0.0", "key... timeout", bzpopmin, {}, nullptr, &kZsetWait},
    {"client", -2, 0, {0, 0, 0}, CrossWorker::None, "", "connection", "A container for client connection commands.", "2.4.0", "", nullptr, kClientSubcommands},
    {"cluster", -2, 0, {0, 0, 0}, CrossWorker::None, "", "cluster", "A container for Redis Cluster commands.", "3.0.0", "", nullptr, kClusterSubcommands},
    {"command", -1, kConnection, {0, 0, 0}, CrossWorker::None, "", "server", "Returns detailed information about all commands.", "2.8.13", "", command, kCommandSubcommands},
    {"config", -2, 0, {0, 0, 0}, CrossWorker::None, "", "server", "A container for server configuration commands.", "2.0.0", "", nullptr, kConfigSubcommands},
    {"copy", -3, W, {1, 2, 1}, CrossWorker::MultiOwnerAtomic, "RO access;OW update", "generic", "Copy a key", "6.2.0", "key key [DB:destination-db] [REPLACE]", copy},
    {"dbsize", 1, R | F, {0, 0, 0}, CrossWorker::BroadcastSum, "", "keyspace", "Returns the number of keys in the database.", "1.0.0", "", dbsize},
    {"debug", -2, kAdmin | kNoScript | kDebug, {0, 0, 0}, CrossWorker::None, "", "server", "A container for debugging commands.", "1.0.0", "", nullptr, kDebugSubcommands},
    {"decr", 2, W | F, {1, 1, 1}, CrossWorker::Keyed, "RW access update", "string", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "key", decr},
    {"decrby", 3, W | F, {1, 1, 1}, CrossWorker::Keyed, "RW access update", "string", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "key decrement", decrby},
    {"del", -2, W | kNoneIsNoChange | kNeverGrows, {1, -1, 1}, CrossWorker::SplitAndSum, "RM delete", "keyspace", "Deletes one or more keys.", "1.0.0", "key...", del},
    {"discard", 1, F | kNoScript | kRunsInMulti | kAllowBusy, {0, 0, 0}, CrossWorker::None, "", "transactions", "Discards a transaction.", "2.0.0", "", nullptr, {}, nullptr, nullptr, transaction::discard},
    {"dump", 2, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "generic", "Return a serialized version of the value stored at the specified key.", "2.6.0", "key", dump},
    {"echo", 2, F | kConnection, {0, 0, 0}, CrossWorker::None, "", "connection", "Returns the given string.", "1.0.0", "message", echo},
    {"eval", -3, kNoScript | kMayWrite, {0, 0, 0, 2}, CrossWorker::MultiOwnerAtomic, "RW access update", "scripting", "Executes a server-side Lua script.", "2.6.0", "script numkeys [key...] [arg...]", eval},
    {"eval_ro", -3, kNoScript | R, {0, 0, 0, 2}, CrossWorker::MultiOwnerAtomic, "RO access", "scripting", "Executes a read-only server-side Lua script.", "7.0.0", "script numkeys [key...] [arg...]", evalRo},
    {"evalsha", -3, kNoScript | kMayWrite, {0, 0, 0, 2}, CrossWorker::MultiOwnerAtomic, "RW access update", "scripting", "Executes a server-side Lua script by SHA1 digest.", "2.6.0", "sha1 numkeys [key...] [arg...]", evalsha},
    {"evalsha_ro", -3, kNoScript | R, {0, 0, 0, 2}, CrossWorker::MultiOwnerAtomic, "RO access", "scripting", "Executes a read-only server-side Lua script by SHA1 digest.", "7.0.0", "sha1 numkeys [key...] [arg...]", evalshaRo},
    {"exec", 1, kNoScript | kRunsInMulti | kAbortsWhenRefused, {0, 0, 0}, CrossWorker::None, "", "transactions", "Executes all commands in a transaction.", "1.2.0", "", nullptr, {}, nullptr, nullptr, transaction::exec},
    {"exists", -2, R | F, {1, -1, 1}, CrossWorker::SplitAndSum, "RO", "keyspace", "Determines whether one or more keys exist.", "1.0.0", "key...", exists},
    {"expire", -3, W | F | kNoneIsNoChange | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW update", "keyspace", "Sets the expiration time of a key in seconds.", "1.0.0", "key seconds [NX|XX|GT|LT]", expire},
    {"expireat", -3, W | F | kNoneIsNoChange | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW update", "keyspace", "Sets the expiration time of a key to a Unix timestamp.", "1.2.0", "key unix-time-seconds [NX|XX|GT|LT]", expireat},
    {"expiretime", 2, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO access", "keyspace", "Returns the expiration time of a key as a Unix timestamp.", "7.0.0", "key", expiretime},
    {"fcall", -3, kNoScript | kMayWrite, {0, 0, 0, 2}, CrossWorker::MultiOwnerAtomic, "RW access update", "scripting", "Invokes a function.", "7.0.0", "function numkeys [key...] [arg...]", fcall},
    {"fcall_ro", -3, kNoScript | R, {0, 0, 0, 2}, CrossWorker::MultiOwnerAtomic, "RO access", "scripting", "Invokes a read-only function.", "7.0.0", "function numkeys [key...] [arg...]", fcallRo},
    {"flushall", -1, W | kWipesKeyspace | kNeverGrows, {0, 0, 0}, CrossWorker::BroadcastSame, "", "server", "Removes all keys from all databases.", "1.0.0", "[ASYNC|SYNC]", flushdb},
    {"flushdb", -1, W | kWipesKeyspace | kNeverGrows, {0, 0, 0}, CrossWorker::BroadcastSame, "", "server", "Remove all keys from the current database.", "1.0.0", "[ASYNC|SYNC]", flushdb},
    {"function", -2, 0, {0, 0, 0}, CrossWorker::None, "", "scripting", "A container for function commands.", "7.0.0", "", nullptr, kFunctionSubcommands},
    {"geoadd", -5, W, {1, 1, 1}, CrossWorker::Keyed, "RW update", "geo", "Add one or more geospatial items in the geospatial index represented using a sorted set", "3.2.0", "key [NX|XX] [CH] (longitude latitude member)...", geoadd},
    {"geodist", -4, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "geo", "Returns the distance between two members of a geospatial index", "3.2.0", "key member1 member2 [M|KM|FT|MI]", geodist},
    {"geohash", -2, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "geo", "Returns members of a geospatial index as standard geohash strings", "3.2.0", "key member...", geohash},
    {"geopos", -2, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "geo", "Returns longitude and latitude of members of a geospatial index", "3.2.0", "key member...", geopos},
    {"georadius", -6, W, {0, 0, 0, 0, georadiusKeyIndices}, CrossWorker::MultiOwnerAtomic, "RO access;OW update;OW update", "geo", "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point", "3.2.0", "key longitude latitude radius (M|KM|FT|MI) [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT:count [ANY]] [ASC|DESC] [STORE:key] [STOREDIST:key]", georadius},
    {"georadius_ro", -6, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "geo", "A read-only variant for GEORADIUS", "3.2.10", "key longitude latitude radius (M|KM|FT|MI) [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT:count [ANY]] [ASC|DESC]", georadiusRo},
    {"georadiusbymember", -5, W, {0, 0, 0, 0, georadiusKeyIndices}, CrossWorker::MultiOwnerAtomic, "RO access;OW update;OW update", "geo", "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member", "3.2.0", "key member radius (M|KM|FT|MI) [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT:count [ANY]] [ASC|DESC] [STORE:key] [STOREDIST:key]", georadiusbymember},
    {"georadiusbymember_ro", -5, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "geo", "A read-only variant for GEORADIUSBYMEMBER", "3.2.10", "key member radius (M|KM|FT|MI) [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT:count [ANY]] [ASC|DESC]", georadiusbymemberRo},
    {"geosearch", -7, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "geo", "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.", "6.2.0", "key (FROMMEMBER:member|FROMLONLAT (longitude latitude)) ((BYRADIUS:radius (M|KM|FT|MI))|(BYBOX:width height (M|KM|FT|MI))) [ASC|DESC] [COUNT:count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]", geosearch},
    {"geosearchstore", -8, W, {1, 2, 1}, CrossWorker::MultiOwnerAtomic, "OW update;RO access", "geo", "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.", "6.2.0", "key key (FROMMEMBER:member|FROMLONLAT (longitude latitude)) ((BYRADIUS:radius (M|KM|FT|MI))|(BYBOX:width height (M|KM|FT|MI))) [ASC|DESC] [COUNT:count [ANY]] [STOREDIST]", geosearchstore},
    {"get", 2, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO access", "string", "Returns the string value of a key.", "1.0.0", "key", get},
    {"getbit", 3, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO access", "bitmap", "Returns the bit value at offset in the string value stored at key", "2.2.0", "key offset", getbit},
    {"getdel", 2, W | F | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW access delete", "string", "Returns the string value of a key after deleting the key.", "6.2.0", "key", getdel},
    {"getex", -2, W | F | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW access update", "string", "Returns the string value of a key after setting its expiration time.", "6.2.0", "key [EX:seconds|PX:milliseconds|EXAT:unix-time-seconds|PXAT:unix-time-milliseconds|PERSIST]", getex},
    {"getrange", 4, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "string", "Returns a substring of the string stored at a key.", "2.4.0", "key start end", getrange},
    {"getset", 3, W | F, {1, 1, 1}, CrossWorker::Keyed, "RW access update", "string", "Returns the previous string value of a key after setting it to a new value.", "1.0.0", "key value", getset},
    {"hdel", -3, W | F | kNoneIsNoChange | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW delete", "hash", "Delete one or more hash fields", "2.0.0", "key field...", hdel},
    {"hello", -1, kNoAuth | F | kConnection | kNoScript | kAllowBusy, {0, 0, 0}, CrossWorker::None, "", "connection", "Handshakes with the Redis server.", "6.0.0", "[protover [AUTH:username password] [SETNAME:clientname]]", hello},
    {"hexists", 3, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO", "hash", "Determine if a hash field exists", "2.0.0", "key field", hexists},
    {"hget", 3, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO access", "hash", "Get the value of a hash field", "2.0.0", "key field", hget},
    {"hgetall", 2, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "hash", "Get all the fields and values in a hash", "2.0.0", "key", hgetall},
    {"hincrby", 4, W | F, {1, 1, 1}, CrossWorker::Keyed, "RW access update", "hash", "Increment the integer value of a hash field by the given number", "2.0.0", "key field increment", hincrby},
    {"hincrbyfloat", 4, W | F, {1, 1, 1}, CrossWorker::Keyed, "RW access update", "hash", "Increment the float value of a hash field by the given amount", "2.6.0", "key field increment", hincrbyfloat},
    {"hkeys", 2, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "hash", "Get all the fields in a hash", "2.0.0", "key", hkeys},
    {"hlen", 2, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO", "hash", "Get the number of fields in a hash", "2.0.0", "key", hlen},
    {"hmget", -3, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO access", "hash", "Get the values of all the given hash fields", "2.0.0", "key field...", hmget},
    {"hmset", -4, W | F, {1, 1, 1}, CrossWorker::Keyed, "RW update", "hash", "Set multiple hash fields to multiple values", "2.0.0", "key (field value)...", hmset},
    {"hrandfield", -2, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "hash", "Get one or multiple random fields from a hash", "6.2.0", "key [count [WITHVALUES]]", hrandfield},
    {"hscan", -3, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "hash", "Incrementally iterate hash fields and associated values", "2.8.0", "key cursor [MATCH:pattern] [COUNT:count]", hscan},
    {"hset", -4, W | F, {1, 1, 1}, CrossWorker::Keyed, "RW update", "hash", "Set the string value of a hash field", "2.0.0", "key (field value)...", hset},
    {"hsetnx", 4, W | F | kNoneIsNoChange, {1, 1, 1}, CrossWorker::Keyed, "RW insert", "hash", "Set the value of a hash field, only if the field does not exist", "2.0.0", "key field value", hsetnx},
    {"hstrlen", 3, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO", "hash", "Get the length of the value of a hash field", "3.2.0", "key field", hstrlen},
    {"hvals", 2, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "hash", "Get all the values in a hash", "2.0.0", "key", hvals},
    {"incr", 2, W | F, {1, 1, 1}, CrossWorker::Keyed, "RW access update", "string", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "key", incr},
    {"incrby", 3, W | F, {1, 1, 1}, CrossWorker::Keyed, "RW access update", "string", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "1.0.0", "key increment", incrby},
    {"incrbyfloat", 3, W | F, {1, 1, 1}, CrossWorker::Keyed, "RW access update", "string", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "2.6.0", "key increment", incrbyfloat},
    {"info", -1, 0, {0, 0, 0}, CrossWorker::GatherTotals, "", "server", "Returns information and statistics about the server.", "1.0.0", "[section...]", info},
    {"keys", 2, R, {0, 0, 0}, CrossWorker::BroadcastConcat, "", "keyspace", "Returns all key names that match a pattern.", "1.0.0", "pattern", keys},
    {"lastsave", 1, F, {0, 0, 0}, CrossWorker::None, "", "server", "Returns the Unix timestamp of the last successful save to disk.", "1.0.0", "", lastsave},
    {"lcs", -3, R, {1, 2, 1}, CrossWorker::MultiOwnerAtomic, "RO access", "string", "Find longest common substring", "7.0.0", "key1 key2 [LEN] [IDX] [MINMATCHLEN:len] [WITHMATCHLEN]", lcs},
    {"lindex", 3, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "list", "Get an element from a list by its index", "1.0.0", "key index", lindex},
    {"linsert", 5, W, {1, 1, 1}, CrossWorker::Keyed, "RW insert", "list", "Insert an element before or after another element in a list", "2.2.0", "key (BEFORE|AFTER) pivot element", linsert},
    {"llen", 2, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO", "list", "Get the length of a list", "1.0.0", "key", llen},
    {"lmove", 5, W, {1, 2, 1}, CrossWorker::MultiOwnerAtomic, "RW access delete;RW insert", "list", "Pop an element from a list, push it to another list and return it", "6.2.0", "key key (LEFT|RIGHT) (LEFT|RIGHT)", lmove},
    {"lmpop", -4, W | kNeverGrows, {0, 0, 0, 1}, CrossWorker::MultiOwnerAtomic, "RW access delete", "list", "Pop elements from a list", "7.0.0", "numkeys key... (LEFT|RIGHT) [COUNT:count]", lmpop},
    {"lpop", -2, W | F | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW access delete", "list", "Remove and get the first elements in a list", "1.0.0", "key [count]", lpop},
    {"lpos", -3, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "list", "Return the index of matching elements on a list", "6.0.6", "key element [RANK:rank] [COUNT:num-matches] [MAXLEN:len]", lpos},
    {"lpush", -3, W | F, {1, 1, 1}, CrossWorker::Keyed, "RW insert", "list", "Prepend one or multiple elements to a list", "1.0.0", "key element...", lpush},
    {"lpushx", -3, W | F, {1, 1, 1}, CrossWorker::Keyed, "RW insert", "list", "Prepend an element to a list, only if the list exists", "2.2.0", "key element...", lpushx},
    {"lrange", 4, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "list", "Get a range of elements from a list", "1.0.0", "key start stop", lrange},
    {"lrem", 4, W | kNoneIsNoChange | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW delete", "list", "Remove elements from a list", "1.0.0", "key count element", lrem},
    {"lset", 4, W, {1, 1, 1}, CrossWorker::Keyed, "RW update", "list", "Set the value of an element in a list by its index", "1.0.0", "key index element", lset},
    {"ltrim", 4, W | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW delete", "list", "Trim a list to the specified range", "1.0.0", "key start stop", ltrim},
    {"memory", -2, 0, {0, 0, 0}, CrossWorker::None, "", "server", "A container for memory diagnostics commands", "4.0.0", "", nullptr, kMemorySubcommands},
    {"mget", -2, R | F, {1, -1, 1}, CrossWorker::MultiOwnerAtomic, "RO access", "string", "Atomically returns the string values of one or more keys.", "1.0.0", "key...", mget},
    {"mset", -3, W, {1, -1, 2}, CrossWorker::MultiOwnerAtomic, "OW update", "string", "Atomically creates or modifies the string values of one or more keys.", "1.0.1", "(key value)...", mset},
    {"msetnx", -3, W | kNoneIsNoChange, {1, -1, 2}, CrossWorker::MultiOwnerAtomic, "OW insert", "string", "Atomically modifies the string values of one or more keys only when all keys don't exist.", "1.0.1", "(key value)...", msetnx},
    {"multi", 1, F | kNoScript | kRunsInMulti | kAllowBusy, {0, 0, 0}, CrossWorker::None, "", "transactions", "Starts a transaction.", "1.2.0", "", nullptr, {}, nullptr, nullptr, transaction::multi},
    {"object", -2, 0, {0, 0, 0}, CrossWorker::None, "", "generic", "A container for object introspection commands", "2.2.3", "", nullptr, kObjectSubcommands},
    {"persist", 2, W | F | kNoneIsNoChange | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW update", "keyspace", "Removes the expiration time of a key.", "2.2.0", "key", persist},
    {"pexpire", -3, W | F | kNoneIsNoChange | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW update", "keyspace", "Sets the expiration time of a key in milliseconds.", "2.6.0", "key milliseconds [NX|XX|GT|LT]", pexpire},
    {"pexpireat", -3, W | F | kNoneIsNoChange | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW update", "keyspace", "Sets the expiration time of a key to a Unix milliseconds timestamp.", "2.6.0", "key unix-time-milliseconds [NX|XX|GT|LT]", pexpireat},
    {"pexpiretime", 2, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO access", "keyspace", "Returns the expiration time of a key as a Unix milliseconds timestamp.", "7.0.0", "key", pexpiretime},
    {"pfadd", -2, W | F, {1, 1, 1}, CrossWorker::Keyed, "RW insert", "hyperloglog", "Adds the specified elements to the specified HyperLogLog.", "2.8.9", "key [element...]", pfadd},
    {"pfcount", -2, R, {1, -1, 1}, CrossWorker::MultiOwnerAtomic, "RW access", "hyperloglog", "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).", "2.8.9", "key...", pfcount},
    {"pfdebug", 3, W | kAdmin, {2, 2, 1}, CrossWorker::Keyed, "RW access", "hyperloglog", "Internal commands for debugging HyperLogLog values", "2.8.9", "subcommand key", pfdebug},
    {"pfmerge", -2, W, {1, -1, 1}, CrossWorker::MultiOwnerAtomic, "RW access insert;RO access", "hyperloglog", "Merge N different HyperLogLogs into a single one.", "2.8.9", "key key...", pfmerge},
    {"pfselftest", 1, kAdmin, {0, 0, 0}, CrossWorker::None, "", "hyperloglog", "An internal command for testing HyperLogLog values", "2.8.9", "", pfselftest},
    {"ping", -1, F | kConnection | kSubscribedOk | kDiskErrorRefuses, {0, 0, 0}, CrossWorker::None, "", "connection", "Returns the server's liveliness response.", "1.0.0", "[message]", ping},
    {"psetex", 4, W, {1, 1, 1}, CrossWorker::Keyed, "OW update", "string", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", "2.6.0", "key milliseconds value", psetex},
    {"psubscribe", -2, kNoScript | kConnection | kSubscribedOk | kPushReply, {0, 0, 0}, CrossWorker::None, "", "pubsub", "Listens for messages published to channels that match one or more patterns.", "2.0.0", "pattern...", nullptr, {}, nullptr, nullptr, pubsub::psubscribe},
    {"pttl", 2, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO access", "keyspace", "Returns the expiration time in milliseconds of a key.", "2.6.0", "key", pttl},
    {"publish", 3, F | kEveryNode, {0, 0, 0}, CrossWorker::BroadcastSum, "", "pubsub", "Posts a message to a channel.", "2.0.0", "channel message", publish},
    {"pubsub", -2, 0, {0, 0, 0}, CrossWorker::None, "", "pubsub", "A container for Pub/Sub commands.", "2.8.0", "", nullptr, kPubsubSubcommands},
    {"punsubscribe", -1, kNoScript | kConnection | kSubscribedOk | kPushReply, {0, 0, 0}, CrossWorker::None, "", "pubsub", "Stops listening to messages published to channels that match one or more patterns.", "2.0.0", "[pattern...]", nullptr, {}, nullptr, nullptr, pubsub::punsubscribe},
    {"quit", -1, kNoAuth | F | kConnection | kRunsInMulti | kSubscribedOk | kNoScript | kAllowBusy, {0, 0, 0}, CrossWorker::None, "", "connection", "Closes the connection.", "1.0.0", "", quit},
    {"randomkey", 1, R, {0, 0, 0}, CrossWorker::BroadcastRandom, "", "keyspace", "Returns a random key name from the database.", "1.0.0", "", randomkey},
    {"readonly", 1, F | kConnection, {0, 0, 0}, CrossWorker::None, "", "cluster", "Enables read-only queries for a connection to a Redis Cluster replica node.", "3.0.0", "", clusterAccept},
    {"readwrite", 1, F | kConnection, {0, 0, 0}, CrossWorker::None, "", "cluster", "Enables read-write queries for a connection to a Reids Cluster replica node.", "3.0.0", "", clusterAccept},
    {"rename", 3, W | kNeverGrows, {1, 2, 1}, CrossWorker::MultiOwnerAtomic, "RW access delete;OW update", "keyspace", "Renames a key and overwrites the destination.", "1.0.0", "key newkey", rename},
    {"renamenx", 3, W | F | kNoneIsNoChange | kNeverGrows, {1, 2, 1}, CrossWorker::MultiOwnerAtomic, "RW access delete;OW insert", "keyspace", "Renames a key only when the target key name doesn't exist.", "1.0.0", "key newkey", renamenx},
    {"reset", 1, kNoAuth | F | kNoScript | kConnection | kRunsInMulti | kSubscribedOk | kAllowBusy, {0, 0, 0}, CrossWorker::None, "", "connection", "Resets the connection.", "6.2.0", "", nullptr, {}, nullptr, nullptr, transaction::reset},
    {"restore", -4, W, {1, 1, 1}, CrossWorker::Keyed, "OW update", "generic", "Create a key using the provided serialized value, previously obtained using DUMP.", "2.6.0", "key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME:seconds] [FREQ:frequency]", restore},
    {"rpop", -2, W | F | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW access delete", "list", "Remove and get the last elements in a list", "1.0.0", "key [count]", rpop},
    {"rpoplpush", 3, W, {1, 2, 1}, CrossWorker::MultiOwnerAtomic, "RW access delete;RW insert", "list", "Remove the last element in a list, prepend it to another list and return it", "1.2.0", "key key", rpoplpush},
    {"rpush", -3, W | F, {1, 1, 1}, CrossWorker::Keyed, "RW insert", "list", "Append one or multiple elements to a list", "1.0.0", "key element...", rpush},
    {"rpushx", -3, W | F, {1, 1, 1}, CrossWorker::Keyed, "RW insert", "list", "Append an element to a list, only if the list exists", "2.2.0", "key element...", rpushx},
    {"sadd", -3, W | F | kNoneIsNoChange, {1, 1, 1}, CrossWorker::Keyed, "RW insert", "set", "Add one or more members to a set", "1.0.0", "key member...", sadd},
    {"save", 1, kAdmin | kNoScript | kNoMulti, {0, 0, 0}, CrossWorker::None, "", "server", "Synchronously saves the database(s) to disk.", "1.0.0", "", nullptr, {}, nullptr, nullptr, save},
    {"scan", -2, R, {0, 0, 0}, CrossWorker::BroadcastScan, "", "keyspace", "Iterates over the key names in the database.", "2.8.0", "cursor [MATCH:pattern] [COUNT:count] [TYPE:type]", scan},
    {"scard", 2, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO", "set", "Get the number of members in a set", "1.0.0", "key", scard},
    {"script", -2, 0, {0, 0, 0}, CrossWorker::None, "", "scripting", "A container for Lua scripts management commands.", "2.6.0", "", nullptr, kScriptSubcommands},
    {"sdiff", -2, R, {1, -1, 1}, CrossWorker::MultiOwnerAtomic, "RO access", "set", "Subtract multiple sets", "1.0.0", "key...", sdiff},
    {"sdiffstore", -3, W, {1, -1, 1}, CrossWorker::MultiOwnerAtomic, "OW update;RO access", "set", "Subtract multiple sets and store the resulting set in a key", "1.0.0", "key key...", sdiffstore},
    {"select", 2, F | kConnection, {0, 0, 0}, CrossWorker::None, "", "connection", "Changes the selected database.", "1.0.0", "index", select},
    {"set", -3, W | kNoneIsNoChange, {1, 1, 1}, CrossWorker::Keyed, "RW access update variable_flags", "string", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "1.0.0", "key value [NX|XX] [GET] [EX:seconds|PX:milliseconds|EXAT:unix-time-seconds|PXAT:unix-time-milliseconds|KEEPTTL]", set, {}, setKeyFlags},
    {"setbit", 4, W, {1, 1, 1}, CrossWorker::Keyed, "RW access update", "bitmap", "Sets or clears the bit at offset in the string value stored at key", "2.2.0", "key offset value", setbit},
    {"setex", 4, W, {1, 1, 1}, CrossWorker::Keyed, "OW update", "string", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "2.0.0", "key seconds value", setex},
    {"setnx", 3, W | F | kNoneIsNoChange, {1, 1, 1}, CrossWorker::Keyed, "OW insert", "string", "Set the string value of a key only when the key doesn't exist.", "1.0.0", "key value", setnx},
    {"setrange", 4, W, {1, 1, 1}, CrossWorker::Keyed, "RW update", "string", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", "2.2.0", "key offset value", setrange},
    {"shutdown", -1, kAdmin | kNoScript | kNoMulti | kAllowBusy, {0, 0, 0}, CrossWorker::None, "", "server", "Synchronously saves the database(s) to disk and shuts down the Redis server.", "1.0.0", "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]", nullptr, {}, nullptr, nullptr, shutdown},
    {"sinter", -2, R, {1, -1, 1}, CrossWorker::MultiOwnerAtomic, "RO access", "set", "Intersect multiple sets", "1.0.0", "key...", sinter},
    {"sintercard", -3, R, {0, 0, 0, 1}, CrossWorker::MultiOwnerAtomic, "RO access", "set", "Intersect multiple sets and return the cardinality of the result", "7.0.0", "numkeys key... [LIMIT:limit]", sintercard},
    {"sinterstore", -3, W, {1, -1, 1}, CrossWorker::MultiOwnerAtomic, "RW update;RO access", "set", "Intersect multiple sets and store the resulting set in a key", "1.0.0", "key key...", sinterstore},
    {"sismember", 3, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO", "set", "Determine if a given value is a member of a set", "1.0.0", "key member", sismember},
    {"smembers", 2, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "set", "Get all the members in a set", "1.0.0", "key", smembers},
    {"smismember", -3, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO access", "set", "Returns the membership associated with the given elements for a set", "6.2.0", "key member...", smismember},
    {"smove", 4, W | F | kNoneIsNoChange | kNeverGrows, {1, 2, 1}, CrossWorker::MultiOwnerAtomic, "RW access delete;RW insert", "set", "Move a member from one set to another", "1.0.0", "key key member", smove},
    {"sort", -2, W, {0, 0, 0, 0, sortKeyIndices}, CrossWorker::Discovering, "RO access;RO access;OW update", "generic", "Sort the elements in a list, set or sorted set", "1.0.0", "key [BY:pattern] [LIMIT (offset count)] [GET:pattern...] [ASC|DESC] [ALPHA] [STORE:key]", sort},
    {"sort_ro", -2, R, {1, 1, 1}, CrossWorker::Discovering, "RO access;RO access", "generic", "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", "7.0.0", "key [BY:pattern] [LIMIT (offset count)] [GET:pattern...] [ASC|DESC] [ALPHA]", sortRo},
    {"spop", -2, W | F | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW access delete", "set", "Remove and return one or multiple random members from a set", "1.0.0", "key [count]", spop},
    {"spublish", 3, F | kEveryNode, {1, 1, 1}, CrossWorker::BroadcastSum, "NOT_KEY", "pubsub", "Post a message to a shard channel", "7.0.0", "shardchannel message", spublish},
    {"srandmember", -2, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "set", "Get one or multiple random members from a set", "1.0.0", "key [count]", srandmember},
    {"srem", -3, W | F | kNoneIsNoChange | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW delete", "set", "Remove one or more members from a set", "1.0.0", "key member...", srem},
    {"sscan", -3, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "set", "Incrementally iterate Set elements", "2.8.0", "key cursor [MATCH:pattern] [COUNT:count]", sscan},
    {"ssubscribe", -2, kNoScript | kConnection | kSubscribedOk | kPushReply, {1, -1, 1}, CrossWorker::None, "NOT_KEY", "pubsub", "Listens for messages published to shard channels.", "7.0.0", "shardchannel...", nullptr, {}, nullptr, nullptr, pubsub::ssubscribe},
    {"strlen", 2, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO", "string", "Returns the length of a string value.", "2.2.0", "key", strlen},
    {"subscribe", -2, kNoScript | kConnection | kSubscribedOk | kPushReply, {0, 0, 0}, CrossWorker::None, "", "pubsub", "Listens for messages published to channels.", "2.0.0", "channel...", nullptr, {}, nullptr, nullptr, pubsub::subscribe},
    {"substr", 4, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "string", "Get a substring of the string stored at a key", "1.0.0", "key start end", getrange},
    {"sunion", -2, R, {1, -1, 1}, CrossWorker::MultiOwnerAtomic, "RO access", "set", "Add multiple sets", "1.0.0", "key...", sunion},
    {"sunionstore", -3, W, {1, -1, 1}, CrossWorker::MultiOwnerAtomic, "OW update;RO access", "set", "Add multiple sets and store the resulting set in a key", "1.0.0", "key key...", sunionstore},
    {"sunsubscribe", -1, kNoScript | kConnection | kSubscribedOk | kPushReply, {1, -1, 1}, CrossWorker::None, "NOT_KEY", "pubsub", "Stops listening to messages posted to shard channels.", "7.0.0", "[shardchannel...]", nullptr, {}, nullptr, nullptr, pubsub::sunsubscribe},
    {"time", 1, F, {0, 0, 0}, CrossWorker::None, "", "server", "Returns the server time.", "2.6.0", "", time},
    {"touch", -2, R | F, {1, -1, 1}, CrossWorker::SplitAndSum, "RO", "keyspace", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", "3.2.1", "key...", touch},
    {"ttl", 2, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO access", "keyspace", "Returns the expiration time in seconds of a key.", "1.0.0", "key", ttl},
    {"type", 2, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO", "keyspace", "Determines the type of value stored at a key.", "1.0.0", "key", type},
    {"unlink", -2, W | F | kNoneIsNoChange | kNeverGrows, {1, -1, 1}, CrossWorker::SplitAndSum, "RM delete", "keyspace", "Asynchronously deletes one or more keys.", "4.0.0", "key...", del},
    {"unsubscribe", -1, kNoScript | kConnection | kSubscribedOk | kPushReply, {0, 0, 0}, CrossWorker::None, "", "pubsub", "Stops listening to messages posted to channels.", "2.0.0", "[channel...]", nullptr, {}, nullptr, nullptr, pubsub::unsubscribe},
    {"unwatch", 1, F | kNoScript | kAllowBusy, {0, 0, 0}, CrossWorker::None, "", "transactions", "Forgets about watched keys of a transaction.", "2.2.0", "", nullptr, {}, nullptr, nullptr, transaction::unwatch},
    {"watch", -2, F | kNoScript | kRunsInMulti | kAllowBusy, {1, -1, 1}, CrossWorker::None, "RO", "transactions", "Monitors changes to keys to determine the execution of a transaction.", "2.2.0", "key...", nullptr, {}, nullptr, nullptr, transaction::watch},
    {"zadd", -4, W | F, {1, 1, 1}, CrossWorker::Keyed, "RW update", "sorted-set", "Add one or more members to a sorted set, or update its score if it already exists", "1.2.0", "key [NX|XX] [GT|LT] [CH] [INCR] (score member)...", zadd},
    {"zcard", 2, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO", "sorted-set", "Get the number of members in a sorted set", "1.2.0", "key", zcard},
    {"zcount", 4, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO access", "sorted-set", "Count the members in a sorted set with scores within the given values", "2.0.0", "key min max", zcount},
    {"zdiff", -3, R, {0, 0, 0, 1}, CrossWorker::MultiOwnerAtomic, "RO access", "sorted-set", "Subtract multiple sorted sets", "6.2.0", "numkeys key... [WITHSCORES]", zdiff},
    {"zdiffstore", -4, W, {1, 1, 1, 2}, CrossWorker::MultiOwnerAtomic, "OW update;RO access", "sorted-set", "Subtract multiple sorted sets and store the resulting sorted set in a new key", "6.2.0", "key numkeys key...", zdiffstore},
    {"zincrby", 4, W | F, {1, 1, 1}, CrossWorker::Keyed, "RW access update", "sorted-set", "Increment the score of a member in a sorted set", "1.2.0", "key increment member", zincrby},
    {"zinter", -3, R, {0, 0, 0, 1}, CrossWorker::MultiOwnerAtomic, "RO access", "sorted-set", "Intersect multiple sorted sets", "6.2.0", "numkeys key... [WEIGHTS:weight] [SUM|MIN|MAX] [WITHSCORES]", zinter},
    {"zintercard", -3, R, {0, 0, 0, 1}, CrossWorker::MultiOwnerAtomic, "RO access", "sorted-set", "Intersect multiple sorted sets and return the cardinality of the result", "7.0.0", "numkeys key... [LIMIT:limit]", zintercard},
    {"zinterstore", -4, W, {1, 1, 1, 2}, CrossWorker::MultiOwnerAtomic, "OW update;RO access", "sorted-set", "Intersect multiple sorted sets and store the resulting sorted set in a new key", "2.0.0", "key numkeys key... [WEIGHTS:weight] [SUM|MIN|MAX]", zinterstore},
    {"zlexcount", 4, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO access", "sorted-set", "Count the number of members in a sorted set between a given lexicographical range", "2.8.9", "key min max", zlexcount},
    {"zmpop", -4, W | kNeverGrows, {0, 0, 0, 1}, CrossWorker::MultiOwnerAtomic, "RW access delete", "sorted-set", "Remove and return members with scores in a sorted set", "7.0.0", "numkeys key... (MIN|MAX) [COUNT:count]", zmpop},
    {"zmscore", -3, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO access", "sorted-set", "Get the score associated with the given members in a sorted set", "6.2.0", "key member...", zmscore},
    {"zpopmax", -2, W | F | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW access delete", "sorted-set", "Remove and return members with the highest scores in a sorted set", "5.0.0", "key [count]", zpopmax},
    {"zpopmin", -2, W | F | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW access delete", "sorted-set", "Remove and return members with the lowest scores in a sorted set", "5.0.0", "key [count]", zpopmin},
    {"zrandmember", -2, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "sorted-set", "Get one or multiple random elements from a sorted set", "6.2.0", "key [count [WITHSCORES]]", zrandmember},
    {"zrange", -4, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "sorted-set", "Return a range of members in a sorted set", "1.2.0", "key start stop [BYSCORE|BYLEX] [REV] [LIMIT (offset count)] [WITHSCORES]", zrange},
    {"zrangebylex", -4, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "sorted-set", "Return a range of members in a sorted set, by lexicographical range", "2.8.9", "key min max [LIMIT (offset count)]", zrangebylex},
    {"zrangebyscore", -4, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "sorted-set", "Return a range of members in a sorted set, by score", "1.0.5", "key min max [WITHSCORES] [LIMIT (offset count)]", zrangebyscore},
    {"zrangestore", -5, W, {1, 2, 1}, CrossWorker::MultiOwnerAtomic, "OW update;RO access", "sorted-set", "Store a range of members from sorted set into another key", "6.2.0", "key key min max [BYSCORE|BYLEX] [REV] [LIMIT (offset count)]", zrangestore},
    {"zrank", 3, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO access", "sorted-set", "Determine the index of a member in a sorted set", "2.0.0", "key member", zrank},
    {"zrem", -3, W | F | kNoneIsNoChange | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW delete", "sorted-set", "Remove one or more members from a sorted set", "1.2.0", "key member...", zrem},
    {"zremrangebylex", 4, W | kNoneIsNoChange | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW delete", "sorted-set", "Remove all members in a sorted set between the given lexicographical range", "2.8.9", "key min max", zremrangebylex},
    {"zremrangebyrank", 4, W | kNoneIsNoChange | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW delete", "sorted-set", "Remove all members in a sorted set within the given indexes", "2.0.0", "key start stop", zremrangebyrank},
    {"zremrangebyscore", 4, W | kNoneIsNoChange | kNeverGrows, {1, 1, 1}, CrossWorker::Keyed, "RW delete", "sorted-set", "Remove all members in a sorted set within the given scores", "1.2.0", "key min max", zremrangebyscore},
    {"zrevrange", -4, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "sorted-set", "Return a range of members in a sorted set, by index, with scores ordered from high to low", "1.2.0", "key start stop [WITHSCORES]", zrevrange},
    {"zrevrangebylex", -4, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "sorted-set", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", "2.8.9", "key max min [LIMIT (offset count)]", zrevrangebylex},
    {"zrevrangebyscore", -4, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "sorted-set", "Return a range of members in a sorted set, by score, with scores ordered from high to low", "2.2.0", "key max min [WITHSCORES] [LIMIT (offset count)]", zrevrangebyscore},
    {"zrevrank", 3, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO access", "sorted-set", "Determine the index of a member in a sorted set, with scores ordered from high to low", "2.0.0", "key member", zrevrank},
    {"zscan", -3, R, {1, 1, 1}, CrossWorker::Keyed, "RO access", "sorted-set", "Incrementally iterate sorted sets elements and associated scores", "2.8.0", "key cursor [MATCH:pattern] [COUNT:count]", zscan},
    {"zscore", 3, R | F, {1, 1, 1}, CrossWorker::Keyed, "RO access", "sorted-set", "Get the score associated with the given member in a sorted set", "1.2.0", "key member", zscore},
    {"zunion", -3, R, {0, 0, 0, 1}, CrossWorker::MultiOwnerAtomic, "RO access", "sorted-set", "Add multiple sorted sets", "6.2.0", "numkeys key... [WEIGHTS:weight] [SUM|MIN|MAX] [WITHSCORES]", zunion},
    {"zunionstore", -4, W, {1, 1, 1, 2}, CrossWorker::MultiOwnerAtomic, "OW update;RO access", "sorted-set", "Add multiple sorted sets and store the resulting sorted set in a new key", "2.0.0", "key numkeys key... [WEIGHTS:weight] [SUM|MIN|MAX]", zunionstore},
};

static_assert(std::size(kCommands) <= metrics::kMaxCommands, "grow metrics::kMaxCommands");
static_assert(std::size(kCommands) <= kCommandSlots, "grow kCommandSlots (stats.h)");

// Runs for every request (twice for a forwarded one): lowered into a stack
// buffer, ASCII only (command names are), no allocation, no locale; then
// only the names with the same first letter are compared, length first
// (a binary search's memcmp per step cost more than the whole lookup).
const CommandSpec* findIn(std::span<const CommandSpec> table, std::string_view name) {
  std::array<char, 32> buffer;
  if (name.empty() || name.size() > buffer.size()) return nullptr;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    buffer[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
  }
  const std::string_view lower(buffer.data(), name.size());
  // [first, last) of the names that start with each byte, per table.
  using Ranges = std::array<std::pair<std::uint16_t, std::uint16_t>, 256>;
  static const Ranges kTopLevel = [] {
    Ranges r{};
    for (std::size_t i = 0; i < std::size(kCommands); ++i) {
      auto& range = r[static_cast<unsigned char>(kCommands[i].name[0])];
      if (range.second == 0) range.first = static_cast<std::uint16_t>(i);
      range.second = static_cast<std::uint16_t>(i + 1);
    }
    return r;
  }();
  std::size_t from = 0, to = table.size();
  if (table.data() == std::data(kCommands)) {
    std::tie(from, to) = kTopLevel[static_cast<unsigned char>(lower[0])];
  }
  for (std::size_t i = from; i < to; ++i) {
    if (table[i].name.size() == lower.size() && table[i].name == lower) return &table[i];
  }
  return nullptr;
}


// ---- keyspace notifications (keyspace_events.h): Redis's events ----------

std::string_view sideOf(std::string_view where, std::string_view left, std::string_view right) {
  return equalsIgnoreCase(where, "left") ? left : right;
}
// LMOVE/BLMOVE source destination LEFT|RIGHT LEFT|RIGHT
std::string_view moveEvents(std::span<const std::string_view> a, std::size_t, std::size_t group) {
  return group == 0 ? sideOf(a[3], "lpop", "rpop") : sideOf(a[4], "lpush", "rpush");
}
// The direction after LMPOP's / ZMPOP's keys: args[at] is numkeys.
std::string_view directionAfterKeys(std::span<const std::string_view> a, std::size_t at) {
  const auto n = parseInteger(a[at]);
  const std::size_t where = at + 1 + static_cast<std::size_t>(n.value_or(0));
  return n && where < a.size() ? a[where] : std::string_view();
}
std::string_view lmpopEvent(std::span<const std::string_view> a, std::size_t, std::size_t) {
  return sideOf(directionAfterKeys(a, 1), "lpop", "rpop");
}
std::string_view blmpopEvent(std::span<const std::string_view> a, std::size_t, std::size_t) {
  return sideOf(directionAfterKeys(a, 2), "lpop", "rpop");
}
std::string_view zmpopEvent(std::span<const std::string_view> a, std::size_t, std::size_t) {
  return equalsIgnoreCase(directionAfterKeys(a, 1), "min") ? "zpopmin" : "zpopmax";
}
std::string_view bzmpopEvent(std::span<const std::string_view> a, std::size_t, std::size_t) {
  return equalsIgnoreCase(directionAfterKeys(a, 2), "min") ? "zpopmin" : "zpopmax";
}
std::string_view zaddEvent(std::span<const std::string_view> a, std::size_t, std::size_t) {
  for (std::size_t i = 2; i < a.size(); ++i) {
    if (equalsIgnoreCase(a[i], "incr")) return "zincr";
  }
  return "zadd";
}
// SORT's only written key is its STORE destination (not args[1]).
std::string_view sortEvent(std::span<const std::string_view>, std::size_t index, std::size_t) {
  return index == 1 ? std::string_view() : "sortstore";
}

using E = KeyEventSpec;
constexpr std::pair<std::string_view, KeyEventSpec> kKeyEvents[] = {
    {"append", {'$', "append"}},
    {"bitfield", {'$', "setbit"}},
    {"bitop", {'$', "set", E::EventOrDel, {}, true}},
    {"blmove", {'l', {}, E::Plain, {}, false, moveEvents}},
    {"blmpop", {'l', {}, E::Plain, {}, false, blmpopEvent}},
    {"blpop", {'l', "lpop"}},
    {"brpop", {'l', "rpop"}},
    {"brpoplpush", {'l', "rpop", E::Plain, "lpush"}},
    {"bzmpop", {'z', {}, E::Plain, {}, false, bzmpopEvent}},
    {"bzpopmax", {'z', "zpopmax"}},
    {"bzpopmin", {'z', "zpopmin"}},
    {"copy", {'g', {}, E::Plain, "copy_to"}},
    {"decr", {'$', "incrby"}},
    {"decrby", {'$', "incrby"}},
    {"del", {'g', "del"}},
    {"expire", {'g', "expire", E::EventOrDel}},
    {"expireat", {'g', "expire", E::EventOrDel}},
    {"geoadd", {'z', "zadd"}},
    {"geosearchstore", {'z', "geosearchstore", E::EventOrDel, {}, true}},
    {"getdel", {'g', "del"}},
    {"getex", {'g', "expire", E::TtlChange}},  // or "persist": TtlChange decides
    {"getset", {'$', "set"}},
    {"hdel", {'h', "hdel"}},
    {"hincrby", {'h', "hincrby"}},
    {"hincrbyfloat", {'h', "hincrbyfloat"}},
    {"hmset", {'h', "hset"}},
    {"hset", {'h', "hset"}},
    {"hsetnx", {'h', "hset"}},
    {"incr", {'$', "incrby"}},
    {"incrby", {'$', "incrby"}},
    {"incrbyfloat", {'$', "incrbyfloat"}},
    {"linsert", {'l', "linsert"}},
    {"lmove", {'l', {}, E::Plain, {}, false, moveEvents}},
    {"lmpop", {'l', {}, E::Plain, {}, false, lmpopEvent}},
    {"lpop", {'l', "lpop"}},
    {"lpush", {'l', "lpush"}},
    {"lpushx", {'l', "lpush"}},
    {"lrem", {'l', "lrem"}},
    {"lset", {'l', "lset"}},
    {"ltrim", {'l', "ltrim"}},
    {"mset", {'$', "set"}},
    {"msetnx", {'$', "set"}},
    {"persist", {'g', "persist"}},
    {"pexpire", {'g', "expire", E::EventOrDel}},
    {"pexpireat", {'g', "expire", E::EventOrDel}},
    {"pfadd", {'$', "pfadd"}},
    {"pfmerge", {'$', "pfadd", E::Plain, {}, true}},
    {"psetex", {'$', "set", E::SetWithTtl}},
    {"rename", {'g', "rename_from", E::Renames, "rename_to"}},
    {"renamenx", {'g', "rename_from", E::Renames, "rename_to"}},
    {"restore", {'g', "restore"}},
    {"rpop", {'l', "rpop"}},
    {"rpoplpush", {'l', "rpop", E::Plain, "lpush"}},
    {"rpush", {'l', "rpush"}},
    {"rpushx", {'l', "rpush"}},
    {"sadd", {'s', "sadd"}},
    {"sdiffstore", {'s', "sdiffstore", E::EventOrDel, {}, true}},
    {"set", {'$', "set", E::SetWithTtl}},
    {"setbit", {'$', "setbit"}},
    {"setex", {'$', "set", E::SetWithTtl}},
    {"setnx", {'$', "set"}},
    {"setrange", {'$', "setrange"}},
    {"sinterstore", {'s', "sinterstore", E::EventOrDel, {}, true}},
    {"smove", {'s', "srem", E::Plain, "sadd"}},
    {"sort", {'l', {}, E::EventOrDel, {}, false, sortEvent}},
    {"spop", {'s', "spop"}},
    {"srem", {'s', "srem"}},
    {"sunionstore", {'s', "sunionstore", E::EventOrDel, {}, true}},
    {"unlink", {'g', "del"}},
    {"zadd", {'z', {}, E::Plain, {}, false, zaddEvent}},
    {"zdiffstore", {'z', "zdiffstore", E::EventOrDel, {}, true}},
    {"zincrby", {'z', "zincr"}},
    {"zinterstore", {'z', "zinterstore", E::EventOrDel, {}, true}},
    {"zmpop", {'z', {}, E::Plain, {}, false, zmpopEvent}},
    {"zpopmax", {'z', "zpopmax"}},
    {"zpopmin", {'z', "zpopmin"}},
    {"zrangestore", {'z', "zrangestore", E::EventOrDel, {}, true}},
    {"zrem", {'z', "zrem"}},
    {"zremrangebylex", {'z', "zremrangebylex"}},
    {"zremrangebyrank", {'z', "zremrangebyrank"}},
    {"zremrangebyscore", {'z', "zremrangebyscore"}},
    {"zunionstore", {'z', "zunionstore", E::EventOrDel, {}, true}},
};

}  // namespace

const CommandSpec* findCommand(std::string_view name) { return findIn(kCommands, name); }

const KeyEventSpec* keyEventsOf(const CommandSpec& topLevel) {
  static const auto byIndex = [] {
    std::array<const KeyEventSpec*, std::size(kCommands)> events{};
    for (const auto& [name, spec] : kKeyEvents) {
      if (const CommandSpec* command = findCommand(name)) events[commandIndex(*command)] = &spec;
    }
    return events;
  }();
  const std::size_t index = commandIndex(topLevel);
  return index < byIndex.size() ? byIndex[index] : nullptr;
}

const CommandSpec* findSubcommand(const CommandSpec& container, std::string_view name) {
  return findIn(container.subcommands, name);
}

std::span<const CommandSpec> commandTable() { return kCommands; }

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

ResolvedCommand resolveCommand(std::span<const std::string_view> args, bool internalToo) {
  ResolvedCommand r;
  const CommandSpec* spec = args.empty() ? nullptr : findCommand(args[0]);
  if (spec == nullptr || ((spec->flags & kInternal) && !internalToo)) return r;
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

std::size_t commandIndex(const CommandSpec& topLevel) { return static_cast<std::size_t>(&topLevel - kCommands); }

std::span<const CommandSpec> allCommands() {
  // Internal commands ("__" sorts first) are hidden from COMMAND and DOCS.
  static const std::span<const CommandSpec> visible = [] {
    std::span<const CommandSpec> all(kCommands);
    std::size_t first = 0;
    while (first < all.size() && (all[first].flags & kInternal)) ++first;
    return all.subspan(first);
  }();
  return visible;
}

}  // namespace keyloop
