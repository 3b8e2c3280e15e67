#include "common/ipc/messages.h"

#include "common/ipc/wire.h"

namespace keyloop::ipc {

namespace {

// Control message type letters: the variant's alternatives in order.
constexpr char kControlLetters[] = {'L', 'G', 'X', 'F', 'A', 'S', 'V', 'D', 'C', 'H', 'I', 'J', 'N', 'O', 'T', 'U', 'B', 'h', 'w'};
static_assert(std::size(kControlLetters) == std::variant_size_v<ControlMessage>);

void putText(std::string& out, const std::string& text) {
  put(out, static_cast<std::uint32_t>(text.size()));
  out += text;
}

bool takeText(std::string_view& in, std::string& text) {
  std::uint32_t length = 0;
  if (!take(in, length) || in.size() < length) return false;
  text.assign(in.substr(0, length));
  in.remove_prefix(length);
  return true;
}

void putState(std::string& out, const ClientState& state) {
  put(out, state.protocol);
  put(out, state.db);
  // One byte of flags: authenticated, monitoring.
  put(out, static_cast<std::uint8_t>((state.authenticated ? 1 : 0) | (state.monitoring ? 2 : 0)));
  put(out, static_cast<std::uint32_t>(state.name.size()));
  out += state.name;
  put(out, state.id);
  putText(out, state.tracking);
  for (const auto& names : state.subscriptions) {
    put(out, static_cast<std::uint32_t>(names.size()));
    for (const std::string& n : names) {
      put(out, static_cast<std::uint32_t>(n.size()));
      out += n;
    }
  }
  out += state.resume;
}

bool takeState(std::string_view& in, ClientState& state) {
  std::uint8_t authenticated = 0;
  std::uint32_t nameLength = 0;
  if (!take(in, state.protocol) || !take(in, state.db) || !take(in, authenticated) || !take(in, nameLength) || in.size() < nameLength) {
    return false;
  }
  state.authenticated = (authenticated & 1) != 0;
  state.monitoring = (authenticated & 2) != 0;
  state.name.assign(in.substr(0, nameLength));
  in.remove_prefix(nameLength);
  if (!take(in, state.id) || !takeText(in, state.tracking)) return false;
  for (auto& names : state.subscriptions) {
    std::uint32_t count = 0;
    if (!take(in, count) || count > in.size()) return false;
    for (std::uint32_t i = 0; i < count; ++i) {
      std::uint32_t length = 0;
      if (!take(in, length) || in.size() < length) return false;
      names.emplace_back(in.substr(0, length));
      in.remove_prefix(length);
    }
  }
  state.resume.assign(in);
  in = {};
  return true;
}


// The fields of each message, written and read by the same overload pair.
void putFields(std::string& out, const LinkNext& m) { put(out, m.peer); }
void putFields(std::string& out, const HandOver& m) {
  put(out, m.workers);
  for (std::int32_t fd : m.keep) put(out, fd);
}
void putFields(std::string& out, const RetireeGone& m) { put(out, m.slot); }
void putFields(std::string&, const FinishClients&) {}
void putFields(std::string& out, const AdoptClient& m) { putState(out, m.state); }
void putFields(std::string&, const Serving&) {}
void putFields(std::string& out, const ConfigApplied& m) { put(out, m.version); }
void putFields(std::string& out, const HandedOver& m) {
  put(out, m.keys);
  put(out, m.tookNanos);
  put(out, m.heldNanos);
}
void putFields(std::string& out, const PassClient& m) { putState(out, m.state); }
void putFields(std::string&, const Drained&) {}
void putFields(std::string& out, const PersistenceSet& m) {
  put(out, static_cast<std::uint8_t>(m.stopWritesOnError));
  put(out, static_cast<std::uint8_t>(m.aofEnabled));
  putText(out, m.rules);
}
void putFields(std::string& out, const SnapshotBegun& m) { put(out, m.id); }
void putFields(std::string& out, const WriteSnapshot& m) {
  put(out, m.id);
  put(out, static_cast<std::uint8_t>(m.final));
  putText(out, m.path);
  putText(out, m.logFile);
}
void putFields(std::string& out, const HoldWrites& m) { put(out, m.id); }
void putFields(std::string& out, const WritesHeld& m) { put(out, m.id); }
void putFields(std::string& out, const DropSnapshot& m) { put(out, m.id); }
void putFields(std::string& out, const SaveReply& m) {
  put(out, m.token);
  putText(out, m.reply);
}
void putFields(std::string& out, const SnapshotWritten& m) {
  for (std::uint64_t v : {m.id, m.keys, m.expires, m.bytes}) put(out, v);
  putText(out, m.error);
}
void putFields(std::string& out, const SaveAsked& m) {
  put(out, m.token);
  put(out, static_cast<std::uint8_t>(m.kind));
  put(out, static_cast<std::uint8_t>(m.force));
}

bool takeFields(std::string_view& in, LinkNext& m) { return take(in, m.peer); }
bool takeFields(std::string_view& in, HandOver& m) {
  if (!take(in, m.workers)) return false;
  std::int32_t fd = 0;
  while (take(in, fd)) m.keep.push_back(fd);
  return true;
}
bool takeFields(std::string_view& in, RetireeGone& m) { return take(in, m.slot); }
bool takeFields(std::string_view&, FinishClients&) { return true; }
bool takeFields(std::string_view& in, AdoptClient& m) { return takeState(in, m.state); }
bool takeFields(std::string_view&, Serving&) { return true; }
bool takeFields(std::string_view& in, ConfigApplied& m) { return take(in, m.version); }
bool takeFields(std::string_view& in, HandedOver& m) {
  return take(in, m.keys) && take(in, m.tookNanos) && take(in, m.heldNanos);
}
bool takeFields(std::string_view& in, PassClient& m) { return takeState(in, m.state); }
bool takeFields(std::string_view&, Drained&) { return true; }
bool takeFields(std::string_view& in, PersistenceSet& m) {
  std::uint8_t stop = 0, aof = 0;
  if (!take(in, stop) || !take(in, aof) || !takeText(in, m.rules)) return false;
  m.stopWritesOnError = stop != 0;
  m.aofEnabled = aof != 0;
  return true;
}
bool takeFields(std::string_view& in, SnapshotBegun& m) { return take(in, m.id); }
bool takeFields(std::string_view& in, WriteSnapshot& m) {
  std::uint8_t final = 0;
  if (!take(in, m.id) || !take(in, final) || !takeText(in, m.path) || !takeText(in, m.logFile)) return false;
  m.final = final != 0;
  return true;
}
bool takeFields(std::string_view& in, HoldWrites& m) { return take(in, m.id); }
bool takeFields(std::string_view& in, WritesHeld& m) { return take(in, m.id); }
bool takeFields(std::string_view& in, DropSnapshot& m) { return take(in, m.id); }
bool takeFields(std::string_view& in, SaveReply& m) { return take(in, m.token) && takeText(in, m.reply); }
bool takeFields(std::string_view& in, SnapshotWritten& m) {
  return take(in, m.id) && take(in, m.keys) && take(in, m.expires) && take(in, m.bytes) && takeText(in, m.error);
}
bool takeFields(std::string_view& in, SaveAsked& m) {
  std::uint8_t kind = 0, force = 0;
  if (!take(in, m.token) || !take(in, kind) || !take(in, force) || kind > static_cast<std::uint8_t>(SaveKind::Rewrite)) {
    return false;
  }
  m.kind = static_cast<SaveKind>(kind);
  m.force = force != 0;
  return true;
}

template <std::size_t I = 0>
std::optional<ControlMessage> decodeAlternative(char letter, std::string_view payload) {
  if constexpr (I == std::variant_size_v<ControlMessage>) {
    return std::nullopt;
  } else {
    if (letter != kControlLetters[I]) return decodeAlternative<I + 1>(letter, payload);
    std::variant_alternative_t<I, ControlMessage> message;
    if (!takeFields(payload, message) || !payload.empty()) return std::nullopt;
    return ControlMessage(std::move(message));
  }
}

}  // namespace

std::string encode(const ControlMessage& message) {
  std::string out(1, kControlLetters[message.index()]);
  std::visit([&out](const auto& m) { putFields(out, m); }, message);
  return out;
}

std::optional<ControlMessage> decodeControl(std::string_view bytes) {
  if (bytes.empty()) return std::nullopt;
  return decodeAlternative(bytes[0], bytes.substr(1));
}

std::size_t requestBytes(std::span<const std::string_view> args) {
  std::size_t size = 1 + sizeof(std::uint64_t) + 1 + sizeof(std::uint16_t) + sizeof(std::uint64_t) + sizeof(std::uint32_t);
  for (std::string_view a : args) size += sizeof(std::uint32_t) + a.size();
  return size;
}


void writeRequest(char* out, std::uint64_t id, std::uint8_t protocol, std::span<const std::string_view> args,
                  std::uint16_t db, std::uint64_t tracked) {
  *out++ = static_cast<char>(RecordType::Request);
  out = putAt(out, id);
  out = putAt(out, protocol);
  out = putAt(out, db);
  out = putAt(out, tracked);
  out = putAt(out, static_cast<std::uint32_t>(args.size()));
  for (std::string_view a : args) out = putAt(putAt(out, static_cast<std::uint32_t>(a.size())), a);
}

void writeReply(char* out, std::uint64_t id, std::string_view reply) {
  *out++ = static_cast<char>(RecordType::Reply);
  putAt(putAt(out, id), reply);
}

void encodeRequest(std::string& out, std::uint64_t id, std::uint8_t protocol, std::span<const std::string_view> args,
                   std::uint16_t db, std::uint64_t tracked) {
  out.resize(requestBytes(args));
  writeRequest(out.data(), id, protocol, args, db, tracked);
}

void encodeReply(std::string& out, std::uint64_t id, std::string_view reply) {
  out.resize(replyBytes(reply));
  writeReply(out.data(), id, reply);
}

std::optional<std::pair<RecordType, std::string_view>> recordType(std::string_view record) {
  if (record.empty()) return std::nullopt;
  return std::pair{static_cast<RecordType>(record[0]), record.substr(1)};
}

bool decodeRequest(std::string_view payload, Request& request, std::vector<std::string_view>& args) {
  std::uint32_t argc = 0;
  args.clear();
  if (!take(payload, request.id) || !take(payload, request.protocol) || !take(payload, request.db) ||
      !take(payload, request.tracked) || !take(payload, argc)) {
    return false;
  }
  for (std::uint32_t i = 0; i < argc; ++i) {
    std::uint32_t length = 0;
    if (!take(payload, length) || payload.size() < length) return false;
    args.push_back(payload.substr(0, length));
    payload.remove_prefix(length);
  }
  return true;
}

std::optional<std::string_view> peekRequestKey(std::string_view record, std::uint16_t* db) {
  if (record.empty() || record[0] != static_cast<char>(RecordType::Request)) return std::nullopt;
  record.remove_prefix(1 + sizeof(std::uint64_t) + 1);  // type, id, protocol
  std::uint16_t number = 0;
  if (!take(record, number)) return std::nullopt;
  if (db != nullptr) *db = number;
  std::uint64_t tracked = 0;
  std::uint32_t argc = 0, length = 0;
  if (!take(record, tracked)) return std::nullopt;
  if (!take(record, argc) || argc < 2 || !take(record, length) || record.size() < length) return std::nullopt;
  record.remove_prefix(length);
  if (!take(record, length) || record.size() < length) return std::nullopt;
  return record.substr(0, length);
}

bool decodeReply(std::string_view payload, std::uint64_t& id, std::string_view& reply) {
  if (!take(payload, id)) return false;
  reply = payload;
  return true;
}

namespace {
void encodeKey(std::string& out, RecordType type, const KeyState& state) {
  out.clear();
  out += static_cast<char>(type);
  put(out, state.db);
  put(out, static_cast<std::uint32_t>(state.key.size()));
  out += state.key;
  if (!state.exists) return;
  put(out, state.expireAt);
  out += state.value;
}
}  // namespace

void encodeKeyState(std::string& out, const KeyState& state) {
  encodeKey(out, state.exists ? RecordType::KeyValue : RecordType::KeyGone, state);
}

void encodeKeyMore(std::string& out, const KeyState& state) { encodeKey(out, RecordType::KeyMore, state); }

bool decodeKeyState(RecordType type, std::string_view payload, KeyState& state) {
  std::uint32_t keyLength = 0;
  if (!take(payload, state.db) || !take(payload, keyLength) || payload.size() < keyLength) return false;
  state.key = payload.substr(0, keyLength);
  payload.remove_prefix(keyLength);
  state.exists = type == RecordType::KeyValue || type == RecordType::KeyMore;
  if (!state.exists) return payload.empty();
  if (!take(payload, state.expireAt)) return false;
  state.value = payload;
  return true;
}

std::string encodeSlotNotice(RecordType type, std::int32_t slot) {
  std::string out(1, static_cast<char>(type));
  put(out, slot);
  return out;
}

bool decodeSlotNotice(std::string_view payload, std::int32_t& slot) { return take(payload, slot) && payload.empty(); }

}  // namespace keyloop::ipc
