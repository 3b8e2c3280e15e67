// Client-side caching (CLIENT TRACKING) over the workers, as Redis 7.0
// serves it from one table.
//
// Redis remembers, per key name, the clients that read it; a write of the
// key sends each of them an invalidation and forgets them. Here the key's
// owner keeps that table for its keys, so a write finds its readers where
// it runs, whichever worker its client talks to:
//
//   read     a tracking client's request carries its id (the Request
//            record's `tracked`, Router::Origin) to the owner, which
//            remembers (client, worker) for every key a read-only command
//            named after it ran; a script's read remembers the script's
//            declared keys, as Redis's script_caller; a read that takes
//            several owners (MGET of two workers, EXEC) tells each owner
//            first (peer message Tracking 'remember', FIFO before the lock);
//   write    the owner's observer of every write (effects.h) sends each
//            reader of a written key one invalidation (Tracking 'keys') to
//            the reader's worker, which writes it as Redis does: a RESP3
//            push, or a message on __redis__:invalidate to the client it
//            redirects to, which may talk to a third worker ('redirected',
//            and 'broken' back when that client is gone). Expiry,
//            eviction and commits of cross-worker runs pass the same way;
//   flush    FLUSHALL / FLUSHDB / SWAPDB run on every worker: each sends
//            its own tracking clients the null that means "everything";
//   BCAST    a client's prefixes are registered with every worker; each
//            collects the keys written under them and sends them once the
//            loop turn ends, one message per prefix.
//
// tracking-table-max-keys bounds the table (each worker's share of it):
// past it, random keys are invalidated and forgotten, as Redis does.
// A reload hands a tracking client over with its mode and its id; its new
// worker sends it the null (its reads were remembered by the old owners).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/loop/handles.h"
#include "common/loop/loop.h"
#include "worker/connection/session.h"
#include "worker/execution/effects.h"

namespace keyloop {

class Client;
class Connections;
class Dispatch;
struct CommandContext;
struct CommandSpec;
struct TrackingCaller;

// The Request record's `tracked`: the client's id, and this bit when its
// reads are to be remembered (its mode allows it for this command).
inline constexpr std::uint64_t kRemembersReads = std::uint64_t{1} << 63;
// The same word's bit for CLIENT NO-TOUCH (with or without tracking: then no id).
inline constexpr std::uint64_t kTouchesNothing = std::uint64_t{1} << 62;
std::uint64_t trackedTag(const Client& client);
// What a run learns from such a word, coming from `worker`: its tracking
// caller (null: none; kept in `storage`), and whether it touches nothing.
TrackingCaller* callerFromTag(std::uint64_t tag, int worker, TrackingCaller& storage);
inline bool touchesNothing(std::uint64_t tag) { return (tag & kTouchesNothing) != 0; }
// Whether a run of `spec` remembers the keys it names (read-only, not a script).
bool remembersWhatItNames(const CommandSpec& spec);

class Tracking {
 public:
  // Sends a peer message (peer_messages.h: Tracking) to worker `worker`.
  using Post = std::function<void(int worker, std::span<const std::string_view> args)>;
  Tracking(Loop& loop, Connections& connections) : loop_(loop), connections_(connections), retry_(loop) {}

  void setPost(Post post, std::function<int()> self, std::function<int()> workers) {
    post_ = std::move(post);
    self_ = std::move(self);
    workers_ = std::move(workers);
  }

  // ---- the owner's side: the table of its keys' readers ----
  void remember(std::uint64_t client, int worker, std::span<const std::string_view> keys);
  // `key` changed (`writer`: the client whose command did it, 0: none; a
  // BCAST prefix sees it unless `broadcast` is false: a key the table
  // lets go of changed nothing).
  void keyChanged(std::string_view key, std::uint64_t writer, bool broadcast = true);
  // maxmemory let `key` go (before the command that needed the room).
  void evicted(std::string_view key);
  bool watching() const { return !table_.empty() || !prefixes_.empty(); }
  // Every database of this worker was flushed or swapped: its tracking
  // clients get the null, and its table is emptied.
  void flushed();
  // tracking-table-max-keys (0: no limit); this worker keeps its share.
  void setMaxKeys(std::size_t maxKeys);
  void addPrefixes(std::uint64_t client, int worker, bool noloop, std::span<const std::string_view> prefixes);
  void dropPrefixes(std::uint64_t client);

