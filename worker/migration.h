// Migration: how a reload hands the keyspace from the retiring generation
// of workers to the next one while both keep serving (the master
// orchestrates it: master.h; the records travel on the router's links).
//
// Retiring worker (retire()):
//   1. copy: streams all its keys to their owners on the new ring ('M':
//      key, value, absolute expiry), a slice per loop iteration and only
//      while the rings have room, while it goes on serving as before
//      (accepting too); every key a command writes meanwhile is noted.
//      Done, it sends 'Y' to its peers and serves on until every peer's
//      'Y' is in, so that all hold together;
//   2. hold: stops accepting (not on sockets that go away: their queues are
//      drained until it exits) and holds its clients' keyed commands; once
//      quiet (no request of its own out at a peer, nothing parked on a
//      lock) it sends 'Z' to every peer of its generation. Channels are
//      FIFO, so a peer's 'Z' means no request from it can ever follow;
//   3. with every peer's 'Z' in and no lock left, it sends the current
//      state of every key written since the copy began ('M', or 'K' for a
//      key that is gone; after a FLUSHALL, 'F' and everything again);
//   4. sends 'E' to every new worker, retargets its router to the new ring
//      and releases its clients' commands: from then on it owns no key and
//      forwards every keyed command, until its clients are gone (drain).
// New worker (expectArrivals()):
//   accepts no connection and holds every keyed command (from its peers,
//   and from connections handed over to it) until an 'E' came from every
//   retiring worker. By then every key has arrived in its latest state,
//   and a retiring worker's forwarded requests travel behind its 'E' on the
//   same channel: no command ever sees a key before its value arrived, and
//   no write made before the hand-over is lost. TTLs travel as absolute
//   times, so they keep counting down.
// Every database goes, each key with its number; the retiring side walks
// them one after the other. Keys are named by database and key where
// they are noted (one byte of database, then the key).
// What a client can notice is phase 2-4 of the slowest retiring worker:
// about the time to send the keys written during the copy (see
// loadtest/RESULTS.md), not the copy itself.
#pragma once

#include <deque>

#include <cstdint>
#include <functional>
#include <set>
#include <span>
#include <unordered_set>
#include <string>
#include <string_view>
#include <vector>

#include "common/log/log.h"
#include "common/loop/handles.h"
#include "common/ring/ring.h"
#include "worker/execution/effects.h"
#include "worker/routing/router.h"
#include "worker/keyspace/store.h"

namespace keyloop {

class Server;
struct CommandSpec;

class Migration {
 public:
  // keys copied, how long the whole hand-over took, how long clients were held
  using Done = std::function<void(std::uint64_t keys, Duration took, Duration held)>;

  Migration(Loop& loop, Server& server, Router& router, Log& log, int slot);
  ~Migration();

  // New side: serve keys once `retiring` workers each sent their 'E'.
  void expectArrivals(int retiring);
  // Retiring side: hand everything to the `workers` of the next generation
  // (the router has their links: Router::addNext); onHold runs when the
  // copy is done and new work stops (phase 2).
  void retire(int workers, std::function<void()> onHold, Done done);
  // New side: runs once every key has arrived (start accepting).
  void setOnArrived(std::function<void()> onArrived) { onArrived_ = std::move(onArrived); }
  // The master saw worker `slot` of the retiring generation die: what it
  // would have sent ('Z' or 'E') will never come.
  void forgetRetiring(int slot);

  bool retiring() const { return phase_ != Phase::Serving; }
  // Told the name of every step the retiring side enters (tests, logs).
  void observePhases(std::function<void(const char* name)> observer) { phaseObserver_ = std::move(observer); }

 private:
  void onRecord(int link, ipc::RecordType type, std::string_view payload);
  // New side: a key record (or a retiring worker's end), applied now or,
  // behind a burst of big values' parts, a few parts per loop iteration.
  void arrive(ipc::RecordType type, std::string_view payload);
  void applyWaiting();
  void apply(ipc::RecordType type, std::string_view payload);
  void noteWrite(const CommandRun& run, const Effects& effects);
  // Sends a slot notice (Copied, Quiet) to every peer of this generation.
  void sendToPeers(ipc::RecordType type);
  // Sends a record to every worker of the next generation.
  void sendToNext(std::string_view record);
  // Sends `key`'s state (KeyValue with `e`'s value and expiry, or KeyGone)
  // to its new owner; `inParts`: a big table goes as an empty one first,
  // its tuples then in parts, one per slice (sendPart).
  void sendKey(int db, std::string_view key, const Store::Entry* e, bool inParts = false);
  void sendPart();
  void holdIfAllCopied();
  void beginHolding();
  void checkQuiet();
  void sendChanges();
  void streamSlice();
  void finishRetiring();
  void arrived(int slot);

  Loop& loop_;
  Server& server_;
  Router& router_;
  Log& log_;
  int slot_;
  // new side
  int expectedArrivals_ = 0;
  std::set<int> arrivals_;
  static constexpr int kPartsPerRound = 8;  // 8 x 256 tuples: well under a millisecond
  std::deque<std::pair<ipc::RecordType, std::string>> waiting_;
  int partsThisRound_ = 0;
  // retiring side
  int nextWorkers_ = 0;
  ring::Ring nextRing_{1};
  int peers_ = 0;
  std::set<int> copiedPeers_, quietPeers_;
  // The retiring side's steps, each left on the message that ends it.
  enum class Phase {
    Serving,          // not retiring
    Copying,          // streaming every key while serving (ends: the scan is through)
    WaitingForPeers,  // copied; serving until every peer's Copied is in
    Quiescing,        // clients held; until nothing is in flight and every peer's Quiet is in
    SendingChanges,   // the keys written meanwhile (or everything again after a FLUSHALL)
    Forwarding,       // owns no key; forwards to the next generation until its clients leave
  };
  static const char* nameOf(Phase phase);
  void enter(Phase phase);
  void resumeWhenRoom();
  Phase phase_ = Phase::Serving;
  std::function<void(const char*)> phaseObserver_;
  bool sentQuiet_ = false, flushed_ = false;
  std::unordered_set<std::string> dirty_;  // keys written during the copy (by keyInDatabase)
  int scanDb_ = 0;                         // the database the copy is in
  std::string keyRecord_, image_;  // reused: no allocation per key
  std::uint64_t cursor_ = 0, moved_ = 0;
  bool scanned_ = false;             // the store's scan is through
  std::deque<std::string> parted_;   // big values whose parts are still to go, the first one going
  std::uint64_t partCursor_ = 0;     // where the first one is
  std::size_t changed_ = 0;
  TimePoint startedAt_{}, heldAt_{};
  std::function<void()> onHold_, onArrived_;
  Done done_;
  Check settle_;     // Quiescing: after every batch of messages
  Idle streamer_;
  Check roomCheck_;  // while the rings are full
  Idle applier_;     // while records wait (new side)
};

}  // namespace keyloop
