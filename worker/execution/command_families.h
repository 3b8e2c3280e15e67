// The command families: each declares its own rows of the command table
// (command_table.h) in the file that implements it, and is listed here
// once. The table merges them, sorted by name; nothing else names a
// command. A new family is a function here and its rows in its file.
#pragma once

#include <span>

#include "worker/execution/command_table.h"

namespace keyloop {

std::span<const CommandSpec> aofWaitCommands();  // session/aof_waits.cpp
std::span<const CommandSpec> atomicCommands();  // atomic.cpp
std::span<const CommandSpec> bitmapCommands();  // commands/bitmaps.cpp
std::span<const CommandSpec> clusterCommands();  // commands/cluster.cpp
std::span<const CommandSpec> configCommands();  // commands/config.cpp
std::span<const CommandSpec> connectionCommands();  // commands/connection.cpp
std::span<const CommandSpec> debugCommands();  // commands/debug.cpp
std::span<const CommandSpec> diagnosticsCommands();  // commands/diagnostics.cpp
std::span<const CommandSpec> expiryCommands();  // commands/expiry.cpp
std::span<const CommandSpec> functionCommands();  // scripting/functions.cpp
std::span<const CommandSpec> geoCommands();  // commands/geo.cpp
std::span<const CommandSpec> hashCommands();  // commands/hashes.cpp
std::span<const CommandSpec> hashExpiryCommands();  // commands/hash_expiry.cpp
std::span<const CommandSpec> hyperloglogCommands();  // commands/hyperloglog.cpp
std::span<const CommandSpec> infoCommands();  // commands/info.cpp
std::span<const CommandSpec> introspectionCommands();  // commands/introspection.cpp
std::span<const CommandSpec> keyspaceCommands();  // commands/keyspace.cpp
std::span<const CommandSpec> lcsCommands();  // commands/lcs.cpp
std::span<const CommandSpec> listCommands();  // commands/lists.cpp
std::span<const CommandSpec> lolwutCommands();  // commands/lolwut.cpp
std::span<const CommandSpec> monitorCommands();  // session/monitors.cpp
std::span<const CommandSpec> objectCommands();  // commands/objects.cpp
std::span<const CommandSpec> persistenceCommands();  // commands/persistence.cpp
std::span<const CommandSpec> pubsubCommands();  // pubsub.cpp
std::span<const CommandSpec> scriptCommands();  // scripting/scripts.cpp
std::span<const CommandSpec> setCommands();  // commands/sets.cpp
std::span<const CommandSpec> sortCommands();  // commands/sort.cpp
std::span<const CommandSpec> streamCommands();  // commands/stream_rows.cpp
std::span<const CommandSpec> stringCommands();  // commands/strings.cpp
std::span<const CommandSpec> trackingCommands();  // session/tracking_commands.cpp
std::span<const CommandSpec> transactionCommands();  // transaction.cpp
std::span<const CommandSpec> waitingCommands();  // commands/waiting.cpp
std::span<const CommandSpec> zsetCommands();  // commands/zsets.cpp
std::span<const CommandSpec> zsetAlgebraCommands();  // commands/zset_algebra.cpp
std::span<const CommandSpec> zsetRangeCommands();  // commands/zset_ranges.cpp

// Every family, for the table to merge.
inline constexpr std::span<const CommandSpec> (*kCommandFamilies[])() = {
    aofWaitCommands,
    atomicCommands,
    bitmapCommands,
    clusterCommands,
    configCommands,
    connectionCommands,
    debugCommands,
    diagnosticsCommands,
    expiryCommands,
    functionCommands,
    geoCommands,
    hashCommands,
    hashExpiryCommands,
    hyperloglogCommands,
    infoCommands,
    introspectionCommands,
    keyspaceCommands,
    lcsCommands,
    listCommands,
    lolwutCommands,
    monitorCommands,
    objectCommands,
    persistenceCommands,
    pubsubCommands,
    scriptCommands,
    setCommands,
    sortCommands,
    streamCommands,
    stringCommands,
    trackingCommands,
    transactionCommands,
    waitingCommands,
    zsetCommands,
    zsetAlgebraCommands,
    zsetRangeCommands};

}  // namespace keyloop
