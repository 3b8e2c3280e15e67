// ServerStats: a worker's INFO numbers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

namespace keyloop {

// Error replies by their first word (INFO errorstats), Redis's codes;
// anything else counts as the last.
inline constexpr std::string_view kErrorCodes[] = {
    "ERR", "WRONGTYPE", "BUSYKEY", "CROSSSLOT", "MOVED", "ASK", "TRYAGAIN", "INVALIDOBJ", "NOAUTH",
    "WRONGPASS", "NOPROTO", "EXECABORT", "NOSCRIPT", "BUSY", "OOM", "LOADING", "READONLY", "NOPERM", "NOGROUP",
    "BUSYGROUP", "UNBLOCKED", "OTHER"};
inline constexpr std::size_t kErrorCodeCount = std::size(kErrorCodes);
std::size_t errorCodeIndex(std::string_view errorLine);  // the line after '-'
// Room for each top-level command of the table (command_table.cpp checks).
inline constexpr std::size_t kCommandSlots = 320;
// The most databases keyloop keeps (config: databases), each with its key
// and TTL counts in the stats (INFO keyspace).
inline constexpr std::size_t kDatabaseSlots = 256;

// What INFO reports, as one array so that INFO can sum it over workers
// (the peer message Totals) without naming every field twice: counters, then gauges
// read by Server::totals(), then the per-error and per-command counters.
enum Stat : std::size_t {
  kConnectionsReceived,
  kConnectionsRejected,
  kCommandsProcessed,
  kCommandErrors,
  kKeyspaceHits,
  kKeyspaceMisses,
  kNetInputBytes,
  kNetOutputBytes,
  kConnectedClients,
  kKeys,
  kExpires,
  kExpiredKeys,
  kUsedMemory,    // bytes malloc holds for us
  kResidentBytes,  // RSS
  kCpuSysMicros,   // the process
  kCpuUserMicros,
  kCpuSysMainMicros,  // its loop thread
  kCpuUserMainMicros,
  kLazyfreePending,
  kLazyfreedObjects,
  kBlockedClients,  // waiting in BLPOP and friends (blocking.h)
  kPubsubDisconnects,  // subscribers over client-output-buffer-limit pubsub
  kPubsubChannels,     // gauges: this worker's subscribed channels and patterns
  kPubsubPatterns,
  kEvictedKeys,       // maxmemory's (eviction.h)
  kLoadedKeys,        // gauges: what this worker loaded at start (INFO persistence)
  kLoadExpiredKeys,
  kPeakMemory,        // gauges for MEMORY STATS: the most used_memory seen, used_memory at start,
  kStartupMemory,     // what clients' buffers take, what the log's pending batch takes
  kClientsMemory,
  kAofBuffer,
  kTrackingClients,   // gauges: client tracking (session/tracking.h): this worker's tracking clients,
  kTrackingKeys,      // the keys its table remembers readers of, the readers, and the BCAST
  kTrackingItems,     // prefixes it knows (every worker knows them all: counted by the first)
  kTrackingPrefixes,
  kErrorsByCode,                                       // kErrorCodeCount of them
  kCallsByCommand = kErrorsByCode + kErrorCodeCount,  // by command table index
  kMicrosByCommand = kCallsByCommand + kCommandSlots,
  kFailuresByCommand = kMicrosByCommand + kCommandSlots,    // its handler answered an error
  kRejectionsByCommand = kFailuresByCommand + kCommandSlots,  // refused before its handler (arity, NOAUTH...)
  kKeysByDb = kRejectionsByCommand + kCommandSlots,  // gauges: keys, then keys with a TTL, of each database
  kExpiresByDb = kKeysByDb + kDatabaseSlots,
  kTableBytesByDb = kExpiresByDb + kDatabaseSlots,     // gauges: each database's table overhead,
  kExpiresBytesByDb = kTableBytesByDb + kDatabaseSlots,  // and its TTL set's (MEMORY STATS)
  kStatCount = kExpiresBytesByDb + kDatabaseSlots
};
using ServerStats = std::array<std::uint64_t, kStatCount>;

}  // namespace keyloop
