#include "worker/keyspace/stream.h"

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <vector>

#include "common/text/text.h"
#include "worker/keyspace/packed.h"

namespace keyloop::stream {

namespace {

// An entry's header byte: flags, and its ID as small deltas when they fit
// (ms delta 0..2, else 3 and a varint; seq 0..14, else 15 and a varint).
constexpr unsigned char kDeleted = 0x80, kSameFields = 0x40;
constexpr unsigned kMsInline = 3, kSeqInline = 15;

// An integer written as the text it came from ("12", not "012" or "+12"),
// which is what may be stored in binary and given back as the same bytes.
std::optional<std::int64_t> canonicalInteger(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  const auto v = parseInteger(s);
  if (!v) return std::nullopt;
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, *v).ptr;
  if (std::string_view(digits, static_cast<std::size_t>(end - digits)) != s) return std::nullopt;
  return *v;
}

// A value: a tag byte, then
//   0x00..0x7F  a string of that many bytes
//   0x80..0xBF  (nothing) the integer 0..63
//   0xC1..0xC8  a signed integer in 1..8 little-endian bytes
//   0xF0        a varint length and the string
void appendValue(std::string& out, std::string_view s) {
  if (const auto v = canonicalInteger(s)) {
    if (*v >= 0 && *v < 64) return out.push_back(static_cast<char>(0x80 + *v));
    int bytes = 1;
    while (bytes < 8 && (*v < -(std::int64_t{1} << (8 * bytes - 1)) || *v >= (std::int64_t{1} << (8 * bytes - 1)))) {
      ++bytes;
    }
    out.push_back(static_cast<char>(0xC0 + bytes));
    auto u = static_cast<std::uint64_t>(*v);
    for (int i = 0; i < bytes; ++i, u >>= 8) out.push_back(static_cast<char>(u & 0xFF));
    return;
  }
  if (s.size() < 0x80) {
    out.push_back(static_cast<char>(s.size()));
  } else {
    out.push_back(static_cast<char>(0xF0));
    packed::appendLength(out, s.size());
  }
  out.append(s);
}

// Integers are spelled into `scratch`, which has room for them all (views
// into it stay valid while the entry is visited).
std::string_view readValue(const char*& p, std::string& scratch) {
  const auto tag = static_cast<unsigned char>(*p++);
  if (tag < 0x80) {
    const std::string_view s(p, tag);
    p += tag;
    return s;
  }
  if (tag == 0xF0) return packed::readElement(p);
  std::int64_t v;
  if (tag < 0xC0) {
    v = tag - 0x80;
  } else {
    const int bytes = tag - 0xC0;
    std::uint64_t u = 0;
    for (int i = 0; i < bytes; ++i) u |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    p += bytes;
    const int shift = 64 - 8 * bytes;
    v = static_cast<std::int64_t>(u << shift) >> shift;
  }
  const std::size_t at = scratch.size();
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
  scratch.append(digits, end);
  return {scratch.data() + at, static_cast<std::size_t>(end - digits)};
}

}  // namespace

struct Stream::Node {
  // A varint count of the master fields, the fields, then the entries.
  std::string bytes;
  Id last;  // the last entry's ID, deleted or not: the next one's delta is from it
  std::uint32_t entries = 0, live = 0;
};

namespace {

// Walks a node's entries, one at a time.
class NodeReader {
 public:
  NodeReader(Id master, const std::string& bytes) : p_(bytes.data()), end_(bytes.data() + bytes.size()), prev_(master) {
    const std::size_t count = packed::readLength(p_);
    master_.reserve(count);
    for (std::size_t i = 0; i < count; ++i) master_.push_back(packed::readElement(p_));
  }
  // Reads the next entry (its fields too when asked); false at the end.
  bool next(bool wantFields) {
    if (p_ >= end_) return false;
    at_ = p_;
    const auto header = static_cast<unsigned char>(*p_++);
    deleted_ = (header & kDeleted) != 0;
    const unsigned msCode = (header >> 4) & 3, seqCode = header & 15;
    const std::uint64_t msDelta = msCode == kMsInline ? packed::readLength(p_) : msCode;
    const std::uint64_t seqValue = seqCode == kSeqInline ? packed::readLength(p_) : seqCode;
    id_ = msDelta == 0 ? Id{prev_.ms, prev_.seq + seqValue} : Id{prev_.ms + msDelta, seqValue};
    prev_ = id_;
    const bool same = (header & kSameFields) != 0;
    const std::size_t pairs = same ? master_.size() : packed::readLength(p_);
    fields_.clear();
    scratch_.clear();
    scratch_.reserve(pairs * 2 * 21);
    for (std::size_t i = 0; i < pairs; ++i) {
      if (same) {
        fields_.push_back(master_[i]);
      } else {
        const std::string_view f = readValue(p_, scratch_);
        fields_.push_back(f);
      }
      const std::string_view v = readValue(p_, scratch_);
      fields_.push_back(v);
    }
    if (!wantFields) fields_.clear();
    return true;
  }
  Id id() const { return id_; }
  bool deleted() const { return deleted_; }
  Fields fields() const { return fields_; }
  std::size_t offset(const std::string& bytes) const { return static_cast<std::size_t>(at_ - bytes.data()); }
  // Restarts at an entry already met (its offset, and the ID before it).
  void seek(const std::string& bytes, std::size_t offset, Id before) {
    p_ = bytes.data() + offset;
    prev_ = before;
  }
  bool sameAsMaster(Fields fields) const {
    if (fields.size() != 2 * master_.size()) return false;
    for (std::size_t i = 0; i < master_.size(); ++i) {
      if (fields[2 * i] != master_[i]) return false;
    }
    return true;
  }

