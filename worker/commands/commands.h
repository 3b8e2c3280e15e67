// Command handlers, one function per command, grouped by family in the .cpp
// files of this folder; command_table.cpp wires them to names and arities.
// Shared lookup helpers live here so every family counts hits the same way.
#pragma once

#include <climits>
#include <functional>

#include "common/text/text.h"
#include "worker/execution/command_table.h"
#include "common/loop/lag_monitor.h"
#include "common/loop/thread_pool.h"
#include "worker/connection/client.h"
#include "worker/keyspace/databases.h"
#include "worker/keyspace/store.h"
#include "worker/keyspace/collection.h"
#include "worker/keyspace/list.h"
#include "worker/keyspace/zset.h"
#include "worker/execution/worker_services.h"

namespace keyloop::commands {

// Read lookup: applies lazy expiry, counts keyspace hits/misses and stamps
// the key's access time.
Store::Entry* lookupRead(CommandContext& ctx, std::string_view key);
// Write lookup: applies lazy expiry and stamps the access time.
inline Store::Entry* lookupWrite(CommandContext& ctx, std::string_view key) {
  Store::Entry* e = ctx.store.find(key, ctx.nowMs);
  if (e != nullptr && !ctx.noTouch) ctx.store.touch(e);
  return e;
}
// A look that leaves no trace (TYPE, OBJECT): lazy expiry only.
inline Store::Entry* lookupQuietly(CommandContext& ctx, std::string_view key) {
  return ctx.store.find(key, ctx.nowMs);
}
// Typed lookups: the key's entry when it holds `type`, nullptr when it is
// absent; nullopt after replying WRONGTYPE. readAs counts hits and misses.
std::optional<Store::Entry*> readAs(CommandContext& ctx, std::string_view key, Type type);
std::optional<Store::Entry*> writeAs(CommandContext& ctx, std::string_view key, Type type);
// The first of args[first..end) that exists, type-checked (nullopt:
// WRONGTYPE replied; a null entry: none exists), as the multi-key pops
// look for the key to pop from.
std::optional<std::pair<std::string_view, Store::Entry*>> firstExisting(CommandContext& ctx, std::size_t first,
                                                                        std::size_t end, Type type);
// An integer argument, or nullopt after replying Redis's "not an integer".
std::optional<long long> integerOrReply(CommandContext& ctx, std::string_view arg);
// An integer in [min, max] with Redis's getRangeLongFromObjectOrReply
// errors ("value is out of range, value must between MIN and MAX");
// nullopt after replying.
std::optional<long long> rangedIntegerOrReply(CommandContext& ctx, std::string_view arg, long long min, long long max);
// A database number as Redis reads one (getIntFromObjectOrReply); `invalid`:
// the error text for a malformed one (null: Redis's integer errors).
std::optional<int> databaseArgument(CommandContext& ctx, std::string_view arg, const char* invalid = nullptr);
// Database `db`'s store for a command that writes a key there (MOVE, COPY
// ... DB), or null after the error: out of range, the run's own, or a run
// against locked copies of keys.
Store* otherDatabase(CommandContext& ctx, int db);
// Before a handler writes `key` of `store` outside its own keys: a
// snapshot being written keeps it as it was.
void keepForSnapshot(CommandContext& ctx, Store& store, std::string_view key);
// SRANDMEMBER's, HRANDFIELD's and ZRANDMEMBER's count: -LONG_MAX..LONG_MAX.
inline std::optional<long long> randomCountOrReply(CommandContext& ctx, std::string_view arg) {
  return rangedIntegerOrReply(ctx, arg, -LLONG_MAX, LLONG_MAX);
}
// A reply whose size the client chose (a negative random count) is produced
// as it goes and stops once the output passes client_output_buffer_limit:
// the connection is then closed, as Redis closes one over its limit; the
// worker never reserves what the client asked for.
bool replyOverLimit(const CommandContext& ctx);
// Redis's getPositiveLongFromObjectOrReply: a non-negative integer, or
// nullopt after replying `message` (for a non-integer too).
std::optional<long long> positiveOrReply(CommandContext& ctx, std::string_view arg,
                                         std::string_view message = "ERR value is out of range, must be positive");
// LMPOP / ZMPOP and their blocking forms: [COUNT n] from args[from] on
// (1 when absent); nullopt after replying Redis's error.
std::optional<long long> mpopCountOrReply(CommandContext& ctx, std::size_t from);
// The encoding limits of hashes and sets, as configured now (collections.cpp).
collection::Limits hashLimits(const CommandContext& ctx);
collection::Limits setLimits(const CommandContext& ctx);
list::Limits listLimits(const CommandContext& ctx);
zset::Limits zsetLimits(const CommandContext& ctx);

// SCAN's options after the cursor (MATCH, COUNT, and TYPE for SCAN itself);
// nullopt after replying the error.
struct ScanOptions {
  std::size_t count = 10;
  std::string_view pattern = "*";
  std::string_view type;
};
std::optional<ScanOptions> parseScanOptions(CommandContext& ctx, std::size_t first, bool typeAllowed);
// HSCAN / SSCAN of `e` (null: an empty scan) from the options at args[3].
void scanCollection(CommandContext& ctx, const Store::Entry* e, std::uint64_t cursor);
// HDEL / SREM: removes args[2..] from the hash or set at args[1], and the
// key once it is empty; replies how many were there.
void removeElements(CommandContext& ctx, Type type);
// `wanted` distinct random tuples of `e` (fewer than its size), each once.
using VisitTuple = std::function<void(std::string_view key, std::string_view value)>;
void randomDistinct(const Store::Entry* e, std::size_t wanted, const VisitTuple& visit);

// The argument after LMPOP's / ZMPOP's keys (LEFT|RIGHT, MIN|MAX), where
// args[numkeysAt] counts them; empty when there is none.
std::string_view directionAfterKeys(std::span<const std::string_view> args, std::size_t numkeysAt);

// "ERR invalid expire time in '<command>' command"
void replyInvalidExpire(CommandContext& ctx);
// Turns a relative or absolute expiry argument into Unix ms like Redis's
// getExpireMillisecondsOrReply; replies the error and returns nullopt.
enum class ExpireUnit { Seconds, Milliseconds };
std::optional<long long> expireMillisOrReply(CommandContext& ctx, std::string_view arg,
                                             ExpireUnit unit, bool relative);
void replyValue(CommandContext& ctx, const Store::Entry* entry);  // bulk, or null
// Replaces `entry`'s value (keeping its TTL), or creates `key` when absent.
void storeValue(CommandContext& ctx, Store::Entry* entry, std::string_view key, std::string_view value,
                Kind kind = Kind::String);
// A HELP subcommand's reply: one status line each.
void replyHelp(CommandContext& ctx, std::span<const std::string_view> lines);

// cluster.cpp
void clusterSlots(CommandContext&);
void clusterShards(CommandContext&);
void clusterNodes(CommandContext&);
void clusterInfo(CommandContext&);
void clusterMyid(CommandContext&);
void clusterKeyslot(CommandContext&);
void clusterCountkeysinslot(CommandContext&);
void clusterGetkeysinslot(CommandContext&);
void clusterHelp(CommandContext&);
void clusterAccept(CommandContext&);  // ASKING, READONLY, READWRITE

// strings.cpp
void get(CommandContext&);
void set(CommandContext&);
void setnx(CommandContext&);
void setex(CommandContext&);
void psetex(CommandContext&);
void getset(CommandContext&);
void getdel(CommandContext&);
void getex(CommandContext&);
void mget(CommandContext&);
void mset(CommandContext&);
void msetnx(CommandContext&);
void append(CommandContext&);
void strlen(CommandContext&);
void setrange(CommandContext&);
void getrange(CommandContext&);
void incr(CommandContext&);
void decr(CommandContext&);
void incrby(CommandContext&);
void decrby(CommandContext&);
void incrbyfloat(CommandContext&);

// hashes.cpp
void hset(CommandContext&);
void hmset(CommandContext&);
void hsetnx(CommandContext&);
void hget(CommandContext&);
void hmget(CommandContext&);
void hdel(CommandContext&);
void hlen(CommandContext&);
void hstrlen(CommandContext&);
void hexists(CommandContext&);
void hincrby(CommandContext&);
void hincrbyfloat(CommandContext&);
void hkeys(CommandContext&);
void hvals(CommandContext&);
void hgetall(CommandContext&);
void hrandfield(CommandContext&);
void hscan(CommandContext&);

// sets.cpp
void sadd(CommandContext&);
void srem(CommandContext&);
void sismember(CommandContext&);
void smismember(CommandContext&);
void scard(CommandContext&);
void smembers(CommandContext&);
void srandmember(CommandContext&);
void spop(CommandContext&);
void smove(CommandContext&);
void sinter(CommandContext&);
void sintercard(CommandContext&);
void sinterstore(CommandContext&);
void sunion(CommandContext&);
void sunionstore(CommandContext&);
void sdiff(CommandContext&);
void sdiffstore(CommandContext&);
void sscan(CommandContext&);

// lists.cpp
// A blocking command's timeout argument in ms (0: none), as Redis reads it.
std::optional<long long> timeoutOrReply(CommandContext& ctx, std::string_view arg);
void lpush(CommandContext&);
void rpush(CommandContext&);
void lpushx(CommandContext&);
void rpushx(CommandContext&);
void lpop(CommandContext&);
void rpop(CommandContext&);
void llen(CommandContext&);
void lrange(CommandContext&);
void lindex(CommandContext&);
void lset(CommandContext&);
void linsert(CommandContext&);
void lrem(CommandContext&);
void ltrim(CommandContext&);
void lpos(CommandContext&);
void lmove(CommandContext&);
void rpoplpush(CommandContext&);
void lmpop(CommandContext&);
void blpop(CommandContext&);
void brpop(CommandContext&);
void blmove(CommandContext&);
void brpoplpush(CommandContext&);
void blmpop(CommandContext&);

// zsets.cpp, zset_ranges.cpp
void zadd(CommandContext&);
void zincrby(CommandContext&);
void zrem(CommandContext&);
void zcard(CommandContext&);
void zscore(CommandContext&);
void zmscore(CommandContext&);
void zrank(CommandContext&);
void zrevrank(CommandContext&);
void zcount(CommandContext&);
void zlexcount(CommandContext&);
void zrange(CommandContext&);
void zrangestore(CommandContext&);
void zrangebyscore(CommandContext&);
void zrevrangebyscore(CommandContext&);
void zrangebylex(CommandContext&);
void zrevrangebylex(CommandContext&);
void zrevrange(CommandContext&);
void zremrangebyrank(CommandContext&);
void zremrangebyscore(CommandContext&);
void zremrangebylex(CommandContext&);
void zpopmin(CommandContext&);
void zpopmax(CommandContext&);
void zmpop(CommandContext&);
void bzpopmin(CommandContext&);
void bzpopmax(CommandContext&);
void bzmpop(CommandContext&);
void zunion(CommandContext&);
void zinter(CommandContext&);
void zdiff(CommandContext&);
void zunionstore(CommandContext&);
void zinterstore(CommandContext&);
void zdiffstore(CommandContext&);
void zintercard(CommandContext&);
void zrandmember(CommandContext&);
void zscan(CommandContext&);

// geo.cpp
void geoadd(CommandContext&);
void geodist(CommandContext&);
void geohash(CommandContext&);
void geopos(CommandContext&);
void geosearch(CommandContext&);
void geosearchstore(CommandContext&);
void georadius(CommandContext&);
void georadiusRo(CommandContext&);
void georadiusbymember(CommandContext&);
void georadiusbymemberRo(CommandContext&);
void georadiusKeyIndices(std::span<const std::string_view> args, std::vector<std::size_t>& indices);

// sort.cpp
void sort(CommandContext&);
void sortRo(CommandContext&);
void sortKeyIndices(std::span<const std::string_view> args, std::vector<std::size_t>& indices);

// waiting.cpp: CLIENT UNBLOCK, and blocking.h's peer messages
// (peer_messages.h), by kind.
void blockWaiter(CommandContext&);    // Block
void unblockWaiter(CommandContext&);  // Unblock
void rewaitWaiter(CommandContext&);   // Rewait
void wakeWait(CommandContext&);       // Wake
void servedWait(CommandContext&);     // Served
void retryWait(CommandContext&);      // Retry
void clientUnblock(CommandContext&);

// bitmaps.cpp
void setbit(CommandContext&);
void getbit(CommandContext&);
void bitcount(CommandContext&);
void bitpos(CommandContext&);
void bitop(CommandContext&);
void bitfield(CommandContext&);
void bitfieldRo(CommandContext&);

// hyperloglog.cpp
void pfadd(CommandContext&);
void pfcount(CommandContext&);
void pfmerge(CommandContext&);
void pfdebug(CommandContext&);
void pfselftest(CommandContext&);

// lcs.cpp
void lcs(CommandContext&);

// keyspace.cpp
void del(CommandContext&);
void exists(CommandContext&);
void touch(CommandContext&);
void type(CommandContext&);
void rename(CommandContext&);
void renamenx(CommandContext&);
void keys(CommandContext&);
void scan(CommandContext&);
void randomkey(CommandContext&);
void dbsize(CommandContext&);
void flushdb(CommandContext&);
void flushall(CommandContext&);
void move(CommandContext&);
void swapdb(CommandContext&);
void barrierHere(CommandContext&);

// expiry.cpp
void expire(CommandContext&);
void pexpire(CommandContext&);
void expireat(CommandContext&);
void pexpireat(CommandContext&);
void ttl(CommandContext&);
void pttl(CommandContext&);
void expiretime(CommandContext&);
void pexpiretime(CommandContext&);
void persist(CommandContext&);

// client_control.cpp: CLIENT KILL, and its peer message
void clientKill(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);
void killClientsHere(CommandContext&);
void clientPause(CommandContext&);
void clientUnpause(CommandContext&);
void clientNoEvict(CommandContext&);
void clientNoTouch(CommandContext&);
void clientSetinfo(CommandContext&);

// connection.cpp
void ping(CommandContext&);
void echo(CommandContext&);
void select(CommandContext&);
void quit(CommandContext&);
void hello(CommandContext&);
void auth(CommandContext&);
void clientId(CommandContext&);
void clientSetname(CommandContext&);
void clientGetname(CommandContext&);
void clientReply(CommandContext&);
void debugProtocol(CommandContext&);
void debugSetActiveExpire(CommandContext&);
void debugSetDisableDenyScripts(CommandContext&);
void debugHelp(CommandContext&);
void clientList(CommandContext&);
void clientInfo(CommandContext&);
void clientHelp(CommandContext&);

// introspection.cpp
void command(CommandContext&);
void commandCount(CommandContext&);
void commandList(CommandContext&);
void commandInfo(CommandContext&);
void commandDocs(CommandContext&);
void commandGetkeys(CommandContext&);
void commandGetkeysAndFlags(CommandContext&);
void commandHelp(CommandContext&);
void time(CommandContext&);

// config.cpp
void configGet(CommandContext&);
void configSet(CommandContext&);
void configResetstat(CommandContext&);
void configRewrite(CommandContext&);
void configHelp(CommandContext&);

// objects.cpp
void objectEncoding(CommandContext&);
void objectFreq(CommandContext&);
void objectIdletime(CommandContext&);
void objectRefcount(CommandContext&);
void objectHelp(CommandContext&);
void memoryUsage(CommandContext&);
void memoryDoctor(CommandContext&);
void memoryStats(CommandContext&);
void memoryMallocStats(CommandContext&);
void memoryPurge(CommandContext&);
void memoryHelp(CommandContext&);
void copy(CommandContext&);
void dump(CommandContext&);
void restore(CommandContext&);

// info.cpp
void info(CommandContext&);
// persistence.cpp: the master answers these (session handlers).
void save(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);
void bgsave(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);
void bgrewriteaof(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);
void shutdown(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);
void lastsave(CommandContext&);
void totals(CommandContext&);  // internal: this worker's ServerStats, for INFO

}  // namespace keyloop::commands
