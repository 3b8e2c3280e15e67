// Migration: how a reload hands the keyspace from the retiring generation
// of workers to the next one while both keep serving (the master
// orchestrates it: master.h; the records travel on the router's links).
//
// Retiring worker (retire()):
//   1. stops accepting (not on sockets that go away: their queues are
//      drained until it exits) and holds its clients' keyed commands;
//   2. once quiet (no request of its own out at a peer, nothing parked on a
//      lock) it sends 'Z' to every peer of its generation. Channels are
//      FIFO, so a peer's 'Z' means no request from it can ever follow;
//   3. with every peer's 'Z' in and no lock left, it streams its keys to
//      their owners on the new ring ('M': key, value, absolute expiry), a
//      slice per loop iteration and only while the rings have room;
//   4. sends 'E' to every new worker, retargets its router to the new ring
//      and releases its clients' commands: from then on it owns no key and
//      forwards every keyed command, until its clients are gone (drain).
// New worker (expectArrivals()):
//   holds every keyed command, from its clients and its peers alike, until
//   an 'E' came from every retiring worker. By then every key has arrived,
//   and a retiring worker's forwarded requests travel behind its 'E' on the
//   same channel: no command ever sees a key before its value arrived, and
//   no write made before the hand-over is lost. TTLs travel as absolute
//   times, so they keep counting down.
// The pause a client can see is the hand-over itself (a few hundred ms per
// million keys: see loadtest/RESULTS.md), not the drain.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/log/log.h"
#include "common/loop/handles.h"
#include "common/ring/ring.h"
#include "worker/router.h"

namespace keyloop {

class Server;

class Migration {
 public:
  // keys handed over, and how long the hand-over took
  using Done = std::function<void(std::uint64_t keys, Duration took)>;

  Migration(Loop& loop, Server& server, Router& router, Log& log, int slot);
  ~Migration();

  // New side: serve keys once `retiring` workers each sent their 'E'.
  void expectArrivals(int retiring);
  // Retiring side: hand everything to the `workers` of the next generation
  // (the router has their links: Router::addNext).
  void retire(int workers, Done done);
  // The master saw worker `slot` of the retiring generation die: what it
  // would have sent ('Z' or 'E') will never come.
  void forgetRetiring(int slot);

  bool retired() const { return retired_; }

 private:
  void onRecord(int link, char type, std::string_view payload);
  void checkQuiet();
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
  // retiring side
  int nextWorkers_ = 0;
  std::vector<int> nextLinks_;  // [new worker] -> router link id
  ring::Ring nextRing_{1};
  int peers_ = 0;
  std::set<int> quietPeers_;
  bool sentQuiet_ = false, streaming_ = false, retired_ = false;
  std::uint64_t cursor_ = 0, moved_ = 0;
  TimePoint startedAt_{};
  Done done_;
  Timer quietCheck_;
  Idle streamer_;
  Timer pause_;  // while the rings are full
};

}  // namespace keyloop
