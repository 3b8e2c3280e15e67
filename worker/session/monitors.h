// Monitors: this worker's MONITOR clients, and MONITOR's feed: every
// command a client of any worker runs reaches every monitor of every worker
// as Redis's line ("+1339518083.107412 [0 127.0.0.1:60866] "set" "k" "v"").
// The worker the client talks to writes the line when the command starts
// (Redis feeds it after the run; the order of one client's commands is the
// same), delivers it to its own monitors and posts it to the other workers
// while any of them has one (a count all workers share). A monitor that
// cannot keep up is closed past the normal output limit (Client::push).
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>

namespace keyloop {

class Connections;
class WorkerStats;
struct CommandSpec;

// The line Redis's replicationFeedMonitors writes: the time, the database,
// where it came from (`origin`: "ip:port", or "lua" for a script's
// command), each argument quoted as sdscatrepr does (passwords redacted).
std::string monitorLine(std::int64_t unixMicros, int db, std::string_view origin, const CommandSpec& spec,
                        std::span<const std::string_view> args);

class Monitors {
 public:
  Monitors(Connections& connections, WorkerStats& stats) : connections_(connections), stats_(stats) {}
  ~Monitors();
  Monitors(const Monitors&) = delete;
  Monitors& operator=(const Monitors&) = delete;

  void add(std::uint64_t clientId);
  void remove(std::uint64_t clientId);
  // To this worker's monitors.
  void deliver(std::string_view line);

 private:
  Connections& connections_;
  WorkerStats& stats_;
  std::set<std::uint64_t> clients_;
};

}  // namespace keyloop
