// AofWaits: the connections of this worker blocked in WAITAOF numlocal
// numreplicas timeout (Redis 7.2), until the writes each sent before are
// fsynced in the append-only log and acknowledged by its replicas, or its
// timeout (milliseconds, 0: none) passes; each is answered [local, replicas].
// No replica exists yet, so a wait for one lasts its timeout, as on a Redis
// master without replicas.
//
// A connection's writes may have gone to any worker, so every worker's log
// is asked for its offsets (bytes appended, bytes fsynced). The ask travels
// each channel behind the connection's earlier requests, so the appended
// count it returns covers them: that is the wait's mark on that worker.
// While any wait is open, one timer asks again every few milliseconds and
// settles every wait whose marks the fsynced counts passed (appendfsync
// everysec: within about a second; no: never, as Redis's fsynced offset
// never moves then).
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/loop/handles.h"

namespace keyloop {

class Client;
class Dispatch;

class AofWaits {
 public:
  explicit AofWaits(Dispatch& dispatch);
  ~AofWaits();
  AofWaits(const AofWaits&) = delete;
  AofWaits& operator=(const AofWaits&) = delete;

  // Blocks `client` (its next reply place) in WAITAOF.
  void add(Client& client, long long numlocal, long long numreplicas, std::chrono::milliseconds timeout);

  // A worker's log: its offsets (a peer message's reply), or an empty one.
  struct Offsets {
    std::uint64_t appended = 0, synced = 0;
  };
  static std::vector<Offsets> offsetsOf(const std::vector<std::string>& replies);

 private:
  struct Wait {
    std::uint64_t id, client, place;
    long long numlocal, numreplicas;
    TimePoint deadline;
    std::vector<std::uint64_t> marks;  // empty until the first answers came
  };
  void marked(std::uint64_t id, const std::vector<std::string>& replies);
  void askAgain();
  // Answers the waits that are done by `offsets` (or their deadline) or gone.
  void settle(const std::vector<Offsets>& offsets);
  void armIfWaiting();

  Dispatch& dispatch_;
  std::list<Wait> waits_;
  std::uint64_t nextId_ = 1;
  Timer timer_;
  bool asking_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace keyloop
