// Slowlog: this worker's part of Redis's slow log, the commands whose run
// took at least slowlog-log-slower-than microseconds, newest first, at most
// slowlog-max-len of them. Entry ids come from a counter every worker
// shares, so SLOWLOG GET merges the workers' parts by id into one log.
//
// What an entry keeps of a command is what Redis keeps (loggedArguments):
// at most 32 arguments, each at most 128 bytes, and a password as
// "(redacted)"; MONITOR shows the same redaction.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/resp/reply.h"

namespace keyloop {

struct CommandSpec;

struct SlowlogEntry {
  std::uint64_t id = 0;
  std::int64_t unixSeconds = 0;
  std::uint64_t micros = 0;
  std::vector<std::string> args;
  std::string peer, clientName;
};

// The arguments as a log shows them: the row's redacted ones (AUTH's
// password) as "(redacted)"; with `shorten`, Redis's slow log limits.
std::vector<std::string> loggedArguments(const CommandSpec& spec, std::span<const std::string_view> args, bool shorten);

class Slowlog {
 public:
  // Where ids come from (the shared counter); unset, this log counts alone.
  void setIdSource(std::function<std::uint64_t()> next) { nextId_ = std::move(next); }

  // Logs the run if it was slow enough for `slowerThanMicros` (negative:
  // never), then keeps at most `maxLen` entries.
  void consider(const CommandSpec& spec, std::span<const std::string_view> args, std::uint64_t micros,
                std::int64_t nowMs, std::string_view peer, std::string_view clientName, long long slowerThanMicros,
                std::size_t maxLen);
  // Trims to `maxLen` (CONFIG SET slowlog-max-len takes effect at once).
  void trim(std::size_t maxLen);
  void reset() { entries_.clear(); }
  std::size_t size() const { return entries_.size(); }
  // The newest `count` entries as SLOWLOG GET replies them.
  void write(resp::Reply& reply, std::size_t count) const;
  // Every entry as [id], newest first (SLOWLOG LEN over several workers).
  void writeIds(resp::Reply& reply) const;

 private:
  std::deque<SlowlogEntry> entries_;  // newest first
  std::uint64_t ownIds_ = 0;
  std::function<std::uint64_t()> nextId_;
};

}  // namespace keyloop
