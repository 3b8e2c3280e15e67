// Messages: every record that crosses a process boundary inside keyloop,
// listed in one place with its encoding, so no reader parses bytes by hand
// and no type letter means two things.
//
// Control messages travel on a master <-> worker control socket
// (control.h), rarely: reloads, restarts, hand-overs. Each is a struct;
// ControlMessage is their variant, encode() writes one and
// decodeControl() reads one back (nullopt: malformed, ignored by the
// receiver). Some carry descriptors beside the bytes (SCM_RIGHTS), noted
// per message.
//
// Channel records travel on the shared-memory rings between workers
// (channel.h): requests and replies on every forwarded command (hot path:
// appended into a reused buffer, parsed in place, no allocation), and the
// records of a reload's key hand-over (worker/migration.h).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace keyloop::ipc {

// What a client connection carries besides its socket when a reload moves
// it to a worker of the next generation.
struct ClientState {
  std::uint8_t protocol = 2;  // RESP version
  bool authenticated = false;
  std::string name;
  // A blocked command to run again first (RESP; empty: none): blocking.h.
  std::string resume;
  // Its subscriptions (pubsub.h): channels, patterns, shard channels.
  std::vector<std::string> subscriptions[3];
  bool monitoring = false;  // MONITOR's feed goes on reaching it (session/monitors.h)
  std::uint16_t db = 0;     // its selected database
  std::uint64_t id = 0;     // its CLIENT ID, kept (a redirect of client tracking names it); 0: a new one
  std::string tracking;     // its CLIENT TRACKING mode (worker/session/tracking.h); empty: off
};

// ---- master -> worker ------------------------------------------------------
// The channels to worker `peer` of the next generation; 6 fds: out memfd,
// data, space eventfds, then the same for in.
struct LinkNext { std::int32_t peer = 0; };
// Hand the keys to the `workers` of the next generation (linked by
// LinkNext), keep accepting only on the listening sockets `keep` (they go
// away: their queues are drained until this worker exits), then drain.
struct HandOver {
  std::int32_t workers = 0;
  std::vector<std::int32_t> keep;
};
// Worker `slot` of the retiring generation died: what it would have sent
// will never come.
struct RetireeGone { std::int32_t slot = 0; };
// End every client at its next request boundary (a newer reload needs this
// retiring worker gone).
struct FinishClients {};
// A client connection a retiring worker handed over; 1 fd.
struct AdoptClient { ClientState state; };
// Write your part of snapshot `id` to `path` (worker/persistence/snapshot.h).
// final: the server stops after it, so writes wait from now on (none is
// acknowledged that the file lacks).
struct WriteSnapshot {
  std::uint64_t id = 0;
  bool final = false;
  std::string path;
  // A rewrite of the append-only log: the worker's new incremental file,
  // which it appends to from the moment its part begins (empty: a snapshot).
  std::string logFile;
};
// A rewrite of the log is about to begin: hold client writes and answer
// WritesHeld once nothing of this worker is in flight at another worker.
struct HoldWrites { std::uint64_t id = 0; };
struct WritesHeld { std::uint64_t id = 0; };
// Snapshot `id` failed elsewhere: stop writing it.
struct DropSnapshot { std::uint64_t id = 0; };
// The answer (RESP) to the client request `token` of SaveAsked.
struct SaveReply {
  std::uint64_t token = 0;
  std::string reply;
};

// ---- worker -> master ------------------------------------------------------
// Serving: the worker's loop runs with its sockets (ready, for systemd).
struct Serving {};
// The worker applied published config text `version` (a settings reload).
struct ConfigApplied { std::uint64_t version = 0; };
// A retiring worker's keys are all with the next generation.
struct HandedOver {
  std::uint64_t keys = 0;
  std::int64_t tookNanos = 0, heldNanos = 0;
};
// A client connection at a request boundary, for a new worker; 1 fd (the
// master passes it on as AdoptClient).
struct PassClient { ClientState state; };
// This worker's part of snapshot `id` holds its keys as of now: writes
// from here on are not in it (BGSAVE answers once every worker said so).
struct SnapshotBegun { std::uint64_t id = 0; };
// This worker's part of snapshot `id` is on disk (error empty), or why not.
struct SnapshotWritten {
  std::uint64_t id = 0, keys = 0, expires = 0, bytes = 0;
  std::string error;
};
// A client asked for a snapshot or a shutdown; the master answers `token`
// with SaveReply (a shutdown that succeeds is answered by the exit).
enum class SaveKind : std::uint8_t { Save, Background, Scheduled, Shutdown, ShutdownSave, ShutdownNoSave, Rewrite };
// CONFIG SET save / stop-writes-on-bgsave-error / appendonly (or a
// settings reload) reached the workers: the master, which runs the rules
// and the log's files, takes them too (until the next reload).
struct PersistenceSet {
  std::string rules;  // Redis's "3600 1 300 100", "" for none
  bool stopWritesOnError = true;
  bool aofEnabled = false;
};
// SIGQUIT with save rules: this worker's clients are gone; it waits for
// the final snapshot instead of exiting.
struct Drained {};
struct SaveAsked {
  std::uint64_t token = 0;
  SaveKind kind = SaveKind::Background;
  bool force = false;  // SHUTDOWN FORCE: exit even if the save fails
};