 private:
  const char* p_;
  const char* end_;
  const char* at_ = nullptr;
  Id prev_, id_;
  bool deleted_ = false;
  std::vector<std::string_view> master_, fields_;
  std::string scratch_;
};

}  // namespace

std::string format(Id id) { return std::to_string(id.ms) + "-" + std::to_string(id.seq); }

bool increment(Id& id) {
  if (id.seq < UINT64_MAX) return ++id.seq, true;
  if (id.ms == UINT64_MAX) return false;
  id = {id.ms + 1, 0};
  return true;
}

bool decrement(Id& id) {
  if (id.seq > 0) return --id.seq, true;
  if (id.ms == 0) return false;
  id = {id.ms - 1, UINT64_MAX};
  return true;
}

std::optional<Id> parse(std::string_view text, std::uint64_t missingSeq, bool strict) {
  if (text.size() > 127) return std::nullopt;
  if (!strict && text == "-") return Id{0, 0};
  if (!strict && text == "+") return kMaxId;
  // Redis's string2ull: a negative integer is refused, anything else strtoull
  // reads whole is taken as it reads it (" 7", "+7", "007").
  auto number = [](std::string_view s) -> std::optional<std::uint64_t> {
    if (s.empty()) return std::nullopt;
    if (const auto v = parseInteger(s)) {
      if (*v < 0) return std::nullopt;
      return static_cast<std::uint64_t>(*v);
    }
    const std::string text(s);
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    if (errno == EINVAL || errno == ERANGE || end != text.c_str() + text.size()) return std::nullopt;
    return v;
  };
  const std::size_t dash = text.find('-');
  const auto ms = number(text.substr(0, dash));
  if (!ms) return std::nullopt;
  if (dash == std::string_view::npos) return Id{*ms, missingSeq};
  const auto seq = number(text.substr(dash + 1));
  if (!seq) return std::nullopt;
  return Id{*ms, *seq};
}

Stream::Stream() = default;
Stream::~Stream() = default;

void Stream::append(Id id, Fields fields, const Limits& limits) {
  std::size_t raw = 0;
  for (std::string_view s : fields) raw += s.size() + 2;
  Node* node = nodes_.empty() ? nullptr : &std::prev(nodes_.end())->second;
  if (node != nullptr &&
      ((limits.nodeMaxBytes > 0 && node->bytes.size() + raw >= limits.nodeMaxBytes) ||
       (limits.nodeMaxEntries > 0 && node->entries >= static_cast<std::uint64_t>(limits.nodeMaxEntries)))) {
    node->bytes.shrink_to_fit();  // closed: it never grows again
    node = nullptr;
  }
  Id prev = id;
  if (node == nullptr) {
    node = &nodes_.emplace(id, Node{}).first->second;
    packed::appendLength(node->bytes, fields.size() / 2);
    for (std::size_t i = 0; i < fields.size(); i += 2) packed::appendElement(node->bytes, fields[i]);
  } else {
    prev = node->last;
  }
  const bool same = NodeReader(nodes_.rbegin()->first, node->bytes).sameAsMaster(fields);
  const std::uint64_t msDelta = id.ms - prev.ms;
  const std::uint64_t seqValue = msDelta == 0 ? id.seq - prev.seq : id.seq;
  const unsigned msCode = msDelta < kMsInline ? static_cast<unsigned>(msDelta) : kMsInline;
  const unsigned seqCode = seqValue < kSeqInline ? static_cast<unsigned>(seqValue) : kSeqInline;
  std::string& out = node->bytes;
  out.push_back(static_cast<char>((same ? kSameFields : 0) | (msCode << 4) | seqCode));
  if (msCode == kMsInline) packed::appendLength(out, msDelta);
  if (seqCode == kSeqInline) packed::appendLength(out, seqValue);
  if (!same) packed::appendLength(out, fields.size() / 2);
  for (std::size_t i = 0; i < fields.size(); i += 2) {
    if (!same) appendValue(out, fields[i]);
    appendValue(out, fields[i + 1]);
  }
  node->last = id;
  ++node->entries;
  ++node->live;
  ++length_;
  ++entriesAdded;
  lastId = id;
  if (length_ == 1) firstId = id;
}

