// ClientPause: CLIENT PAUSE on one worker (every worker gets the command).
// Until it ends, a command it covers (every command, or with WRITE those
// that write or may be propagated: kWrite, kMayWrite, kMayReplicate, and an
// EXEC whose block holds one) waits: its client keeps a reply place with
// nothing after it run (ReplyOrder's barrier), and when the pause ends the
// commands run in the order they came, each into its place. Redis's rules
// for a second pause: the stricter mode and the later end win.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/loop/handles.h"

namespace keyloop {

class Loop;
struct CommandSpec;
struct Session;
class WorkerServices;

class ClientPause {
 public:
  enum class Mode : std::uint8_t { None, Write, All };
  struct Postponed {
    std::uint64_t client = 0, place = 0;
    std::vector<std::string> args;
  };

  // `ended` runs when the pause is over (its time passed, or unpause()).
  ClientPause(Loop& loop, std::function<void()> ended);

  void pause(std::int64_t untilMs, Mode mode);
  void unpause();
  bool active() const { return mode_ != Mode::None; }
  Mode mode() const { return mode_; }
  // Whether `spec` with `args`, sent by a client in `session`, waits for the end.
  bool holds(const CommandSpec& spec, std::span<const std::string_view> args, const Session& session,
             WorkerServices& services) const;
  void postpone(Postponed command) { postponed_.push_back(std::move(command)); }
  std::size_t postponedCount() const { return postponed_.size(); }
  // The waiting commands, oldest first; none wait afterwards.
  std::vector<Postponed> takePostponed() { return std::exchange(postponed_, {}); }

 private:
  Loop& loop_;
  std::function<void()> ended_;
  Mode mode_ = Mode::None;
  std::int64_t untilMs_ = 0;
  Timer timer_;
  std::vector<Postponed> postponed_;
};

}  // namespace keyloop
