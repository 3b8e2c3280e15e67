#include "worker/route_plan.h"

#include "worker/key_locks.h"

namespace keyloop {

RoutePlan planRoute(const CommandSpec& spec, std::span<const std::string_view> args, const RouteView& view) {
  using Kind = RoutePlan::Kind;
  // The long way is taken whenever this worker alone cannot answer: other
  // workers exist (or a reload moves the keys, or this worker owns none).
  const bool alone = (view.ring == nullptr || view.ring->workers() < 2) && !view.holding && view.self >= 0;
  const bool checkLocks = view.locks != nullptr && !view.locks->empty();
  // Alone with nothing locked, every request runs here: no key is hashed.
  if (view.ring == nullptr || (alone && !checkLocks)) return {};
  if (broadcasts(spec.cross)) return alone ? RoutePlan{} : RoutePlan{Kind::Broadcast};
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
  if (owner == view.self && !locked && !view.holding) return {};
  return {Kind::Owner, owner};
}

}  // namespace keyloop
