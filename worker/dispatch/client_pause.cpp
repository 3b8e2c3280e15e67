#include "worker/dispatch/client_pause.h"

#include <algorithm>

#include "common/loop/clock.h"
#include "worker/connection/session.h"
#include "worker/execution/command_table.h"

namespace keyloop {

namespace {

constexpr std::uint32_t kPausedByWrite = kWrite | kMayWrite | kMayReplicate;

}  // namespace

ClientPause::ClientPause(Loop& loop, std::function<void()> ended) : loop_(loop), ended_(std::move(ended)), timer_(loop) {
  timer_.unref();  // a pause never keeps a leaving worker alive
}

void ClientPause::pause(std::int64_t untilMs, Mode mode) {
  mode_ = std::max(mode_, mode);
  untilMs_ = std::max(untilMs_, untilMs);
  const std::int64_t left = std::max<std::int64_t>(0, untilMs_ - unixMillis());
  timer_.start(std::chrono::milliseconds(left), [this] {
    if (unixMillis() < untilMs_) return timer_.rearm(std::chrono::milliseconds(untilMs_ - unixMillis()));
    unpause();
  });
}

void ClientPause::unpause() {
  timer_.stop();
  mode_ = Mode::None;
  untilMs_ = 0;
  if (ended_) ended_();
}

bool ClientPause::holds(const CommandSpec& spec, std::span<const std::string_view> args, const Session& session,
                        WorkerServices& services) const {
  if (mode_ == Mode::None) return false;
  if (mode_ == Mode::All) return true;
  const auto mayWrite = [&services](const CommandSpec& s, std::span<const std::string_view> a) {
    return s.writesFor != nullptr ? s.writesFor(services, a) : (s.flags & kPausedByWrite) != 0;
  };
  if (mayWrite(spec, args)) return true;
  if (!(spec.flags & kRunsTheBlock) || !session.inMulti) return false;
  return std::any_of(session.queued.begin(), session.queued.end(), [&](const QueuedCommand& q) {
    const std::vector<std::string_view> views(q.args.begin(), q.args.end());
    return mayWrite(*q.spec, views);
  });
}

}  // namespace keyloop
