#include "worker/migration.h"

#include <memory>
#include <string>

#include "common/ipc/wire.h"
#include "worker/server.h"

namespace keyloop {

using ipc::put;
using ipc::take;

namespace {

// A slice per loop iteration: big enough that the loop's own work is
// noise, small enough that the rings (1 MB) rarely back up.
constexpr std::size_t kKeysPerSlice = 4096;
// Stop streaming while a ring has this many records waiting behind it.
constexpr std::size_t kMaxBacklog = 64;

std::string slotRecord(int slot) {
  std::string out;
  put(out, static_cast<std::int32_t>(slot));
  return out;
}

}  // namespace

Migration::Migration(Loop& loop, Server& server, Router& router, Log& log, int slot)
    : loop_(loop), server_(server), router_(router), log_(log), slot_(slot), quietCheck_(loop), streamer_(loop), pause_(loop) {
  router_.setControlHandler([this](int link, char type, std::string_view payload) { onRecord(link, type, payload); });
}

Migration::~Migration() { router_.setControlHandler({}); }

void Migration::expectArrivals(int retiring) {
  expectedArrivals_ = retiring;
  if (retiring == 0) return;
  startedAt_ = loop_.now();
  server_.hold(/*routedToo=*/true);
}

void Migration::retire(int workers, Done done) {
  nextWorkers_ = workers;
  nextRing_ = ring::Ring(workers);
  for (int peer = 0; peer < workers; ++peer) nextLinks_.push_back(router_.linkOfNext(peer));
  peers_ = router_.self() >= 0 ? router_.workers() - 1 : 0;
  done_ = std::move(done);
  startedAt_ = loop_.now();
  server_.hold(/*routedToo=*/false);  // peers' requests still run: they make us quiet
  quietCheck_.start(Duration::zero(), std::chrono::milliseconds(1), [this] { checkQuiet(); });
}

void Migration::forgetRetiring(int slot) {
  // `slot` numbers the retiring generation: on the new side it may equal
  // our own number and still be another process.
  quietPeers_.insert(slot);
  arrived(slot);
}

void Migration::onRecord(int, char type, std::string_view payload) {
  std::int32_t slot = -1;
  if (type == 'M') {
    std::uint32_t keyLength = 0;
    std::int64_t expireAt = kNoExpiry;
    if (!take(payload, keyLength) || payload.size() < keyLength) return;
    const std::string_view key = payload.substr(0, keyLength);
    payload.remove_prefix(keyLength);
    if (!take(payload, expireAt)) return;
    // A key that expired on the way is set anyway: it vanishes on first
    // touch or in the expire cycle (a clock read per key costs more).
    server_.store().set(key, payload, expireAt);
  } else if (type == 'Z' && take(payload, slot)) {
    quietPeers_.insert(slot);
  } else if (type == 'E' && take(payload, slot)) {
    arrived(slot);
  }
}

void Migration::arrived(int slot) {
  arrivals_.insert(slot);
  if (expectedArrivals_ == 0 || static_cast<int>(arrivals_.size()) < expectedArrivals_) return;
  expectedArrivals_ = 0;
  log_.notice("Worker %d: every retiring worker handed over (%zu keys now) in %.1f ms; serving", slot_,
              server_.store().size(),
              std::chrono::duration<double, std::milli>(loop_.now() - startedAt_).count());
  server_.release();
}

void Migration::checkQuiet() {
  if (!sentQuiet_) {
    if (!server_.quiet()) return;
    sentQuiet_ = true;
    for (int peer = 0; peer < router_.workers(); ++peer) {
      if (peer != router_.self() && router_.self() >= 0) router_.sendControl(router_.linkOfPeer(peer), 'Z', slotRecord(slot_));
    }
  }
  // Every peer's requests have arrived (they precede its 'Z') and, with no
  // lock held, have all run: nothing can change the store any more.
  if (static_cast<int>(quietPeers_.size()) < peers_ || !server_.locks().empty() || !server_.quiet()) return;
  quietCheck_.stop();
  streaming_ = true;
  streamer_.start([this] { streamSlice(); });
}

void Migration::streamSlice() {
  for (int link : nextLinks_) {
    if (link >= 0 && router_.backlog(link) > kMaxBacklog) {
      // Let the new workers catch up, without spinning on a core they need.
      streamer_.stop();
      pause_.start(std::chrono::milliseconds(1), [this] { streamer_.start([this] { streamSlice(); }); });
      return;
    }
  }
  Store& store = server_.store();
  std::string record;
  cursor_ = store.scanEntries(cursor_, kKeysPerSlice, unixMillis(), [&](const Store::Entry* e) {
    const std::string_view key = Store::key(e);
    record.clear();
    put(record, static_cast<std::uint32_t>(key.size()));
    record += key;
    put(record, Store::expireAt(e));
    record += Store::value(e);
    router_.sendControl(nextLinks_[static_cast<std::size_t>(nextRing_.ownerOf(key))], 'M', record);
    ++moved_;
  });
  if (cursor_ == 0) finishRetiring();
}

void Migration::finishRetiring() {
  streamer_.stop();
  pause_.stop();
  streaming_ = false;
  auto moved = std::make_shared<Store::Detached>(server_.store().detachAll());
  server_.threadPool().submit([moved] { moved->free(); });
  for (int link : nextLinks_) {
    if (link >= 0) router_.sendControl(link, 'E', slotRecord(slot_));
  }
  router_.retarget(nextWorkers_);
  retired_ = true;
  const Duration took = loop_.now() - startedAt_;
  log_.notice("Worker %d: handed %llu keys to %d new workers in %.1f ms", slot_,
              static_cast<unsigned long long>(moved_), nextWorkers_,
              std::chrono::duration<double, std::milli>(took).count());
  server_.release();  // what waited goes to the new owners now
  if (done_) done_(moved_, took);
}

}  // namespace keyloop
