// Router: runs a command on the worker that owns its keys.
//
// call(owner, args, done): local owner -> the command runs inline and done()
// is usually called before call() returns (not when its keys are locked by
// a cross-worker transaction: see key_locks.h); remote owner -> the request travels over
// the channel to that worker (batched per loop iteration), which runs it on
// its store and sends the reply bytes back; done() runs when they arrive.
// forward(owner, args, place): the hot path of one hop: the reply goes
// straight into a client's reserved place (ReplyPlace), so a forwarded
// request allocates nothing: its record is written into the ring in place,
// its pending entry is a reused slot of a slab (the request id names the
// slot), and no callback object is made on either side.
// A request that gets no answer within kRequestTimeout (its owner crashed
// and is being restarted) is answered with -TRYAGAIN instead of hanging.
//
// Wire records (ipc/messages.h): Request and Reply; any other type is a
// migration record (migration.h), handed to the control handler.
//
// Links: peers are the workers of this worker's generation (ring members,
// by worker index). During a reload a router also has guests (workers of
// the retiring generation: they send requests, we answer) or, on the
// retiring side, the next generation's links, which retarget() turns into
// its peers: from then on this worker owns no key and forwards everything.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/ipc/channel.h"
#include "common/ipc/messages.h"
#include "common/ipc/worker_start.h"
#include "common/resp/reply.h"
#include "common/ring/ring.h"
#include "worker/routing/atomic.h"

namespace keyloop {

class Router final : public Owners {
 public:
  // Who a request runs for, as client tracking needs it (session/tracking.h):
  // `tracked` is the Request record's (0: no tracking client), `worker`
  // the worker it came from (-1: a retiring one's).
  struct Origin {
    std::uint64_t tracked = 0;
    int worker = -1;
  };
  // Runs a command on this worker's store; calls done with the reply, now
  // or (when its keys are locked) later.
  // `db`: the database it runs against (the client's SELECT).
  using Executor =
      std::function<void(std::span<const std::string_view> args, resp::Protocol protocol, int db, Origin origin, Done done)>;
  static constexpr std::chrono::milliseconds kRequestTimeout{3000};

  // A client's reserved reply place (reply_order.h), by client id.
  struct ReplyPlace {
    std::uint64_t client = 0;
    std::uint64_t place = 0;
  };
  using PlaceSink = std::function<void(ReplyPlace, std::string_view reply)>;

  using Link = ChannelLink;

  // A record that is neither request nor reply: (link it came on, type, payload).
  using ControlHandler = std::function<void(int link, ipc::RecordType type, std::string_view payload)>;

  // links[peer] for every worker; links[self] is unused.
  Router(Loop& loop, int self, std::vector<Link> links, Executor executor);
  ~Router();

  // -1 once retargeted: no key is local any more.
  int self() const override { return self_; }
  int workers() const { return ring_.workers(); }
  const ring::Ring& ring() const { return ring_; }
  int ownerOf(std::string_view key) const override { return ring_.ownerOf(key); }
  // `tracked`: the tracking client it runs for (ipc::writeRequest), or 0.
  void call(int owner, std::span<const std::string_view> args, resp::Protocol protocol, Done done, int db = 0,
            std::uint64_t tracked = 0);
  void forward(int owner, std::span<const std::string_view> args, resp::Protocol protocol, ReplyPlace place, int db,
               std::uint64_t tracked = 0);
  // Where forward()'s replies go (set once, by Dispatch).
  void setPlaceSink(PlaceSink sink) { placeSink_ = std::move(sink); }
  // Owners (the atomic executor's peer messages): RESP2.
  void send(int owner, std::span<const std::string_view> args, Done done, int db) override {
    call(owner, args, resp::Protocol::Resp2, std::move(done), db);
  }
  // A request with id 0: its owner runs it and sends nothing back. It does
  // not wake a sleeping owner by itself (ipc::Sender::sendInPlace): for
  // commits, whose locked keys make whoever touches them wake the owner.
  void post(int owner, std::span<const std::string_view> args, int db) override;
  // The same, and a sleeping owner wakes for it (blocking.h's messages:
  // a blocked client's reply must not wait for the owner's next wake-up).
  void notify(int owner, std::span<const std::string_view> args, int db = 0);

  void later(std::function<void()> again) override;
  // The scripts' permission (shared metrics; set by the worker).
  void setScriptReach(std::function<bool()> take, std::function<void()> release) {
    takeScriptReach_ = std::move(take);
    releaseScriptReach_ = std::move(release);
  }
  bool tryScriptReach() override { return takeScriptReach_ && takeScriptReach_(); }
  void releaseScriptReach() override {
    if (releaseScriptReach_) releaseScriptReach_();
  }

