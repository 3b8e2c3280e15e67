// ScriptReach: the keys a running script reaches beyond the ones its run
// was given. A script may name any key, declared or not (BullMQ and many
// others build keys inside their scripts), and it still runs atomically,
// as in a standalone Redis:
//
//   1. A command of the script names a key of another worker that the run
//      does not hold: the script takes the one permission there is to lock
//      keys mid-script (shared metrics: one such script at a time, so two
//      never wait for each other) and locks the keys on their owners with
//      the atomic executor's Lock message, waiting for the reply
//      (WorkerServices::waitInScript: from then until the script ends,
//      this worker's clients and peers' requests wait, and other
//      transactions' locks here are refused and start over; a script that
//      waits lets the permission's holder lock keys it has not touched).
//   2. The keys' values arrive as images into a scratch store, and every
//      command on them runs there; a key of this worker that a command
//      mixes with them is locked here (at once) and moved in as well.
//   3. When the script ends, each owner gets a Commit with what its keys
//      hold now, which unlocks them; the log records them inside the
//      script's block; the permission goes back.
// A script that reached further once, or runs on this worker for the
// first time, takes the permission before it starts (so it waits for it
// having touched nothing, and lets the holder have any key). Two scripts
// that reach further at once: the one without the permission waits for it
// (queued), and when the holder wants a key the waiting one has used, one
// of them gives way, dropping what it did and running again from the
// start once the other is done: the waiting one if it has not written on
// its worker's store yet, else the holder if it has not. Only a script
// known to stay on its worker that reaches further for the first time,
// after writing, while the holder wrote too and wants what it used, meets
// one that cannot give way: then the holder's command fails (-TRYAGAIN),
// as a command of a script can.
//
// A script known to touch only keys its worker owns (its declared keys'
// owner, the usual case) never does any of this: its commands run on the
// store as they always did, waiting only for a key another transaction
// has locked.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result/result.h"
#include "worker/execution/command_table.h"
#include "worker/keyspace/store.h"
#include "worker/routing/atomic.h"

namespace keyloop {

class ScriptReach {
 public:
  // For the script run that `ctx` (its EVAL or FCALL) runs.
  explicit ScriptReach(CommandContext& ctx);
  ~ScriptReach() { finish(); }
  ScriptReach(const ScriptReach&) = delete;
  ScriptReach& operator=(const ScriptReach&) = delete;

  // A script (by SHA or function name) that once reached keys of another
  // worker takes the permission before it starts from then on: it then
  // never holds keys another reaching script waits for.
  void startReaching(const std::string& name);
  // The store a script's command on `keys` runs against once they are
  // reached (the run's own, or the scratch store); or the error the
  // command answers instead (the owner refused or did not answer, or the
  // run must start over). `writes`: the command is a write.
  Result<Store*> reach(std::span<const std::string_view> keys, bool writes);
  // The run gave way to the permission's holder (it wanted keys this run
  // had used, before it wrote any): drop what it did and run it again.
  bool mustStartOver() const { return startOver_; }
  void startOver();
  // Where the notifications of commands run on the scratch store go: to
  // the keys' owners with the commits.
  const std::function<void(std::string_view, std::string_view)>* events() const { return &collect_; }
  // Commits what the script did to the keys it locked, unlocks them and
  // gives the permission back (also at destruction).
  void finish();
  // The run ended (not given way): one that locked nothing elsewhere marks
  // its script as staying on this worker.
  void ranToTheEnd();

 private:
  struct Before {
    std::optional<std::string> image;  // none: the key did not exist
    std::int64_t expireAt;
  };
  bool mine(std::string_view key) const;
  // Waits for the permission (waitInScript); false: the run gave way meanwhile.
  bool takePermission();
  bool heldHere(std::string_view key) const { return before_.count(key) > 0; }
  Store& scratch() { return ctx_.readable != nullptr ? ctx_.store : scratch_; }
  Status lockOn(int owner, std::span<const std::string_view> keys);
  // Unlocks what it locked, unchanged, so that the permission's holder may
  // have it; the run starts over once its script returns.
  void giveWay();
  // Whether a peer's lock may go through while this script waits.
  bool grants(std::string_view transaction, std::span<const std::string_view> keys);

  CommandContext& ctx_;
  std::string transaction_;
  Store scratch_{16};
  std::map<std::string, Before, std::less<>> before_;  // each key locked, as it was
  // Each Lock it sent: its own id (a late reply to a failed one is undone
  // by that id alone), the owner, the keys.
  struct Held {
    std::string transaction;
    int owner;
    std::vector<std::string> keys;
  };
  std::vector<Held> held_;
  std::uint64_t sent_ = 0;
  std::set<std::string, std::less<>> touched_;
  KeyEvents events_;
  std::function<void(std::string_view, std::string_view)> collect_;
  std::function<bool(std::string_view, std::span<const std::string_view>)> grant_;
  bool permission_ = false;
  bool wroteHere_ = false;   // a write ran on this worker's own store (it cannot start over)
  bool startOver_ = false;
  bool reachedElsewhere_ = false;  // a key of another worker, in this run
  std::string name_;         // the script's, once it reaches
};

}  // namespace keyloop
