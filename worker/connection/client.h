// Client: one connection's state: its socket, query buffer and parser
// progress, pending output, protocol version and identity (CLIENT command).
//
// Reading and writing follow Redis's ae shape: every complete request in a
// read is executed and its reply appended to one output buffer, which is
// written once at the end of the read; EPOLLOUT is asked for only while
// output is left over. While more than kPauseReadingAt bytes of output are
// unsent, the client is not read from (back-pressure: a pipelining client
// that does not read its replies stalls itself, not the server).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>
#include <string>

#include "common/config/config.h"
#include "common/loop/handles.h"
#include "common/resp/reply.h"
#include "common/resp/request_parser.h"
#include "worker/execution/command_table.h"
#include "worker/connection/reply_order.h"
#include "worker/connection/session.h"

namespace keyloop {

class Connections;

class Client {
 public:
  static constexpr std::size_t kReadChunk = 16 * 1024;
  static constexpr std::size_t kPauseReadingAt = 1024 * 1024;
  // Output capacity kept between bursts; more is freed once flushed.
  static constexpr std::size_t kKeptOutputCapacity = 4096;
  // Replies held in order behind forwarded commands before reading pauses.
  // Small, because a forwarded reply's size is unknown until it arrives:
  // this bounds what one greedy client can make the server buffer.
  static constexpr std::size_t kMaxReservedReplies = 16;

  Client(Connections& connections, UniqueFd fd, std::uint64_t id, std::string peer, std::string local);
  ~Client();

  void start();
  // Takes the protocol limits of the worker's current config (a reload
  // changes them for every open connection, as CONFIG SET does in Redis).
  void applyLimits();
  // Queues the reply and closes once it is written (QUIT, protocol errors).
  void closeAfterReply() { advance(Phase::ClosingAfterReply); }
  // Stops watching, closes the socket and hands us to the server to free.
  void close();
  bool closed() const { return phase_ == Phase::Closed; }
  // Graceful end (drain): runs no further request, delivers every reply
  // owed, then shuts the socket down for writing and waits (at most
  // kLinger) for the peer to close its side: a request that crossed our
  // FIN was never run, and the peer never sees a reset for it.
  void finish();
  static constexpr std::chrono::seconds kLinger{2};
  // Between requests: nothing read but not yet run, nothing owed, nothing
  // unsent. A retiring worker hands such a connection to a new one (the
  // socket moves; whatever the peer sends next waits in it).
  bool atRequestBoundary() const {
    return phase_ == Phase::Open && !executing_ && queryBufferBytes() == 0 && outputBufferBytes() == 0 &&
           order_.empty() && !order_.barrierUp() && !session_.inMulti && session_.watched.empty();
  }
  // A request handed over with the connection (a reload's blocked
  // command, blocking.h): runs before anything the peer sends next.
  void executeFirst(std::string request);
  // Gives the socket up (the server forgets this client).
  UniqueFd detach();
  // Since when finish() waits for the peer to close (nullopt: it does not).
  std::optional<TimePoint> lingeringSince() const {
    return phase_ == Phase::Lingering ? std::optional<TimePoint>(lingerSince_) : std::nullopt;
  }

  // The cluster node (worker index) whose port this connection came in on
  // (cluster.port + N), even after a reload moved it to another worker;
  // -1 on a shared port.
  int clusterNode() const { return clusterNode_; }
  static int clusterNodeOf(const Config& config, std::string_view local);