void Stream::range(Id from, Id to, bool backwards, const Visit& visit) const {
  if (nodes_.empty() || from > to) return;
  if (!backwards) {
    auto it = nodes_.upper_bound(from);
    if (it != nodes_.begin()) --it;
    for (; it != nodes_.end() && it->first <= to; ++it) {
      NodeReader r(it->first, it->second.bytes);
      while (r.next(true)) {
        if (r.id() < from || r.deleted()) continue;
        if (r.id() > to || !visit(r.id(), r.fields())) return;
      }
    }
    return;
  }
  auto it = nodes_.upper_bound(to);
  std::vector<std::pair<Id, std::size_t>> entries;  // (id, offset) of one node
  while (it != nodes_.begin()) {
    --it;
    const Node& node = it->second;
    NodeReader r(it->first, node.bytes);
    entries.clear();
    while (r.next(false)) entries.emplace_back(r.id(), r.offset(node.bytes));
    for (std::size_t i = entries.size(); i-- > 0;) {
      if (entries[i].first > to) continue;
      if (entries[i].first < from) return;
      r.seek(node.bytes, entries[i].second, i > 0 ? entries[i - 1].first : it->first);
      r.next(true);
      if (!r.deleted() && !visit(r.id(), r.fields())) return;
    }
  }
}

bool Stream::contains(Id id) const {
  bool found = false;
  range(id, id, false, [&](Id, Fields) { return !(found = true); });
  return found;
}

bool Stream::erase(Id id) {
  auto it = nodes_.upper_bound(id);
  if (it == nodes_.begin()) return false;
  --it;
  Node& node = it->second;
  NodeReader r(it->first, node.bytes);
  while (r.next(false)) {
    if (r.id() < id) continue;
    if (r.id() > id || r.deleted()) return false;
    node.bytes[r.offset(node.bytes)] = static_cast<char>(node.bytes[r.offset(node.bytes)] | kDeleted);
    --length_;
    if (--node.live == 0) nodes_.erase(it);
    if (id > maxDeletedId) maxDeletedId = id;
    if (length_ == 0) firstId = {};
    else if (id == firstId) refreshFirstId();
    return true;
  }
  return false;
}

std::uint64_t Stream::trim(const Trim& t) {
  std::uint64_t deleted = 0;
  while (!nodes_.empty()) {
    if (t.by == Trim::By::MaxLen && length_ <= t.maxLen) break;
    auto it = nodes_.begin();
    Node& node = it->second;
    if (t.limit > 0 && deleted + node.live > static_cast<std::uint64_t>(t.limit)) break;
    const bool wholeNode = t.by == Trim::By::MaxLen ? length_ - node.live >= t.maxLen : node.last < t.minId;
    if (wholeNode) {
      length_ -= node.live;
      deleted += node.live;
      nodes_.erase(it);
      continue;
    }
    if (t.approximate) break;
    NodeReader r(it->first, node.bytes);
    while (r.next(false)) {
      if (t.by == Trim::By::MaxLen ? length_ <= t.maxLen : r.id() >= t.minId) break;
      if (r.deleted()) continue;
      node.bytes[r.offset(node.bytes)] = static_cast<char>(node.bytes[r.offset(node.bytes)] | kDeleted);
      --node.live;
      --length_;
      ++deleted;
    }
    break;  // enough went from this node
  }
  if (length_ == 0) firstId = {};
  else if (deleted > 0) refreshFirstId();
  return deleted;
}

std::optional<Id> Stream::firstEntry() const {
  std::optional<Id> out;
  range({}, kMaxId, false, [&](Id id, Fields) { return (out = id, false); });
  return out;
}

std::optional<Id> Stream::lastEntry() const {
  std::optional<Id> out;
  range({}, kMaxId, true, [&](Id id, Fields) { return (out = id, false); });
  return out;
}

void Stream::refreshFirstId() { firstId = firstEntry().value_or(kMaxId); }

