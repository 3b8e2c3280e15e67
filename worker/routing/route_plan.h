// RoutePlan: where one request runs, decided once from the command table
// (the command's key spec and cross-worker kind) in one pass over its keys.
//
//   Here       this worker runs it now (its keys are local and free, or it
//              has none and no scope beyond this worker)
//   Owner      the one worker that owns every key (maybe this one, when a
//              key is locked or a reload holds keyed work: the long way
//              waits where it must)
//   Split      SplitAndSum over several owners (DEL, EXISTS)
//   Atomic     MultiOwnerAtomic over several owners (the atomic executor)
//   Broadcast  every worker (DBSIZE, KEYS, SCAN, INFO's totals)
// On a cluster node's port (cluster.port + N) the request is node N's, as
// on a Redis Cluster node: keys in several slots -> CrossSlot; a slot node
// N does not own -> Moved (to its owner); keyless commands that broadcast
// on a shared port ask node N alone (DBSIZE counts N's keys, as cluster
// clients that sum DBSIZE over the nodes expect).
//   CrossSlot  -CROSSSLOT
//   Moved      -MOVED slot owner's address
#pragma once

#include <span>
#include <string_view>

#include "common/ring/ring.h"
#include "worker/execution/command_table.h"

namespace keyloop {

class KeyLocks;

struct RoutePlan {
  enum class Kind { Here, Owner, Split, Atomic, Broadcast, CrossSlot, Moved };
  Kind kind = Kind::Here;
  int owner = -1;  // Owner, Moved
  int slot = -1;   // Moved
};

// What routing needs to know about this worker.
struct RouteView {
  int self = 0;                        // -1: retired, owns no key
  const ring::Ring* ring = nullptr;    // null: no other worker (a Server on its own)
  const KeyLocks* locks = nullptr;  // keys locked by cross-worker transactions
  bool holding = false;             // a reload holds keyed work (migration.h)
  int clusterNode = -1;             // the connection's cluster node; -1: a shared port
};

RoutePlan planRoute(const CommandSpec& spec, std::span<const std::string_view> args, const RouteView& view);

}  // namespace keyloop