  std::uint64_t id() const { return id_; }
  // Inside one of its requests (a script that polls the loop may be).
  bool executing() const { return executing_; }
  int fd() const { return fd_.get(); }
  const std::string& peer() const { return peer_; }
  const std::string& local() const { return local_; }  // the address it connected to (CLIENT LIST laddr=)
  const std::string& name() const { return name_; }
  void setName(std::string name) { name_ = std::move(name); }
  resp::Reply& reply() { return reply_; }
  // MULTI, WATCH and subscriptions (session.h).
  Session& session() { return session_; }
  const Session& session() const { return session_; }
  bool authenticated() const { return authenticated_; }
  void setAuthenticated(bool yes) { authenticated_ = yes; }
  TimePoint lastActive() const { return lastActive_; }
  // CLIENT LIST's cmd= (pointers: no string per command).
  void setLastCommand(const CommandSpec* topLevel, const CommandSpec* sub) { lastCommand_ = {topLevel, sub}; }
  // Bytes read but not yet executed (0 while parsing a shared read).
  std::size_t queryBufferBytes() const { return query_.size() > queryStart_ ? query_.size() - queryStart_ : 0; }
  std::size_t outputBufferBytes() const { return output_.size() - outputSent_; }
  // What its buffers and itself take (CLIENT LIST's tot-mem, MEMORY STATS' clients.normal).
  std::size_t memoryBytes() const { return sizeof(*this) + query_.capacity() + output_.capacity(); }
  // Reply ordering with forwarded commands (reply_order.h): replies always
  // leave in request order.
  std::uint64_t reserveReply() { return order_.reserve(); }
  void fillReply(std::uint64_t place, std::string_view bytes);
  // A message that is no reply (pub/sub, MONITOR): after the replies owed
  // so far. A subscriber over `client-output-buffer-limit pubsub` is
  // disconnected; a monitor over the normal limit too.
  void push(std::string_view bytes);
  // Sends what fillReply() released; the server calls it once per batch of
  // filled replies (see Server::sendSoon), so a pipeline whose replies come
  // back from another worker one by one still leaves in one send().
  void sendReleased();
  // The append-only log has the writes its replies waited for (the reply
  // gate, Connections::setReplyGate): they leave, and reading goes on.
  void logCaughtUp();
  bool hasReservedReplies() const { return !order_.empty(); }
  // Runs none of this client's later commands until `place` is filled: a
  // cross-worker transaction writes at commit, so a command after it must
  // not overtake it (Redis runs one connection's commands in order).
  void holdUntilFilled(std::uint64_t place) { order_.holdUntilFilled(place); }
  // Moves the reply bytes a local command appended since `from` into the
  // queue (used while earlier replies are still reserved).
  void queueLocalReply(std::size_t from) { order_.queueLocal(from); }

  // One line of CLIENT LIST / CLIENT INFO, without the newline.
  std::string describe(TimePoint now) const;
  // Its flags= there ("N": none).
  std::string flags() const;

 private:
  // A connection's life, in order; it only ever moves forward (advance).
  enum class Phase : std::uint8_t {
    Open,               // runs what it reads
    ClosingAfterReply,  // runs nothing more; closes once what it owes is written (QUIT, a protocol error, a half-close)
    Finishing,          // the same for a drain: then shuts its side and lingers (finish())
    Lingering,          // waits, reading and dropping, for the peer to close (at most kLinger)
    Closed,             // close() ran; the server frees us after this callback
  };
  void advance(Phase next) {
    if (next > phase_) phase_ = next;
  }
  void onEvents(std::uint32_t events);
  void linger();
  void discardInput();
  void readAndExecute();
  // `in`: the worker's shared read buffer (shared) or query_.
  void executeBuffered(std::string_view in, bool shared);
  // Runs requests already read, if nothing holds them back any more.
  void resumeBuffered();
  // Sends the output, unless the reply gate holds it back for the log.
  void flush();
  void send();
  // Redis's hard client-output-buffer-limit, checked as replies are added
  // (whoever made them: this worker, another one, a fan-out, a script), not
  // only when a send falls short: a reply over the limit closes the
  // connection however fast the client reads, as in Redis. Subscribers
  // answer to the pub/sub limit instead (push()). True if it closed.
  bool closeIfOverOutputLimit();
  void updateInterest();
  bool readingPaused() const;

  Connections& connections_;
  UniqueFd fd_;
  IoWatcher io_;
  std::uint64_t id_;
  std::string peer_, local_, name_;
  ResolvedCommand lastCommand_;
  TimePoint createdAt_, lastActive_;
  bool authenticated_;
  Phase phase_ = Phase::Open;
  bool executing_ = false;  // inside executeBuffered()
  // The bytes read that executeBuffered() runs through: CLIENT LIST/INFO's
  // qbuf of a client running its command, as Redis trims its query buffer
  // only after the commands it read (its own CLIENT INFO counts itself).
  std::size_t inputRead_ = 0;
  TimePoint lingerSince_{};
  std::optional<TimePoint> overSoftLimitSince_;  // pubsub's soft output limit

  std::string query_;
  std::size_t queryStart_ = 0;  // first byte not yet consumed by the parser
  resp::RequestParser parser_;

  std::string output_;
  std::size_t outputSent_ = 0;
  ReplyOrder order_{output_};
  bool sendQueued_ = false;    // in the sendSoon list (Connections)
  bool heldByPause_ = false;   // not read until Connections::pauseReading(false) (a script waits)
  bool waitingForLog_ = false;  // held by the reply gate: nothing more runs until released
  resp::Reply reply_{output_};
  int clusterNode_;
  Session session_;
};

}  // namespace keyloop