  void setControlHandler(ControlHandler handler) { control_ = std::move(handler); }
  // The append-only log: what the atomic executor's runs changed
  // (Owners::journal), and the write of its pending batch, which comes
  // before any record of ours is published to a peer.
  using Journal =
      std::function<void(int db, Store& scratch, std::span<const std::string_view> keys, std::int64_t nowMs)>;
  void setJournal(Journal journal) { journal_ = std::move(journal); }
  void journal(int db, Store& scratch, std::span<const std::string_view> keys, std::int64_t nowMs) override {
    if (journal_) journal_(db, scratch, keys, nowMs);
  }
  void setBeforePublish(std::function<void()> hook);
  // Shown the key of each request a few records before it runs (to
  // prefetch it, as a client's pipeline is).
  void setPrefetch(std::function<void(std::string_view key, int db)> prefetch);
  // Whether this worker has work waiting that a posted record may release
  // (ipc::Receiver::setWaitsForAny): then posts wake it too.
  void setWaitsForAny(std::function<bool()> waits);
  // Adds a link to a worker of the retiring generation; returns its link id.
  int addGuest(Link link);
  // Adds the link to worker `peer` of the next generation; returns its link id.
  int addNext(int peer, Link link);
  // Sends a migration record (encoded whole, ipc/messages.h) on a link (by link id).
  void sendRecord(int link, std::string_view record);
  // Records waiting behind a full ring on a link.
  std::size_t backlog(int link) const { return senders_[static_cast<std::size_t>(link)]->overflowed(); }
  // Whether every record sent is in its ring (none waits in an overflow
  // queue): a leaving worker must not take queued records with it.
  bool allWritten() const {
    for (const auto& sender : senders_) {
      if (sender && sender->overflowed() != 0) return false;
    }
    return true;
  }
  int linkOfPeer(int peer) const { return peerLinks_[static_cast<std::size_t>(peer)]; }
  int linkOfNext(int peer) const {
    return static_cast<std::size_t>(peer) < nextLinks_.size() ? nextLinks_[static_cast<std::size_t>(peer)] : -1;
  }
  // The next generation (`workers` of them, linked by addNext) becomes the
  // ring; this worker keeps no key and forwards every keyed command.
  void retarget(int workers);

  std::uint64_t forwarded() const { return forwarded_; }
  std::size_t inFlight() const { return pending_.size() - freeSlots_.size(); }

 private:
  void send(int owner, std::span<const std::string_view> args, bool wake, int db);
  struct Pending {
    std::uint64_t id = 0;  // 0: a free slot
    Done done;             // empty: the reply goes to `place`
    ReplyPlace place;
    TimePoint sentAt;
    int owner = -1;
  };
  int addLink(Link link);
  // Gives a receiver the prefetch and waits-for-any hooks set so far.
  void configure(ipc::Receiver& receiver);
  ipc::Sender& senderTo(int owner);
  // A free slab slot for a request to `owner`, its id set.
  Pending& openRequest(int owner);
  void sendRequest(const Pending& p, std::span<const std::string_view> args, resp::Protocol protocol, int db,
                   std::uint64_t tracked);
  // The worker index of a peer link (-1: a guest's, or none).
  int peerOfLink(int link) const;
  void answer(Pending& p, std::string_view reply);
  void onRecord(int link, std::string_view record);
  void expireRequests();

  Loop& loop_;
  int self_;
  ring::Ring ring_;
  Executor executor_;
  ControlHandler control_;
  Journal journal_;
  std::function<void()> beforePublish_;
  std::function<void(std::string_view key, int db)> prefetch_;
  std::function<bool()> waitsForAny_;
  // By link id; a link's replies go back on the link its request came on.
  std::vector<std::unique_ptr<ipc::Sender>> senders_;
  std::vector<std::unique_ptr<ipc::Receiver>> receivers_;
  std::vector<int> peerLinks_;  // [worker index] -> link id (-1: none, self)
  std::vector<int> nextLinks_;  // the same for the next generation
  // Request ids: (sequence << kSlotBits) | slot, so a reply finds its slot
  // at once and a late reply to a reused slot (answered -TRYAGAIN already)
  // is told apart by its sequence.
  static constexpr int kSlotBits = 24;
  std::vector<Pending> pending_;
  std::vector<std::uint32_t> freeSlots_;
  std::uint64_t nextSequence_ = 1;
  PlaceSink placeSink_;
  std::uint64_t forwarded_ = 0;
  Timer timeouts_;
  Timer retryTimer_;  // later()'s
  std::vector<std::function<void()>> retries_;
  std::function<bool()> takeScriptReach_;
  std::function<void()> releaseScriptReach_;
  std::vector<std::string_view> peerArgs_;  // a decoded request's, reused
};

}  // namespace keyloop
