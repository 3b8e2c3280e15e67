#include "worker/routing/route_plan.h"

#include "worker/routing/key_locks.h"

namespace keyloop {

namespace {

using Kind = RoutePlan::Kind;

// Runs on worker `owner`: here when that is this worker and nothing holds
// it back (a locked key, a reload's hold), else the long way to it.
RoutePlan onOwner(int owner, const RouteView& view, bool locked) {
  if (owner == view.self && !locked && !view.holding) return {};
  return {Kind::Owner, owner};
}

RoutePlan planOnNode(const CommandSpec& spec, std::span<const std::string_view> args, const RouteView& view) {
  const int node = view.clusterNode;
  const bool checkLocks = view.locks != nullptr && !view.locks->empty();
  // Locks held: the long way, where a keyspace read waits for them (Dispatch::executeRouted).
  if (broadcasts(spec.cross) && !(spec.flags & kEveryNode)) {
    return node < view.ring->workers() ? onOwner(node, view, checkLocks) : RoutePlan{Kind::Broadcast};
  }
  if (broadcasts(spec.cross)) return {Kind::Broadcast};
  if (!spec.keys.any()) return {};
  int slot = -1;
  bool crossSlot = false, locked = false;
  forEachKey(spec, args, [&](std::size_t i, std::size_t) {
    const int s = ring::slotOf(args[i]);
    crossSlot = crossSlot || (slot >= 0 && s != slot);
    slot = s;
    locked = locked || (checkLocks && view.locks->isLocked(args[i]));
    return !crossSlot;
  });
  if (slot < 0) return {};  // no key given: the handler answers (an arity error)
  if (crossSlot) return {Kind::CrossSlot};
  const int owner = view.ring->ownerOfSlot(static_cast<std::uint16_t>(slot));
  if (owner != node) return {Kind::Moved, owner, slot};
  return onOwner(node, view, locked);
}

}  // namespace

RoutePlan planRoute(const CommandSpec& spec, std::span<const std::string_view> args, const RouteView& view) {
  if (view.clusterNode >= 0 && view.ring != nullptr) {
    return planOnNode(spec, args, view);
  }
  // The long way is taken whenever this worker alone cannot answer: other
  // workers exist (or a reload moves the keys, or this worker owns none).
  const bool alone = (view.ring == nullptr || view.ring->workers() < 2) && !view.holding && view.self >= 0;
  const bool checkLocks = view.locks != nullptr && !view.locks->empty();
  // Alone with nothing locked, every request runs here: no key is hashed.
  if (view.ring == nullptr || (alone && !checkLocks)) return {};
  // Alone too, now that keys are locked: where a keyspace read waits for them.
  if (broadcasts(spec.cross)) return {Kind::Broadcast};
  if (!spec.keys.any() || spec.cross == CrossWorker::None) return {};
  int owner = -2;
  bool severalOwners = false, locked = false;
  forEachKey(spec, args, [&](std::size_t i, std::size_t) {
    const int o = view.ring->ownerOf(args[i]);
    if (owner == -2) owner = o;
    else severalOwners = severalOwners || o != owner;
    locked = locked || (checkLocks && view.locks->isLocked(args[i]));
    return true;
  });
  if (owner == -2) return {};  // no key given: the handler answers (an arity error)
  if (severalOwners) return {spec.cross == CrossWorker::SplitAndSum ? Kind::Split : Kind::Atomic};
  // Its other keys are found as it runs: where they live is not known yet.
  if (spec.cross == CrossWorker::Discovering && owner != view.self) return {Kind::Atomic};
  return onOwner(owner, view, locked);
}

}  // namespace keyloop
