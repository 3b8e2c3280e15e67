#include "worker/routing/router.h"

#include <utility>

namespace keyloop {

Router::Router(Loop& loop, int self, std::vector<Link> links, Executor executor)
    : loop_(loop),
      self_(self),
      ring_(static_cast<int>(links.size())),
      executor_(std::move(executor)),
      timeouts_(loop),
      retryTimer_(loop) {
  for (std::size_t peer = 0; peer < links.size(); ++peer) {
    peerLinks_.push_back(static_cast<int>(peer) == self_ ? -1 : addLink(links[peer]));
  }
  timeouts_.unref();
  timeouts_.start(std::chrono::milliseconds(100), std::chrono::milliseconds(100), [this] { expireRequests(); });
}

void Router::later(std::function<void()> again) {
  retries_.push_back(std::move(again));
  if (retries_.size() > 1) return;  // the timer runs already
  retryTimer_.start(std::chrono::milliseconds(1), [this] {
    for (std::function<void()>& again : std::exchange(retries_, {})) again();
  });
}

int Router::addLink(Link link) {
  const int id = static_cast<int>(senders_.size());
  senders_.push_back(std::make_unique<ipc::Sender>(loop_, *link.out));
  senders_.back()->setBeforePublish(beforePublish_);
  receivers_.push_back(
      std::make_unique<ipc::Receiver>(loop_, *link.in, [this, id](std::string_view r) { onRecord(id, r); }));
  configure(*receivers_.back());
  return id;
}

void Router::configure(ipc::Receiver& receiver) {
  if (prefetch_) {
    receiver.setLookahead([this](std::string_view record) {
      std::uint16_t db = 0;
      if (const auto key = ipc::peekRequestKey(record, &db)) prefetch_(*key, db);
    });
  }
  if (waitsForAny_) receiver.setWaitsForAny(waitsForAny_);
}

void Router::setPrefetch(std::function<void(std::string_view key, int db)> prefetch) {
  prefetch_ = std::move(prefetch);
  for (auto& receiver : receivers_) configure(*receiver);
}

void Router::setWaitsForAny(std::function<bool()> waits) {
  waitsForAny_ = std::move(waits);
  for (auto& receiver : receivers_) configure(*receiver);
}

int Router::addGuest(Link link) { return addLink(link); }

void Router::setBeforePublish(std::function<void()> hook) {
  beforePublish_ = std::move(hook);
  for (auto& sender : senders_) {
    if (sender) sender->setBeforePublish(beforePublish_);
  }
}

int Router::addNext(int peer, Link link) {
  if (nextLinks_.size() <= static_cast<std::size_t>(peer)) nextLinks_.resize(static_cast<std::size_t>(peer) + 1, -1);
  return nextLinks_[static_cast<std::size_t>(peer)] = addLink(link);
}

void Router::sendRecord(int link, std::string_view record) { senders_[static_cast<std::size_t>(link)]->send(record); }

void Router::retarget(int workers) {
  // The old links stay open but quiet (the migration drained them first);
  // they go away with this process.
  ring_ = ring::Ring(workers);
  self_ = -1;
  peerLinks_ = std::move(nextLinks_);
  peerLinks_.resize(static_cast<std::size_t>(workers), -1);
  nextLinks_.clear();
}

Router::~Router() = default;

Router::Pending& Router::openRequest(int owner) {
  if (freeSlots_.empty()) {
    freeSlots_.push_back(static_cast<std::uint32_t>(pending_.size()));
    pending_.emplace_back();
  }
  const std::uint32_t slot = freeSlots_.back();
  freeSlots_.pop_back();
  Pending& p = pending_[slot];
  // 32 bits of sequence (never 0: id 0 marks a free slot) above the slot.
  p.id = ((nextSequence_++ % 0xFFFFFFFFu + 1) << kSlotBits) | slot;
  p.sentAt = loop_.now();
  p.owner = owner;
  ++forwarded_;
  return p;
}

ipc::Sender& Router::senderTo(int owner) {
  return *senders_[static_cast<std::size_t>(peerLinks_[static_cast<std::size_t>(owner)])];
}

void Router::sendRequest(const Pending& p, std::span<const std::string_view> args, resp::Protocol protocol, int db,
                         std::uint64_t tracked) {
  senderTo(p.owner).sendInPlace(ipc::requestBytes(args), [&](char* out) {
    ipc::writeRequest(out, p.id, static_cast<std::uint8_t>(protocol), args, static_cast<std::uint16_t>(db), tracked);
  });
}

int Router::peerOfLink(int link) const {
  for (std::size_t w = 0; w < peerLinks_.size(); ++w) {
    if (peerLinks_[w] == link) return static_cast<int>(w);
  }
  return -1;
}

void Router::call(int owner, std::span<const std::string_view> args, resp::Protocol protocol, Done done, int db,
                  std::uint64_t tracked) {
  if (owner == self_) return executor_(args, protocol, db, {tracked, self_}, std::move(done));
  Pending& p = openRequest(owner);
  p.done = std::move(done);
  sendRequest(p, args, protocol, db, tracked);
}

void Router::post(int owner, std::span<const std::string_view> args, int db) { send(owner, args, /*wake=*/false, db); }
void Router::notify(int owner, std::span<const std::string_view> args, int db) { send(owner, args, /*wake=*/true, db); }

void Router::send(int owner, std::span<const std::string_view> args, bool wake, int db) {
  if (owner == self_) return executor_(args, resp::Protocol::Resp2, db, {0, self_}, [](std::string_view) {});
  // Nobody waits for it; without `wake` its owner reads it when it next wakes (channel.h).
  senderTo(owner).sendInPlace(
      ipc::requestBytes(args),
      [&](char* out) {
        ipc::writeRequest(out, 0, static_cast<std::uint8_t>(resp::Protocol::Resp2), args, static_cast<std::uint16_t>(db));
      },
      /*wakeIfAsleep=*/wake);
}

void Router::forward(int owner, std::span<const std::string_view> args, resp::Protocol protocol, ReplyPlace place,
                     int db, std::uint64_t tracked) {
  if (owner == self_) {
    return executor_(args, protocol, db, {tracked, self_},
                     [this, place](std::string_view reply) { placeSink_(place, reply); });
  }
  Pending& p = openRequest(owner);
  p.place = place;
  sendRequest(p, args, protocol, db, tracked);
}

void Router::answer(Pending& p, std::string_view reply) {
  // The slot is free again before the reply runs: what runs may forward more.
  Done done = std::move(p.done);
  const ReplyPlace place = p.place;
  p = Pending{};
  freeSlots_.push_back(static_cast<std::uint32_t>(&p - pending_.data()));
  if (done) return done(reply);
  placeSink_(place, reply);
}

void Router::onRecord(int link, std::string_view record) {
  const auto typed = ipc::recordType(record);
  if (!typed) return;
  const auto [type, payload] = *typed;
  if (type == ipc::RecordType::Reply) {
    std::uint64_t id = 0;
    std::string_view reply;
    if (!ipc::decodeReply(payload, id, reply)) return;
    const std::size_t slot = id & ((std::uint64_t{1} << kSlotBits) - 1);
    if (slot >= pending_.size() || pending_[slot].id != id) return;  // answered with -TRYAGAIN already
    return answer(pending_[slot], reply);
  }
  if (type != ipc::RecordType::Request) {
    if (control_) control_(link, type, payload);
    return;
  }
  ipc::Request request;
  if (!ipc::decodeRequest(payload, request, peerArgs_)) return;
  const Origin from{request.tracked, request.tracked != 0 ? peerOfLink(link) : -1};
  if (request.id == 0) return executor_(peerArgs_, resp::Protocol::Resp2, request.db, from, [](std::string_view) {});  // posted
  // Two words of capture: std::function keeps them inline (no allocation).
  // Links are few (peers and guests), so the link fits in the id's top bits.
  const std::uint64_t origin = (static_cast<std::uint64_t>(link) << 56) | request.id;
  executor_(peerArgs_, request.protocol == 3 ? resp::Protocol::Resp3 : resp::Protocol::Resp2, request.db, from,
            [this, origin](std::string_view bytes) {
              const std::uint64_t id = origin & ((std::uint64_t{1} << 56) - 1);
              ipc::Sender& sender = *senders_[static_cast<std::size_t>(origin >> 56)];
              sender.sendInPlace(ipc::replyBytes(bytes), [&](char* out) { ipc::writeReply(out, id, bytes); });
            });
}

void Router::expireRequests() {
  const TimePoint now = loop_.now();
  // By index: an answer may forward more and grow the slab.
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    Pending& p = pending_[i];
    if (p.id == 0 || now - p.sentAt <= kRequestTimeout) continue;
    const int owner = p.owner;
    answer(p, "-TRYAGAIN worker " + std::to_string(owner) + " did not answer in time (restarting?)\r\n");
  }
}

}  // namespace keyloop