  // ---- the client's worker: its clients' modes and what reaches them ----
  // CLIENT TRACKING ON with `mode` (checked), or OFF.
  void enable(Client& client, TrackingMode mode);
  void disable(Client& client);
  // A handed-over client's mode (ipc::ClientState::tracking), and back.
  static std::string encodeMode(const TrackingMode& mode);
  void adopt(Client& client, std::string_view encoded);
  // What owners send: invalidations of `keys` for `client` (one message
  // each; one for all when `broadcast`), written by `writer`.
  void invalidate(std::uint64_t client, std::uint64_t writer, std::span<const std::string_view> keys, bool broadcast);
  // An invalidation `payload` (a RESP array of keys, or a null) of client
  // `from` (on worker `fromWorker`) for its redirect target `target` here.
  // `anywhere`: sent to every worker, so not finding it is not an error.
  void redirected(std::uint64_t target, std::uint64_t from, int fromWorker, std::string_view payload, bool anywhere);
  void redirectBroken(std::uint64_t client);
  // Worker `worker` delivered tracking client `client`'s redirected
  // message: its target talks there.
  void redirectFound(std::uint64_t client, int worker);
  // Commands read by a client whose tracking remembers them, that run on
  // other workers as a whole (MGET of two owners, EXEC): their owners
  // remember the keys first.
  void rememberAhead(Dispatch& dispatch, const Client& client, std::span<const std::string_view> keys);

  // INFO's tracking_* figures of this worker.
  std::size_t clients() const { return clients_; }
  std::size_t keys() const { return table_.size(); }
  std::size_t items() const { return items_; }
  std::size_t prefixes() const { return prefixes_.size(); }

 private:
  struct Reader {
    std::uint64_t client;
    int worker;
    auto operator<=>(const Reader&) const = default;
  };
  struct Subscriber {
    std::uint64_t client;
    int worker;
    bool noloop;
  };
  struct Prefix {
    std::map<std::string, std::uint64_t, std::less<>> changed;  // key -> its last writer
    std::vector<Subscriber> subscribers;
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  // Sends `client`'s invalidation payload where it goes (sendTrackingMessage).
  void send(Client& client, const std::string& payload);
  void write(Client& to, const std::string& payload, bool redirected);
  void pushAfterReply(Client& to, std::string message);
  void post(int worker, std::span<const std::string_view> args);
  void postToOthers(std::span<const std::string_view> args);
  void broadcastChanged();
  void keepUnderLimit();
  std::size_t share();
  // A redirect target not yet located (a reload handed both over): what
  // it is owed goes to every worker until one says it delivered it, for
  // at most kLocateTries rounds, then the redirect is broken.
  void sendToEveryWorker(const Client& from, const std::string& payload);
  void locateAgain();
  static constexpr int kLocateTries = 40;
  static constexpr std::chrono::milliseconds kLocateEvery{100};
  int self() const { return self_ ? self_() : 0; }
  int workers() const { return workers_ ? workers_() : 1; }

  Loop& loop_;
  Connections& connections_;
  Post post_;
  std::function<int()> self_, workers_;
  std::unordered_map<std::string, std::vector<Reader>, KeyHash, std::equal_to<>> table_;
  std::size_t items_ = 0;
  std::size_t maxKeys_ = 0;  // tracking-table-max-keys (0: no limit)
  std::optional<std::size_t> share_;  // this worker's part of it, once known
  bool limitSoon_ = false;
  std::map<std::string, Prefix, std::less<>> prefixes_;
  bool broadcastSoon_ = false;
  bool evicting_ = false;
  std::vector<std::pair<std::uint64_t, std::string>> afterReply_;  // to clients inside their own command
  std::size_t clients_ = 0;
  struct Unlocated {
    std::uint64_t target = 0;
    std::vector<std::string> payloads;
    int tries = 0;
  };
  std::map<std::uint64_t, Unlocated> unlocated_;  // by tracking client
  Timer retry_;
};

// What tracking sees of every run (effects.h): reads to remember, writes
// to invalidate, flushes.
class TrackingObserver final : public CommandObserver {
 public:
  explicit TrackingObserver(Tracking& tracking) : tracking_(tracking) {}
  std::uint32_t flags() const override;
  void after(const CommandRun& run, const Effects& effects) override;

 private:
  Tracking& tracking_;
};

namespace commands {
void clientTracking(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);
void clientCaching(CommandContext& ctx);
void clientGetredir(CommandContext& ctx);
void clientTrackinginfo(CommandContext& ctx);
// The peer messages Tracking and HasClient.
void trackingMessage(CommandContext& ctx);
void hasClient(CommandContext& ctx);
}  // namespace commands

}  // namespace keyloop