using ControlMessage = std::variant<LinkNext, HandOver, RetireeGone, FinishClients, AdoptClient, Serving,
                                    ConfigApplied, HandedOver, PassClient, WriteSnapshot, DropSnapshot, SaveReply,
                                    SnapshotWritten, SaveAsked, Drained, SnapshotBegun, PersistenceSet, HoldWrites,
                                    WritesHeld>;

std::string encode(const ControlMessage& message);
std::optional<ControlMessage> decodeControl(std::string_view bytes);

// ---- worker <-> worker (channel records) -----------------------------------
enum class RecordType : char {
  // A client's command, or a peer message whose first argument is its
  // one-byte kind (worker/execution/peer_messages.h).
  Request = 'Q',      // id:u64 protocol:u8 db:u16 tracked:u64 argc:u32 (len:u32 bytes)*
  Reply = 'R',        // id:u64 reply-bytes
  KeyValue = 'M',     // key's current state: db:u16 len:u32 key expire-at:i64 value
  KeyMore = 'P',      // more of a big value, in slices after its 'M': db:u16 len:u32 key expire-at:i64 part
  KeyGone = 'K',      // db:u16 len:u32 key: the key no longer exists
  Flushed = 'W',      // the retiring worker was flushed: drop what it sent
  Copied = 'Y',       // slot:i32: that retiring worker finished its copy
  Quiet = 'Z',        // slot:i32: no request from it can follow
  HandOverEnd = 'E',  // slot:i32: every key of that retiring worker is here
};

// Appends a forwarded request to `out` (cleared first).
// The hot path writes requests and replies in place (ipc::Sender::sendInPlace):
// the record's size first, then its bytes.
std::size_t requestBytes(std::span<const std::string_view> args);
// `db`: the database the command runs against (SELECT's number);
// `tracked`: the client it runs for, when that client has CLIENT TRACKING
// on (worker/session/tracking.h: its id, the top bit when its reads are
// to be remembered), and the next bit for CLIENT NO-TOUCH; 0: none.
void writeRequest(char* out, std::uint64_t id, std::uint8_t protocol, std::span<const std::string_view> args,
                  std::uint16_t db = 0, std::uint64_t tracked = 0);
inline std::size_t replyBytes(std::string_view reply) { return 1 + sizeof(std::uint64_t) + reply.size(); }
void writeReply(char* out, std::uint64_t id, std::string_view reply);
void encodeRequest(std::string& out, std::uint64_t id, std::uint8_t protocol, std::span<const std::string_view> args,
                   std::uint16_t db = 0, std::uint64_t tracked = 0);
void encodeReply(std::string& out, std::uint64_t id, std::string_view reply);

struct Request {
  std::uint64_t id = 0;
  std::uint8_t protocol = 2;
  std::uint16_t db = 0;
  std::uint64_t tracked = 0;
};
struct KeyState {
  std::string_view key;
  bool exists = false;
  std::int64_t expireAt = 0;
  std::string_view value;  // the value's image (worker/types/image.h)
  std::uint16_t db = 0;  // the key's database
};

// A record's type and payload (nullopt: empty record).
std::optional<std::pair<RecordType, std::string_view>> recordType(std::string_view record);
// Parse a payload of the given type; false if malformed. Views point into
// the payload. `args` is cleared first and reused (no allocation per request).
bool decodeRequest(std::string_view payload, Request& request, std::vector<std::string_view>& args);
// A whole Request record's second argument (usually its first key), for
// a prefetch; nullopt for any other record or a shorter request.
std::optional<std::string_view> peekRequestKey(std::string_view record, std::uint16_t* db = nullptr);
bool decodeReply(std::string_view payload, std::uint64_t& id, std::string_view& reply);
void encodeKeyState(std::string& out, const KeyState& state);  // KeyValue or KeyGone by state.exists
void encodeKeyMore(std::string& out, const KeyState& state);   // KeyMore: state.value is the next part
bool decodeKeyState(RecordType type, std::string_view payload, KeyState& state);
std::string encodeSlotNotice(RecordType type, std::int32_t slot);  // Copied, Quiet, HandOverEnd
bool decodeSlotNotice(std::string_view payload, std::int32_t& slot);

}  // namespace keyloop::ipc