long long Stream::estimateRead(Id id) const {
  if (entriesAdded == 0) return 0;
  if (length_ == 0 && id <= lastId) return static_cast<long long>(entriesAdded);
  if (id == lastId) return static_cast<long long>(entriesAdded);
  if (id > lastId) return kUnknownRead;
  if (maxDeletedId == Id{} || maxDeletedId < firstId) {
    if (id < firstId) return static_cast<long long>(entriesAdded - length_);
    if (id == firstId) return static_cast<long long>(entriesAdded - length_ + 1);
  }
  return kUnknownRead;
}

bool Stream::tombstonesFrom(Id start) const {
  if (length_ == 0 || maxDeletedId == Id{} || firstId > maxDeletedId) return false;
  return start <= maxDeletedId;
}

std::optional<long long> Stream::lag(const Group& g) const {
  if (entriesAdded == 0) return 0;
  if (g.entriesRead != kUnknownRead && !tombstonesFrom(g.lastId)) {
    return static_cast<long long>(entriesAdded) - g.entriesRead;
  }
  const long long read = estimateRead(g.lastId);
  if (read == kUnknownRead) return std::nullopt;
  return static_cast<long long>(entriesAdded) - read;
}

void Stream::noteRead(Group& g, Id id) const {
  if (id <= g.lastId) return;
  if (g.entriesRead != kUnknownRead && !tombstonesFrom(id)) ++g.entriesRead;
  else if (entriesAdded > 0) g.entriesRead = estimateRead(id);
  g.lastId = id;
}

std::size_t Stream::nodeCount() const { return nodes_.size(); }

void Stream::forEachNode(
    const std::function<void(Id master, const std::function<void(const Visit&)>& entries)>& visit) const {
  for (const auto& [master, node] : nodes_) {
    visit(master, [&, m = master](const Visit& entry) {
      NodeReader r(m, node.bytes);
      while (r.next(true)) {
        if (!r.deleted() && !entry(r.id(), r.fields())) return;
      }
    });
  }
}

std::size_t Stream::forNodesFrom(std::size_t first, std::size_t entries, const Visit& visit) const {
  if (first >= nodes_.size()) return 0;
  auto it = std::next(nodes_.begin(), static_cast<std::ptrdiff_t>(first));
  std::size_t visited = 0, index = first;
  for (; it != nodes_.end() && visited < entries; ++it, ++index) {
    NodeReader r(it->first, it->second.bytes);
    while (r.next(true)) {
      if (r.deleted()) continue;
      visit(r.id(), r.fields());
      ++visited;
    }
  }
  return it == nodes_.end() ? 0 : index;
}

std::size_t Stream::bytes() const {
  std::size_t total = sizeof(Stream);
  for (const auto& [master, node] : nodes_) total += node.bytes.capacity() + sizeof(node) + 48;
  for (const auto& [name, g] : groups) {
    total += sizeof(Group) + name.size() + 48 + g.pending.size() * (sizeof(Pending) + 64);
    for (const auto& [cname, c] : g.consumers) total += sizeof(Consumer) + cname.size() + c->pending.size() * 48 + 48;
  }
  return total;
}

// ---- consumer groups ----

Consumer* Group::find(std::string_view name) const {
  auto it = consumers.find(name);
  return it == consumers.end() ? nullptr : it->second.get();
}

Consumer& Group::consumer(std::string_view name, std::int64_t nowMs, bool* created) {
  auto it = consumers.find(name);
  if (created != nullptr) *created = it == consumers.end();
  if (it != consumers.end()) return *it->second;
  auto c = std::make_unique<Consumer>();
  c->name = std::string(name);
  c->seenMs = nowMs;
  Consumer& out = *c;
  consumers.emplace(std::string(name), std::move(c));
  return out;
}

Pending& Group::deliver(Id id, Consumer& owner, std::int64_t nowMs) {
  auto [it, fresh] = pending.try_emplace(id);
  Pending& p = it->second;
  if (!fresh && p.owner != nullptr) p.owner->pending.erase(id);
  p = Pending{nowMs, 1, &owner};
  owner.pending.insert(id);
  return p;
}

void Group::acknowledge(std::map<Id, Pending>::iterator it) {
  if (it->second.owner != nullptr) it->second.owner->pending.erase(it->first);
  pending.erase(it);
}

std::size_t Group::removeConsumer(std::string_view name) {
  auto it = consumers.find(name);
  if (it == consumers.end()) return 0;
  const std::size_t had = it->second->pending.size();
  for (const Id& id : it->second->pending) pending.erase(id);
  consumers.erase(it);
  return had;
}

}  // namespace keyloop::stream
