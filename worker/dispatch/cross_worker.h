// Cross-worker execution: runs a request whose route plan (route_plan.h)
// is not Here, and merges what the workers answer into the one reply Redis
// would give, by the command's declared kind (command_table.h):
// SplitAndSum summed; broadcasts summed, joined, picked from or taken
// once; SCAN walking worker after worker with the worker index in the
// cursor's low bits; INFO with every worker's counters; MultiOwnerAtomic
// through the atomic executor (atomic.h). The reply reaches the client in
// its pipeline order (ReplyOrder).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "worker/execution/command_table.h"
#include "worker/routing/route_plan.h"

namespace keyloop {

class Dispatch;
class Client;

void runAcross(Dispatch& dispatch, Client& client, const CommandSpec& spec, std::span<const std::string_view> args,
               RoutePlan plan);
// The same, with the reply handed to `then` instead of a reply place
// (blocking.h looks at it first); `place` is the client's place that a
// multi-owner command holds its next commands behind (0: none).
// `db`: the database it runs against (the client's when it was sent).
void runAcrossThen(Dispatch& dispatch, Client& client, std::uint64_t place, int db, const CommandSpec& spec,
                   std::span<const std::string_view> args, RoutePlan plan,
                   std::function<void(std::string_view)> then);

// Sends `args` (a peer message) to every worker (this one too) and calls
// `done` with their replies (in `protocol`), in worker order.
void askEveryWorker(Dispatch& dispatch, std::span<const std::string_view> args,
                    std::function<void(const std::vector<std::string>& replies)> done,
                    resp::Protocol protocol = resp::Protocol::Resp2);

// A session command answered by every worker (this one too): `args` (a
// peer message) goes to each, and the client's next reply is what `merge`
// makes of their replies, in worker order. `holdsLater`: the client's
// next commands wait for it (its merge changes what they do).
void answerFromEveryWorker(Dispatch& dispatch, Client& client, std::span<const std::string_view> args,
                           std::function<std::string(const std::vector<std::string>& replies)> merge,
                           bool holdsLater = false);

}  // namespace keyloop
