#include "worker/connection/client.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <utility>

#include "worker/connection/connections.h"

namespace keyloop {

namespace {

resp::ParserLimits limitsOf(const Config& config) { return {config.protoMaxBulkLen, 64 * 1024}; }

}  // namespace

Client::Client(Connections& connections, UniqueFd fd, std::uint64_t id, std::string peer, std::string local)
    : connections_(connections),
      fd_(std::move(fd)),
      io_(connections.loop(), fd_.get()),
      id_(id),
      peer_(std::move(peer)),
      local_(std::move(local)),
      createdAt_(connections.loop().now()),
      lastActive_(createdAt_),
      authenticated_(connections.config().requirePass.empty()),
      parser_(limitsOf(connections.config())),
      clusterNode_(clusterNodeOf(connections.config(), local_)) {}

int Client::clusterNodeOf(const Config& config, std::string_view local) {
  if (!config.cluster.enabled) return -1;
  const std::size_t colon = local.rfind(':');
  if (colon == std::string_view::npos) return -1;
  const int port = std::atoi(std::string(local.substr(colon + 1)).c_str());
  for (const ListenConfig& l : config.listen) {
    if (l.port == port) return -1;  // a shared port: plain Redis semantics
  }
  const int node = port - config.cluster.port;
  return node >= 0 && node < 16384 ? node : -1;
}

void Client::applyLimits() { parser_.setLimits(limitsOf(connections_.config())); }

Client::~Client() = default;

void Client::start() {
  io_.start(kReadable, [this](std::uint32_t events) { onEvents(events); });
}

void Client::onEvents(std::uint32_t events) {
  if (phase_ == Phase::Lingering) return discardInput();
  // After a half-close the peer sends nothing more: only write what it is owed.
  // A client whose script runs (its worker polls between instructions) is
  // not read until the script's reply is out.
  const bool paused = connections_.readingPaused();
  if ((events & (kReadable | kHangup | kError)) && phase_ == Phase::Open && !executing_ && !paused) {
    readAndExecute();
    if (closed()) return;
  } else if (paused && (events & (kReadable | kHangup | kError))) {
    // Its input waits for the worker's script (readiness would wake the
    // waiting loop again and again): heard again when the pause ends.
    if (!std::exchange(heldByPause_, true)) connections_.resumeAfterPause(id_);
    updateInterest();
  }
  if (events & kWritable) {
    flush();
    resumeBuffered();  // back-pressure lifted: run what was read before reading more
  }
}

void Client::readAndExecute() {
  // Most reads hold only whole requests: they are parsed straight out of the
  // worker's shared read buffer, so an idle client owns no input memory at
  // all. Only the bytes of an incomplete request move into query_.
  const bool shared = query_.empty();
  std::string& in = shared ? connections_.sharedReadBuffer() : query_;
  std::size_t oldSize = 0, chunk = kReadChunk;
  if (shared) {
    // Sized once and kept: resizing a string zero-fills it, 16 KB per read.
    if (in.size() < kReadChunk) in.resize(kReadChunk);
  } else {
    // A large bulk in progress is read in bigger steps (Redis does the same).
    chunk = std::max(kReadChunk, std::min<std::size_t>(in.size(), 1 << 20));
    oldSize = in.size();
    in.resize(oldSize + chunk);
  }
  const ssize_t n = ::read(fd_.get(), in.data() + oldSize, chunk);
  const std::size_t filled = oldSize + (n > 0 ? static_cast<std::size_t>(n) : 0);
  if (!shared) in.resize(filled);
  if (n == 0 && !order_.empty() && !connections_.runner().blocked(id_)) {
    // Half-closed with forwarded replies still on their way: deliver them
    // first (the peer may still be reading), then close. (A blocked
    // client closes at once, as in Redis: nothing is popped for it.)
    advance(Phase::ClosingAfterReply);
    return updateInterest();
  }
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return close();
  if (n < 0) return;
  connections_.counters()[kNetInputBytes] += static_cast<std::uint64_t>(n);
  lastActive_ = connections_.loop().now();
  executeBuffered(std::string_view(in.data(), filled), shared);
  if (shared) {
    if (!closed() && queryStart_ < filled) query_.assign(in.data() + queryStart_, filled - queryStart_);
    queryStart_ = 0;
  }
  if (closed()) return;
  if (queryBufferBytes() > connections_.config().clientQueryBufferLimit) {
    connections_.log().warning("closing client %s that reached max query buffer length", peer_.c_str());
    return close();
  }
  flush();
  resumeBuffered();
}

void Client::executeBuffered(std::string_view in, bool shared) {
  // A forwarded command's reply may arrive while we are in here (the owner
  // turned out to be local after all): fillReply() must not re-enter.
  executing_ = true;
  inputRead_ = in.size();
  std::size_t prefetchedTo = queryStart_;
  while (queryStart_ < in.size() && phase_ == Phase::Open) {
    if (readingPaused()) break;  // resumed from onEvents or fillReply
    const std::string_view pending(in.data() + queryStart_, in.size() - queryStart_);
    if (queryStart_ >= prefetchedTo) prefetchedTo = queryStart_ + connections_.runner().prefetchKeys(pending, session_.db);
    const resp::ParseStatus status = parser_.parse(pending);
    if (status == resp::ParseStatus::NeedMore) break;
    if (status == resp::ParseStatus::Error) {
      const std::size_t before = output_.size();
      reply_.error("ERR " + parser_.error());
      if (hasReservedReplies()) queueLocalReply(before);
      connections_.counters()[kCommandErrors]++;
      advance(Phase::ClosingAfterReply);
      break;
    }
    queryStart_ += parser_.consumed();
    if (!parser_.args().empty()) connections_.runner().execute(*this, parser_.args());
    if (closeIfOverOutputLimit()) break;
  }
  executing_ = false;
  if (shared) return;  // the caller keeps what is left of a shared read
  // Consumed bytes are dropped only at request boundaries (the parser keeps
  // offsets relative to the request it is in the middle of).
  if (queryStart_ == query_.size()) {
    std::string().swap(query_);  // idle clients hold no input memory
    queryStart_ = 0;
  } else if (queryStart_ > 0 && queryStart_ >= query_.size() / 2) {
    query_.erase(0, queryStart_);
    queryStart_ = 0;
  }
}

bool Client::closeIfOverOutputLimit() {
  if (closed() || session_.subscribed()) return false;
  const std::size_t pending = outputBufferBytes() + order_.bytesWaiting();
  if (pending <= connections_.config().clientOutputBufferLimit) return false;
  connections_.log().warning("closing client %s: output buffer over the limit (%zu bytes)", peer_.c_str(), pending);
  close();
  return true;
}

void Client::flush() {
  if (closeIfOverOutputLimit() || waitingForLog_) return;
  if (outputSent_ < output_.size() && connections_.replyGate() && connections_.replyGate()(id_)) {
    waitingForLog_ = true;
    return updateInterest();
  }
  send();
}

void Client::logCaughtUp() {
  waitingForLog_ = false;
  if (closed()) return;
  send();
  resumeBuffered();
}

void Client::send() {
  while (outputSent_ < output_.size()) {
    const ssize_t n = ::send(fd_.get(), output_.data() + outputSent_, output_.size() - outputSent_,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      outputSent_ += static_cast<std::size_t>(n);
      connections_.counters()[kNetOutputBytes] += static_cast<std::uint64_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      break;
    } else {
      return close();
    }
  }
  if (outputSent_ == output_.size()) {
    outputSent_ = 0;
    if (phase_ >= Phase::ClosingAfterReply && !order_.empty()) {  // QUIT behind forwarded replies
      output_.clear();
      return updateInterest();
    }
    if (output_.capacity() > kKeptOutputCapacity) {
      std::string().swap(output_);  // a burst's buffer is not kept while idle
    } else {
      output_.clear();
    }
    if (phase_ >= Phase::ClosingAfterReply) return phase_ >= Phase::Finishing ? linger() : close();
  }
  updateInterest();
}

void Client::updateInterest() {
  const bool pending = outputSent_ < output_.size() && !waitingForLog_;
  // Reading stops only once input waits behind the pause: until then there
  // is nothing to hold back, and dropping EPOLLIN for every pipeline whose
  // replies are all in flight would cost two epoll_ctl calls per pipeline.
  const bool paused = phase_ >= Phase::ClosingAfterReply || heldByPause_ || (readingPaused() && queryBufferBytes() > 0);
  std::uint32_t interest = (paused ? 0u : static_cast<std::uint32_t>(kReadable)) |
                           (pending ? static_cast<std::uint32_t>(kWritable) : 0u);
  io_.setInterest(interest);
}

void Client::close() {
  if (closed()) return;
  phase_ = Phase::Closed;
  io_.stop();
  fd_.reset();
  connections_.remove(id_);
}

UniqueFd Client::detach() {
  phase_ = Phase::Closed;
  io_.stop();
  UniqueFd fd = std::move(fd_);
  connections_.remove(id_);
  return fd;
}

void Client::finish() {
  if (phase_ >= Phase::Finishing) return;
  advance(Phase::Finishing);
  flush();  // lingers at once if nothing is owed
}

void Client::linger() {
  advance(Phase::Lingering);
  lingerSince_ = connections_.loop().now();
  ::shutdown(fd_.get(), SHUT_WR);
  io_.setInterest(kReadable);
}

void Client::discardInput() {
  char sink[4096];
  for (;;) {
    const ssize_t n = ::read(fd_.get(), sink, sizeof sink);
    if (n > 0) continue;
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    return close();  // the peer closed its side (or the socket failed)
  }
}

void Client::fillReply(std::uint64_t place, std::string_view bytes) {
  // Inside executeBuffered the caller flushes when its batch is done.
  const bool released = order_.fill(place, bytes);
  if (closed() || closeIfOverOutputLimit()) return;
  if (!released || executing_ || sendQueued_) return;
  sendQueued_ = true;
  connections_.sendSoon(id_);
}

void Client::push(std::string_view bytes) {
  if (phase_ >= Phase::Lingering) return;
  if (hasReservedReplies()) {
    fillReply(reserveReply(), bytes);
  } else {
    output_ += bytes;
    if (!executing_ && !sendQueued_) {
      sendQueued_ = true;
      connections_.sendSoon(id_);
    }
  }
  const std::size_t pending = outputBufferBytes() + order_.bytesWaiting();
  if (session_.monitoring && !session_.subscribed()) {
    if (pending <= connections_.config().clientOutputBufferLimit) return;
    connections_.log().warning("closing monitor %s: output buffer over the limit (%zu bytes)", peer_.c_str(), pending);
    return close();
  }
  const OutputLimit& limit = connections_.config().pubsubOutputLimit;
  bool over = limit.hard > 0 && pending > limit.hard;
  if (limit.soft > 0 && pending > limit.soft) {
    const TimePoint now = connections_.loop().now();
    if (!overSoftLimitSince_) overSoftLimitSince_ = now;
    over = over || now - *overSoftLimitSince_ > std::chrono::seconds(limit.softSeconds);
  } else {
    overSoftLimitSince_.reset();
  }
  if (!over) return;
  connections_.log().warning("closing client %s: pubsub output buffer over the limit (%zu bytes)", peer_.c_str(), pending);
  connections_.countPubsubDisconnect();
  close();
}

void Client::sendReleased() {
  sendQueued_ = false;
  heldByPause_ = false;
  if (phase_ >= Phase::Lingering) return;
  flush();
  resumeBuffered();  // reading may have paused on in-flight replies
}

void Client::executeFirst(std::string request) {
  query_ = std::move(request) + query_.substr(std::min(queryStart_, query_.size()));
  queryStart_ = 0;
  resumeBuffered();
}

void Client::resumeBuffered() {
  // A flush can empty the output at once (loopback takes megabytes): then
  // no EPOLLOUT will come to resume the requests read before the pause,
  // so go on here for as long as that makes progress.
  if (connections_.readingPaused() && queryBufferBytes() > 0) return connections_.resumeAfterPause(id_);
  while (!closed() && queryBufferBytes() > 0 && !readingPaused()) {
    const std::size_t before = queryBufferBytes();
    executeBuffered(query_, /*shared=*/false);
    if (closed()) return;
    flush();
    if (queryBufferBytes() == before) return;  // an incomplete request: wait for more bytes
  }
}

bool Client::readingPaused() const {
  return waitingForLog_ || outputBufferBytes() >= kPauseReadingAt || order_.waiting() >= kMaxReservedReplies || order_.barrierUp();
}

std::string Client::flags() const {
  // Redis's letters, in its order.
  std::string f;
  if (session_.monitoring) f += 'O';
  if (session_.subscribed()) f += 'P';
  if (session_.inMulti) f += 'x';
  if (session_.tracking.on) f += 't';
  if (session_.tracking.brokenRedirect) f += 'R';
  if (session_.tracking.bcast) f += 'B';
  if (phase_ == Phase::ClosingAfterReply) f += 'c';
  if (session_.noEvict) f += 'e';
  if (session_.noTouch) f += 'T';
  return f.empty() ? "N" : f;
}

std::string Client::describe(TimePoint now) const {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  const auto age = duration_cast<seconds>(now - createdAt_).count();
  const auto idle = duration_cast<seconds>(now - lastActive_).count();
  std::string events = "r";
  if (outputBufferBytes() > 0) events += "w";
  return "id=" + std::to_string(id_) + " addr=" + peer_ + " laddr=" + local_ +
         " fd=" + std::to_string(fd_.get()) + " name=" + name_ + " age=" + std::to_string(age) +
         " idle=" + std::to_string(idle) + " flags=" + flags() +
         " db=" + std::to_string(session_.db) + " sub=" + std::to_string(session_.channels.size()) + " psub=" + std::to_string(session_.patterns.size()) +
         " ssub=" + std::to_string(session_.shardChannels.size()) + " multi=" + std::to_string(session_.multiCount()) +
         " qbuf=" + std::to_string(executing_ ? inputRead_ : queryBufferBytes()) +
         " qbuf-free=" + std::to_string(query_.capacity() - query_.size()) +
         " argv-mem=0 multi-mem=0 rbs=" + std::to_string(query_.capacity()) +
         " rbp=0 obl=0 oll=0 omem=" + std::to_string(outputBufferBytes()) +
         " tot-mem=" + std::to_string(query_.capacity() + output_.capacity()) + " events=" + events +
         " cmd=" + (lastCommand_.topLevel == nullptr ? std::string("NULL") : lastCommand_.fullName()) + " user=default redir=" +
         std::to_string(session_.tracking.on ? static_cast<long long>(session_.tracking.redirect) : -1LL) + " resp=" +
         std::to_string(static_cast<int>(reply_.protocol()));
}

}  // namespace keyloop
