#include "worker/session/aof_waits.h"

#include <algorithm>
#include <climits>
#include <memory>

#include "common/resp/reply_reader.h"
#include "common/text/text.h"
#include "worker/commands/commands.h"
#include "worker/connection/client.h"
#include "worker/connection/connections.h"
#include "worker/dispatch/cross_worker.h"
#include "worker/dispatch/dispatch.h"
#include "worker/execution/command_families.h"
#include "worker/persistence/persistence.h"

namespace keyloop {

namespace {

constexpr auto kAskEvery = std::chrono::milliseconds(10);

std::string answer(bool local, long long replicas) {
  return std::string("*2\r\n:") + (local ? "1" : "0") + "\r\n:" + std::to_string(replicas) + "\r\n";
}

const AofLog* localLog(WorkerServices& services) {
  const Persistence* persistence = services.persistence();
  return persistence != nullptr ? persistence->log() : nullptr;
}

}  // namespace

AofWaits::AofWaits(Dispatch& dispatch) : dispatch_(dispatch), timer_(dispatch.loop()) {}

AofWaits::~AofWaits() { *alive_ = false; }

std::vector<AofWaits::Offsets> AofWaits::offsetsOf(const std::vector<std::string>& replies) {
  std::vector<Offsets> out;
  for (const std::string& r : replies) {
    const std::vector<std::string_view> pair = resp::replyElements(r);
    if (pair.size() != 2) return {};  // a worker without a log: nothing is fsynced
    out.push_back({static_cast<std::uint64_t>(resp::replyInteger(pair[0]).value_or(0)),
                   static_cast<std::uint64_t>(resp::replyInteger(pair[1]).value_or(0))});
  }
  return out;
}

void AofWaits::add(Client& client, long long numlocal, long long numreplicas, std::chrono::milliseconds timeout) {
  const std::uint64_t place = client.reserveReply();
  client.holdUntilFilled(place);  // nothing of this connection runs before the answer
  const TimePoint deadline = timeout.count() == 0 ? TimePoint::max() : dispatch_.loop().now() + timeout;
  const std::uint64_t id = nextId_++;
  waits_.push_back({id, client.id(), place, numlocal, numreplicas, deadline, {}});
  const peer::Message ask = peer::aofOffsetsRequest();
  askEveryWorker(dispatch_, ask.args(), [this, alive = alive_, id](const std::vector<std::string>& replies) {
    if (*alive) marked(id, replies);
  });
}

void AofWaits::marked(std::uint64_t id, const std::vector<std::string>& replies) {
  const auto wait = std::find_if(waits_.begin(), waits_.end(), [id](const Wait& w) { return w.id == id; });
  if (wait == waits_.end()) return;
  const std::vector<Offsets> offsets = offsetsOf(replies);
  for (const Offsets& o : offsets) wait->marks.push_back(o.appended);
  if (wait->marks.empty()) wait->marks.push_back(UINT64_MAX);  // no log anywhere: never fsynced
  settle(offsets);
  armIfWaiting();
}

void AofWaits::askAgain() {
  if (asking_) return;
  asking_ = true;
  const peer::Message ask = peer::aofOffsetsRequest();
  askEveryWorker(dispatch_, ask.args(), [this, alive = alive_](const std::vector<std::string>& replies) {
    if (!*alive) return;
    asking_ = false;
    settle(offsetsOf(replies));
    armIfWaiting();
  });
}

void AofWaits::settle(const std::vector<Offsets>& offsets) {
  const TimePoint now = dispatch_.loop().now();
  for (auto it = waits_.begin(); it != waits_.end();) {
    Client* c = dispatch_.connections().find(it->client);
    if (it->marks.empty() && c != nullptr) {  // its first answers are still on their way
      ++it;
      continue;
    }
    bool local = offsets.size() == it->marks.size();
    for (std::size_t i = 0; local && i < offsets.size(); ++i) local = offsets[i].synced >= it->marks[i];
    const long long replicas = 0;  // no replica acknowledges anything yet
    const bool done = (local ? 1 : 0) >= it->numlocal && replicas >= it->numreplicas;
    if (c == nullptr || done || now >= it->deadline) {
      if (c != nullptr) c->fillReply(it->place, answer(local, replicas));
      it = waits_.erase(it);
    } else {
      ++it;
    }
  }
}

void AofWaits::armIfWaiting() {
  if (waits_.empty() || timer_.active()) return;
  TimePoint next = dispatch_.loop().now() + kAskEvery;
  for (const Wait& w : waits_) next = std::min(next, w.deadline);
  timer_.start(std::max(next - dispatch_.loop().now(), TimePoint::duration::zero()), [this] { askAgain(); });
}

}  // namespace keyloop

