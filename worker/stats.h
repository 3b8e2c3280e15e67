// ServerStats: a worker's INFO numbers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace keyloop {

// What INFO reports, as one array so that INFO can sum it over workers
// (`__totals`) without naming every field twice. The first ones are
// counters; the last ones are gauges read by Server::totals().
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
  kStatCount
};
using ServerStats = std::array<std::uint64_t, kStatCount>;

// This process's resident set size, in bytes.
std::size_t residentBytes();
// Bytes malloc has handed out and not got back (INFO's used_memory).
std::size_t heapBytesInUse();

}  // namespace keyloop
