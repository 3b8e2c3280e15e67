#include "worker/migration.h"

#include "worker/keyspace/image.h"

#include <memory>
#include <string>

#include "common/ipc/messages.h"
#include "worker/execution/command_table.h"
#include "worker/server.h"

namespace keyloop {

using ipc::RecordType;

namespace {

// A slice per loop iteration: big enough that the loop's own work is
// noise, small enough that the clients served meanwhile wait at most about
// a millisecond for it (4096 gave them 8 ms at p99 in loadtest/run).
constexpr std::size_t kKeysPerSlice = 1024;
// Stop streaming while a ring has this many records waiting behind it.
constexpr std::size_t kMaxBacklog = 64;

}  // namespace

Migration::Migration(Loop& loop, Server& server, Router& router, Log& log, int slot)
    : loop_(loop), server_(server), router_(router), log_(log), slot_(slot), settle_(loop), streamer_(loop), roomCheck_(loop),
      applier_(loop) {
  router_.setControlHandler([this](int link, RecordType type, std::string_view payload) { onRecord(link, type, payload); });
}

Migration::~Migration() { router_.setControlHandler({}); }

void Migration::expectArrivals(int retiring) {
  expectedArrivals_ = retiring;
  if (retiring == 0) return;
  startedAt_ = loop_.now();
  server_.dispatch().hold(/*routedToo=*/true);
}

void Migration::retire(int workers, std::function<void()> onHold, Done done) {
  nextWorkers_ = workers;
  nextRing_ = ring::Ring(workers);
  peers_ = router_.self() >= 0 ? router_.workers() - 1 : 0;
  onHold_ = std::move(onHold);
  done_ = std::move(done);
  startedAt_ = loop_.now();
  // Phase 1: copy everything while serving as usual; remember what changes.
  enter(Phase::Copying);
  server_.dispatch().setWriteObserver([this](const CommandRun& run, const Effects& effects) { noteWrite(run, effects); });
  streamer_.start([this] { streamSlice(); });
}

void Migration::noteWrite(const CommandRun& run, const Effects& effects) {
  // A database emptied or moved: the new workers start over from everything.
  if (run.spec.flags & (kWipesKeyspace | kSwapsDatabases)) {
    flushed_ = true;
    return;
  }
  const std::span<const std::string_view> args = run.ctx.args;
  const int db = run.ctx.db;
  forEachKey(run.spec, args, [this, args, db](std::size_t i, std::size_t) {
    dirty_.insert(keyInDatabase(db, args[i]));
    return true;
  });
  for (const KeyInDatabase& k : effects.elsewhere) dirty_.insert(keyInDatabase(k.db, k.key));
}

void Migration::beginHolding() {
  // Phase 2: the copy is done. Stop taking new work, wait until nothing is
  // in flight between the old workers, then send what changed meanwhile.
  enter(Phase::Quiescing);
  heldAt_ = loop_.now();
  if (onHold_) onHold_();
  server_.dispatch().hold(/*routedToo=*/false);  // peers' requests still run: they make us quiet
  // Quiet comes from messages (a reply, a commit, a peer's Quiet notice):
  // looked at again after every batch of them, never on a timer.
  settle_.unref();
  settle_.start([this] { checkQuiet(); });
  checkQuiet();
}

void Migration::sendChanges() {
  server_.dispatch().setWriteObserver({});
  enter(Phase::SendingChanges);
  if (flushed_) {
    // A FLUSHALL during the copy: start the new workers over, send it all.
    sendToNext(ipc::encodeSlotNotice(RecordType::Flushed, slot_));
    cursor_ = 0;
    scanDb_ = 0;
    scanned_ = false;
    parted_.clear();
    partCursor_ = 0;
    return streamer_.start([this] { streamSlice(); });
  }
  const std::int64_t now = unixMillis();
  for (const std::string& name : dirty_) {
    const int db = databaseOf(name);
    const std::string_view key = keyOf(name);
    sendKey(db, key, server_.keyspaces()[db].find(key, now));
  }
  changed_ = dirty_.size();
  dirty_.clear();
  finishRetiring();
}

void Migration::forgetRetiring(int slot) {
  // `slot` numbers the retiring generation: on the new side it may equal
  // our own number and still be another process.
  copiedPeers_.insert(slot);
  quietPeers_.insert(slot);
  holdIfAllCopied();
  checkQuiet();
  arrived(slot);
}

void Migration::onRecord(int, RecordType type, std::string_view payload) {
  std::int32_t slot = -1;
  switch (type) {
    case RecordType::KeyValue:
    case RecordType::KeyGone:
    case RecordType::KeyMore:
    case RecordType::Flushed:
    case RecordType::HandOverEnd:
      return arrive(type, payload);
    case RecordType::Copied:
      if (!ipc::decodeSlotNotice(payload, slot)) return;
      copiedPeers_.insert(slot);
      return holdIfAllCopied();
    case RecordType::Quiet:
      if (!ipc::decodeSlotNotice(payload, slot)) return;
      quietPeers_.insert(slot);
      return checkQuiet();
    default:
      return;  // requests and replies are the router's
  }
}

void Migration::arrive(RecordType type, std::string_view payload) {
  // A ring full of big values' parts can arrive in one read: applied all
  // at once they would stall this loop. Past a few parts per iteration
  // they wait in order (with whatever follows them) for the next ones.
  if (waiting_.empty() && (type != RecordType::KeyMore || partsThisRound_ < kPartsPerRound)) {
    partsThisRound_ += type == RecordType::KeyMore;
    return apply(type, payload);
  }
  waiting_.emplace_back(type, std::string(payload));
  if (waiting_.size() == 1) applier_.start([this] { applyWaiting(); });
}

void Migration::applyWaiting() {
  partsThisRound_ = 0;
  while (!waiting_.empty() && partsThisRound_ < kPartsPerRound) {
    const auto [type, payload] = std::move(waiting_.front());
    waiting_.pop_front();
    partsThisRound_ += type == RecordType::KeyMore;
    apply(type, payload);
  }
  if (waiting_.empty()) applier_.stop();
}

void Migration::apply(RecordType type, std::string_view payload) {
  ipc::KeyState state;
  std::int32_t slot = -1;
  switch (type) {
    case RecordType::KeyValue:
    case RecordType::KeyGone:
    case RecordType::KeyMore: {
      if (!ipc::decodeKeyState(type, payload, state) || !server_.keyspaces().valid(state.db)) return;
      Store& store = server_.keyspaces()[state.db];
      if (type == RecordType::KeyMore) {
        // Gone meanwhile (expired): the rest of it is of no use.
        if (Store::Entry* e = store.find(state.key, unixMillis())) addPart(store, e, state.value);
        return;
      }
      // A key that expired on the way is set anyway: it vanishes on first
      // touch or in the expire cycle (a clock read per key costs more).
      if (state.exists) restoreImage(store, state.key, state.value, state.expireAt);
      else store.erase(state.key);
      return;
    }
    case RecordType::Flushed:
      return server_.keyspaces().forEach([](int, Store& store) { store.clear(); });
    case RecordType::HandOverEnd:
      if (ipc::decodeSlotNotice(payload, slot)) arrived(slot);
      return;
    default:
      return;
  }
}

void Migration::arrived(int slot) {
  arrivals_.insert(slot);
  if (expectedArrivals_ == 0 || static_cast<int>(arrivals_.size()) < expectedArrivals_) return;
  expectedArrivals_ = 0;
  log_.notice("Worker %d: every retiring worker handed over (%zu keys now) in %.1f ms; serving", slot_,
              server_.keyspaces().keys(),
              std::chrono::duration<double, std::milli>(loop_.now() - startedAt_).count());
  server_.dispatch().release();
  if (onArrived_) onArrived_();
}

void Migration::checkQuiet() {
  if (phase_ != Phase::Quiescing) return;
  if (!sentQuiet_) {
    if (!server_.dispatch().quiet()) return;
    sentQuiet_ = true;
    sendToPeers(RecordType::Quiet);
  }
  // Every peer's requests have arrived (they precede its 'Z') and, with no
  // lock held, have all run: nothing can change the store any more.
  if (static_cast<int>(quietPeers_.size()) < peers_ || !server_.locks().empty() || !server_.dispatch().quiet()) return;
  settle_.stop();
  sendChanges();
}

void Migration::streamSlice() {
  for (int peer = 0; peer < nextWorkers_; ++peer) {
    if (router_.backlog(router_.linkOfNext(peer)) > kMaxBacklog) {
      // Let the new workers catch up, without spinning on a core they need:
      // streaming resumes when they have made room (their reads wake our
      // channel's space watcher, and the check after that poll sees it).
      streamer_.stop();
      roomCheck_.unref();
      roomCheck_.start([this] { resumeWhenRoom(); });
      return;
    }
  }
  if (!parted_.empty()) {
    sendPart();
  } else if (!scanned_) {
    Databases& databases = server_.keyspaces();
    while (scanDb_ < databases.count() && cursor_ == 0 && databases[scanDb_].size() == 0) ++scanDb_;
    if (scanDb_ < databases.count()) {
      const int db = scanDb_;
      cursor_ = databases[db].scanEntries(cursor_, kKeysPerSlice, unixMillis(), [this, db](const Store::Entry* e) {
        sendKey(db, Store::key(e), e, /*inParts=*/true);
        ++moved_;
      });
      if (cursor_ == 0) ++scanDb_;
    }
    scanned_ = scanDb_ >= databases.count();
  }
  if (!scanned_ || !parted_.empty()) return;
  streamer_.stop();
  if (phase_ != Phase::Copying) return finishRetiring();
  // Copied: tell the peers, keep serving until every one of them has
  // copied too, then all hold together (for milliseconds, not for the
  // slowest copy).
  enter(Phase::WaitingForPeers);
  sendToPeers(RecordType::Copied);
  holdIfAllCopied();
}

void Migration::resumeWhenRoom() {
  for (int peer = 0; peer < nextWorkers_; ++peer) {
    if (router_.backlog(router_.linkOfNext(peer)) > kMaxBacklog / 2) return;
  }
  roomCheck_.stop();
  streamer_.start([this] { streamSlice(); });
}

const char* Migration::nameOf(Phase phase) {
  switch (phase) {
    case Phase::Serving: return "serving";
    case Phase::Copying: return "copying";
    case Phase::WaitingForPeers: return "waiting for peers to copy";
    case Phase::Quiescing: return "quiescing";
    case Phase::SendingChanges: return "sending changes";
    case Phase::Forwarding: return "forwarding";
  }
  return "?";
}

void Migration::enter(Phase phase) {
  phase_ = phase;
  log_.verbose("Worker %d hand-over: %s", slot_, nameOf(phase));
  if (phaseObserver_) phaseObserver_(nameOf(phase));
}

void Migration::sendToPeers(RecordType type) {
  const std::string notice = ipc::encodeSlotNotice(type, slot_);
  for (int peer = 0; peer < router_.workers(); ++peer) {
    if (peer != router_.self() && router_.self() >= 0) router_.sendRecord(router_.linkOfPeer(peer), notice);
  }
}

void Migration::sendToNext(std::string_view record) {
  for (int peer = 0; peer < nextWorkers_; ++peer) router_.sendRecord(router_.linkOfNext(peer), record);
}

void Migration::sendKey(int db, std::string_view key, const Store::Entry* e, bool inParts) {
  // keyRecord_ is reused: no allocation per key.
  if (e != nullptr) {
    image_.clear();
    if (inParts && travelsInParts(e)) {
      appendEmptyImage(image_, Store::kind(e));
      parted_.push_back(keyInDatabase(db, key));  // its tuples follow, a part per slice
    } else {
      appendImage(image_, e);
    }
  }
  const auto number = static_cast<std::uint16_t>(db);
  ipc::encodeKeyState(keyRecord_, e != nullptr ? ipc::KeyState{key, true, Store::expireAt(e), image_, number}
                                               : ipc::KeyState{key, false, 0, {}, number});
  router_.sendRecord(router_.linkOfNext(nextRing_.ownerOf(key)), keyRecord_);
}

void Migration::sendPart() {
  const std::string& name = parted_.front();
  const int db = databaseOf(name);
  const std::string_view key = keyOf(name);
  const Store::Entry* e = server_.keyspaces()[db].find(key, unixMillis());
  if (e == nullptr || !ownsObject(Store::kind(e))) {
    // Deleted or replaced meanwhile: a write, so its final state goes out
    // with the changes (an expired one expires on the new side too).
    partCursor_ = 0;
    parted_.pop_front();
    return;
  }
  image_.clear();
  partCursor_ = appendPart(image_, e, partCursor_);
  ipc::encodeKeyMore(keyRecord_, ipc::KeyState{key, true, Store::expireAt(e), image_, static_cast<std::uint16_t>(db)});
  router_.sendRecord(router_.linkOfNext(nextRing_.ownerOf(key)), keyRecord_);
  if (partCursor_ == 0) parted_.pop_front();
}

void Migration::holdIfAllCopied() {
  if (phase_ == Phase::WaitingForPeers && static_cast<int>(copiedPeers_.size()) >= peers_) beginHolding();
}

void Migration::finishRetiring() {
  streamer_.stop();
  roomCheck_.stop();
  enter(Phase::Forwarding);
  sendToNext(ipc::encodeSlotNotice(RecordType::HandOverEnd, slot_));
  router_.retarget(nextWorkers_);
  server_.keyspaces().forEach([this](int, Store& store) {
    auto moved = std::make_shared<Store::Detached>(store.detachAll());
    server_.threadPool().submit([moved] { moved->free(); });
  });
  const Duration took = loop_.now() - startedAt_, held = loop_.now() - heldAt_;
  log_.notice("Worker %d: copied %llu keys to %d new workers, then held its clients %.1f ms to send %zu keys "
              "changed meanwhile; %.1f ms in all", slot_, static_cast<unsigned long long>(moved_), nextWorkers_,
              std::chrono::duration<double, std::milli>(held).count(), changed_,
              std::chrono::duration<double, std::milli>(took).count());
  server_.dispatch().release();  // what waited goes to the new owners now
  if (done_) done_(moved_, took, held);
}

}  // namespace keyloop
