#include "worker/router.h"

namespace keyloop {

Router::Router(Loop& loop, int self, std::vector<Link> links, Executor executor)
    : loop_(loop),
      self_(self),
      ring_(static_cast<int>(links.size())),
      executor_(std::move(executor)),
      timeouts_(loop) {
  for (std::size_t peer = 0; peer < links.size(); ++peer) {
    peerLinks_.push_back(static_cast<int>(peer) == self_ ? -1 : addLink(links[peer]));
  }
  timeouts_.unref();
  timeouts_.start(std::chrono::milliseconds(100), std::chrono::milliseconds(100), [this] { expireRequests(); });
}

int Router::addLink(Link link) {
  const int id = static_cast<int>(senders_.size());
  senders_.push_back(std::make_unique<ipc::Sender>(loop_, *link.out));
  receivers_.push_back(
      std::make_unique<ipc::Receiver>(loop_, *link.in, [this, id](std::string_view r) { onRecord(id, r); }));
  return id;
}

int Router::addGuest(Link link) { return addLink(link); }

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

void Router::call(int owner, std::span<const std::string_view> args, resp::Protocol protocol, Done done) {
  if (owner == self_) return executor_(args, protocol, std::move(done));
  const std::uint64_t id = nextId_++;
  std::string& record = requestBuffer_;  // reused: no allocation per request
  ipc::encodeRequest(record, id, static_cast<std::uint8_t>(protocol), args);
  senders_[static_cast<std::size_t>(peerLinks_[static_cast<std::size_t>(owner)])]->send(record);
  pending_.emplace(id, Pending{std::move(done), loop_.now(), owner});
  ++forwarded_;
}

void Router::onRecord(int link, std::string_view record) {
  const auto typed = ipc::recordType(record);
  if (!typed) return;
  const auto [type, payload] = *typed;
  if (type == ipc::RecordType::Reply) {
    std::uint64_t id = 0;
    std::string_view reply;
    if (!ipc::decodeReply(payload, id, reply)) return;
    auto it = pending_.find(id);
    if (it == pending_.end()) return;  // answered with -TRYAGAIN already
    Done done = std::move(it->second.done);
    pending_.erase(it);
    done(reply);
    return;
  }
  if (type != ipc::RecordType::Request) {
    if (control_) control_(link, type, payload);
    return;
  }
  ipc::Request request;
  if (!ipc::decodeRequest(payload, request, peerArgs_)) return;
  executor_(peerArgs_, request.protocol == 3 ? resp::Protocol::Resp3 : resp::Protocol::Resp2,
            [this, link, id = request.id](std::string_view bytes) {
              ipc::encodeReply(replyBuffer_, id, bytes);
              senders_[static_cast<std::size_t>(link)]->send(replyBuffer_);
            });
}

void Router::expireRequests() {
  const TimePoint now = loop_.now();
  std::vector<std::uint64_t> late;
  for (const auto& [id, p] : pending_) {
    if (now - p.sentAt > kRequestTimeout) late.push_back(id);
  }
  for (std::uint64_t id : late) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    Done done = std::move(it->second.done);
    const int owner = it->second.owner;
    pending_.erase(it);
    done("-TRYAGAIN worker " + std::to_string(owner) + " did not answer in time (restarting?)\r\n");
  }
}

}  // namespace keyloop
