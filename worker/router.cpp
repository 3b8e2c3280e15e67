#include "worker/router.h"

#include <cstring>

namespace keyloop {

namespace {

template <typename T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

template <typename T>
bool take(std::string_view& in, T& value) {
  if (in.size() < sizeof value) return false;
  std::memcpy(&value, in.data(), sizeof value);
  in.remove_prefix(sizeof value);
  return true;
}

}  // namespace

Router::Router(Loop& loop, int self, std::vector<Link> links, Executor executor)
    : loop_(loop),
      self_(self),
      ring_(static_cast<int>(links.size())),
      executor_(std::move(executor)),
      timeouts_(loop) {
  senders_.resize(links.size());
  receivers_.resize(links.size());
  for (std::size_t peer = 0; peer < links.size(); ++peer) {
    if (static_cast<int>(peer) == self_) continue;
    senders_[peer] = std::make_unique<ipc::Sender>(loop, *links[peer].out);
    receivers_[peer] = std::make_unique<ipc::Receiver>(
        loop, *links[peer].in, [this, peer](std::string_view r) { onRecord(static_cast<int>(peer), r); });
  }
  timeouts_.unref();
  timeouts_.start(std::chrono::milliseconds(100), std::chrono::milliseconds(100), [this] { expireRequests(); });
}

Router::~Router() = default;

void Router::call(int owner, std::span<const std::string_view> args, resp::Protocol protocol, Done done) {
  if (owner == self_) return executor_(args, protocol, std::move(done));
  const std::uint64_t id = nextId_++;
  std::string& record = requestBuffer_;  // reused: no allocation per request
  record.clear();
  record += 'Q';
  put(record, id);
  put(record, static_cast<std::uint8_t>(protocol));
  put(record, static_cast<std::uint32_t>(args.size()));
  for (std::string_view a : args) {
    put(record, static_cast<std::uint32_t>(a.size()));
    record += a;
  }
  senders_[static_cast<std::size_t>(owner)]->send(record);
  pending_.emplace(id, Pending{std::move(done), loop_.now(), owner});
  ++forwarded_;
}

void Router::onRecord(int peer, std::string_view record) {
  char type = record.empty() ? '?' : record[0];
  record.remove_prefix(1);
  std::uint64_t id = 0;
  if (!take(record, id)) return;
  if (type == 'R') {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;  // answered with -TRYAGAIN already
    Done done = std::move(it->second.done);
    pending_.erase(it);
    done(record);
    return;
  }
  if (type != 'Q') return;
  std::uint8_t protocol = 2;
  std::uint32_t argc = 0;
  if (!take(record, protocol) || !take(record, argc)) return;
  std::vector<std::string_view>& args = peerArgs_;
  args.clear();
  for (std::uint32_t i = 0; i < argc; ++i) {
    std::uint32_t length = 0;
    if (!take(record, length) || record.size() < length) return;
    args.push_back(record.substr(0, length));
    record.remove_prefix(length);
  }
  executor_(args, protocol == 3 ? resp::Protocol::Resp3 : resp::Protocol::Resp2,
            [this, peer, id](std::string_view bytes) {
              std::string& reply = replyBuffer_;
              reply.clear();
              reply += 'R';
              put(reply, id);
              reply += bytes;
              senders_[static_cast<std::size_t>(peer)]->send(reply);
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
