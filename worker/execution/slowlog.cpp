#include "worker/execution/slowlog.h"

#include "worker/execution/command_table.h"

namespace keyloop {

namespace {

// Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING.
constexpr std::size_t kMaxArguments = 32;
constexpr std::size_t kMaxArgumentBytes = 128;

}  // namespace

std::vector<std::string> loggedArguments(const CommandSpec& spec, std::span<const std::string_view> args,
                                         bool shorten) {
  const std::size_t kept = shorten ? std::min(args.size(), kMaxArguments) : args.size();
  std::vector<std::string> out;
  out.reserve(kept);
  for (std::size_t i = 0; i < kept; ++i) {
    if (kept != args.size() && i == kept - 1) {
      // The last place says how many did not fit.
      out.push_back("... (" + std::to_string(args.size() - kept + 1) + " more arguments)");
    } else if (spec.redacts != nullptr && spec.redacts(args, i)) {
      out.emplace_back("(redacted)");
    } else if (shorten && args[i].size() > kMaxArgumentBytes) {
      out.push_back(std::string(args[i].substr(0, kMaxArgumentBytes)) + "... (" +
                    std::to_string(args[i].size() - kMaxArgumentBytes) + " more bytes)");
    } else {
      out.emplace_back(args[i]);
    }
  }
  return out;
}

void Slowlog::consider(const CommandSpec& spec, std::span<const std::string_view> args, std::uint64_t micros,
                       std::int64_t nowMs, std::string_view peer, std::string_view clientName,
                       long long slowerThanMicros, std::size_t maxLen) {
  if (slowerThanMicros < 0 || (spec.flags & kSkipSlowlog)) return;
  if (micros >= static_cast<std::uint64_t>(slowerThanMicros)) {
    SlowlogEntry entry;
    entry.id = nextId_ ? nextId_() : ownIds_++;
    entry.unixSeconds = nowMs / 1000;
    entry.micros = micros;
    entry.args = loggedArguments(spec, args, true);
    entry.peer = peer;
    entry.clientName = clientName;
    entries_.push_front(std::move(entry));
  }
  trim(maxLen);
}

void Slowlog::trim(std::size_t maxLen) {
  while (entries_.size() > maxLen) entries_.pop_back();
}

void Slowlog::write(resp::Reply& reply, std::size_t count) const {
  const std::size_t n = std::min(count, entries_.size());
  reply.array(n);
  for (std::size_t i = 0; i < n; ++i) {
    const SlowlogEntry& e = entries_[i];
    reply.array(6);
    reply.integer(static_cast<long long>(e.id));
    reply.integer(e.unixSeconds);
    reply.integer(static_cast<long long>(e.micros));
    reply.array(e.args.size());
    for (const std::string& a : e.args) reply.bulk(a);
    reply.bulk(e.peer);
    reply.bulk(e.clientName);
  }
}

void Slowlog::writeIds(resp::Reply& reply) const {
  reply.array(entries_.size());
  for (const SlowlogEntry& e : entries_) {
    reply.array(1);
    reply.integer(static_cast<long long>(e.id));
  }
}

}  // namespace keyloop
