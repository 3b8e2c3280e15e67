// Command handlers, one function per command, grouped by family in the .cpp
// files of this folder; command_table.cpp wires them to names and arities.
// Shared lookup helpers live here so every family counts hits the same way.
#pragma once

#include "worker/args.h"
#include "worker/command_table.h"
#include "common/loop/lag_monitor.h"
#include "common/loop/thread_pool.h"
#include "worker/client.h"
#include "worker/key_locks.h"
#include "worker/store.h"
#include "worker/worker_services.h"

namespace keyloop::commands {

// Read lookup: applies lazy expiry and counts keyspace hits/misses.
Store::Entry* lookupRead(CommandContext& ctx, std::string_view key);
// Write lookup: applies lazy expiry, counts nothing.
inline Store::Entry* lookupWrite(CommandContext& ctx, std::string_view key) {
  return ctx.store.find(key, ctx.nowMs);
}
// "ERR invalid expire time in '<command>' command"
void replyInvalidExpire(CommandContext& ctx);
// Turns a relative or absolute expiry argument into Unix ms like Redis's
// getExpireMillisecondsOrReply; replies the error and returns nullopt.
enum class ExpireUnit { Seconds, Milliseconds };
std::optional<long long> expireMillisOrReply(CommandContext& ctx, std::string_view arg,
                                             ExpireUnit unit, bool relative);
void replyValue(CommandContext& ctx, const Store::Entry* entry);  // bulk, or null
// Replaces `entry`'s value (keeping its TTL), or creates `key` when absent.
void storeValue(CommandContext& ctx, Store::Entry* entry, std::string_view key, std::string_view value);
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
void clientList(CommandContext&);
void clientInfo(CommandContext&);
void clientHelp(CommandContext&);

// introspection.cpp
void command(CommandContext&);
void commandCount(CommandContext&);
void commandInfo(CommandContext&);
void commandDocs(CommandContext&);
void commandGetkeys(CommandContext&);
void commandGetkeysAndFlags(CommandContext&);
void commandHelp(CommandContext&);
void configGet(CommandContext&);
void configHelp(CommandContext&);
void info(CommandContext&);
void time(CommandContext&);
void totals(CommandContext&);  // internal: this worker's ServerStats, for INFO

}  // namespace keyloop::commands