// ---- WAITAOF and its peer message ----

namespace keyloop::commands {

namespace {

struct WaitAofArgs {
  long long numlocal, numreplicas, timeoutMs;
};

// Redis's checks, in its order; nullopt after replying the error.
std::optional<WaitAofArgs> parseWaitaof(resp::Reply& reply, std::span<const std::string_view> args,
                                        const AofLog* log) {
  const auto numlocal = parseInteger(args[1]);
  if (!numlocal) return reply.error(kNotInteger), std::nullopt;
  if (*numlocal < 0 || *numlocal > 1) {
    return reply.error("ERR value is out of range, value must between 0 and 1"), std::nullopt;
  }
  const auto numreplicas = parseInteger(args[2]);
  if (!numreplicas || *numreplicas < 0) return reply.error("ERR value is out of range, must be positive"), std::nullopt;
  const auto timeout = parseInteger(args[3]);
  if (!timeout) return reply.error("ERR timeout is not an integer or out of range"), std::nullopt;
  if (*timeout < 0) return reply.error("ERR timeout is negative"), std::nullopt;
  if (*numlocal != 0 && log == nullptr) {
    return reply.error("ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled."), std::nullopt;
  }
  return WaitAofArgs{*numlocal, *numreplicas, *timeout};
}

// Where a connection cannot block (inside EXEC: Redis's CLIENT_DENY_BLOCKING):
// the answer as this worker's log stands.
void answerNow(resp::Reply& reply, const AofLog* log) {
  reply.array(2);
  reply.integer(log != nullptr && log->fsyncedBytes() >= log->appendedBytes() ? 1 : 0);
  reply.integer(0);
}

}  // namespace

void waitaof(Dispatch& dispatch, Client& client, std::span<const std::string_view> args) {
  const AofLog* log = localLog(dispatch.services());
  const auto parsed = parseWaitaof(client.reply(), args, log);
  if (!parsed) return;
  AofWaits* waits = dispatch.services().aofWaits();
  if (client.session().inExec || waits == nullptr) return answerNow(client.reply(), log);
  // Past this many milliseconds the deadline would overflow: no deadline then.
  const long long ms = parsed->timeoutMs > LLONG_MAX / 1'000'000 ? 0 : parsed->timeoutMs;
  waits->add(client, parsed->numlocal, parsed->numreplicas, std::chrono::milliseconds(ms));
}

// A transaction run on its keys' owners: it cannot block there.
void waitaofInBlock(CommandContext& ctx) {
  const AofLog* log = localLog(ctx.worker);
  if (parseWaitaof(ctx.reply, ctx.args, log)) answerNow(ctx.reply, log);
}

void aofOffsets(CommandContext& ctx) {
  const AofLog* log = localLog(ctx.worker);
  if (log == nullptr) return ctx.reply.array(0);
  ctx.reply.array(2);
  ctx.reply.integer(static_cast<long long>(log->appendedBytes()));
  ctx.reply.integer(static_cast<long long>(log->fsyncedBytes()));
}

}  // namespace keyloop::commands

namespace keyloop {

std::span<const CommandSpec> aofWaitCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "waitaof", .arity = 4, .flags = kNoScript, .acl = acl::kConnection,
       .handler = waitaofInBlock, .session = waitaof},
      {.name = "peer-aofoffsets", .arity = 0, .flags = 0,
       .handler = aofOffsets, .peer = peer::Kind::AofOffsets},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
