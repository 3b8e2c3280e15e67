#include "worker/keyspace/stream_codec.h"

#include <vector>

#include "common/rdb/listpack.h"
#include "common/text/text.h"

namespace keyloop::rdb {

namespace {

using stream::Id;

constexpr std::int64_t kDeletedFlag = 1, kSameFieldsFlag = 2;

void appendRawId(std::string& out, Id id) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((id.ms >> shift) & 0xFF));
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((id.seq >> shift) & 0xFF));
}

std::optional<Id> readRawId(Reader& r) {
  const auto ms = r.bigEndian(8);
  const auto seq = r.bigEndian(8);
  if (!ms || !seq) return std::nullopt;
  return Id{*ms, *seq};
}

std::optional<Id> idOf(std::string_view raw) {
  if (raw.size() != 16) return std::nullopt;
  std::string_view in = raw;
  Reader r{in};
  return readRawId(r);
}

std::optional<std::int64_t> millis(Reader& r) {
  const auto bytes = r.take(8);
  if (!bytes) return std::nullopt;
  return static_cast<std::int64_t>(littleEndian(*bytes, 0, 8));
}

// One node as Redis lays it out: its live entries, the first one's fields as master fields.
std::string nodeListpack(Id master, const std::function<void(const stream::Visit&)>& entries) {
  std::vector<std::string> masterFields;
  std::size_t live = 0;
  entries([&](Id, stream::Fields fields) {
    if (live++ == 0) {
      for (std::size_t i = 0; i < fields.size(); i += 2) masterFields.emplace_back(fields[i]);
    }
    return true;
  });
  ListpackWriter lp;
  lp.addInteger(static_cast<std::int64_t>(live));
  lp.addInteger(0);
  lp.addInteger(static_cast<std::int64_t>(masterFields.size()));
  for (const std::string& f : masterFields) lp.add(f);
  lp.addInteger(0);
  entries([&](Id id, stream::Fields fields) {
    bool same = fields.size() == 2 * masterFields.size();
    for (std::size_t i = 0; same && i < masterFields.size(); ++i) same = fields[2 * i] == masterFields[i];
    lp.addInteger(same ? kSameFieldsFlag : 0);
    lp.addInteger(static_cast<std::int64_t>(id.ms - master.ms));
    lp.addInteger(static_cast<std::int64_t>(id.seq - master.seq));
    if (!same) lp.addInteger(static_cast<std::int64_t>(fields.size() / 2));
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (!same || i % 2 == 1) lp.add(fields[i]);
    }
    lp.addInteger(static_cast<std::int64_t>(same ? fields.size() / 2 + 3 : fields.size() + 4));
    return true;
  });
  return lp.finish();
}

std::optional<std::int64_t> integerAt(const std::vector<std::string>& e, std::size_t at) {
  if (at >= e.size()) return std::nullopt;
  const auto v = parseInteger(e[at]);
  if (!v) return std::nullopt;
  return static_cast<std::int64_t>(*v);
}

// A Redis node's live entries, appended to `s`; false when malformed.
bool readNode(Id master, std::string_view lp, stream::Stream& s, const stream::Limits& limits, Id& previous,
              bool& any) {
  std::vector<std::string> e;
  if (!forEachListpackEntry(lp, [&](const std::string& element) { e.push_back(element); })) return false;
  const auto count = integerAt(e, 0), deleted = integerAt(e, 1), masterCount = integerAt(e, 2);
  if (!count || !deleted || !masterCount || *count < 0 || *deleted < 0 || *masterCount < 0) return false;
  std::size_t at = 3 + static_cast<std::size_t>(*masterCount);
  if (at >= e.size() || integerAt(e, at) != 0) return false;
  const std::vector<std::string> masterFields(e.begin() + 3, e.begin() + static_cast<std::ptrdiff_t>(at));
  ++at;
  std::int64_t live = 0, dead = 0;
  std::vector<std::string_view> fields;
  while (at < e.size()) {
    const auto flags = integerAt(e, at), ms = integerAt(e, at + 1), seq = integerAt(e, at + 2);
    if (!flags || !ms || !seq) return false;
    at += 3;
    std::size_t n = masterFields.size();
    const bool same = (*flags & kSameFieldsFlag) != 0;
    if (!same) {
      const auto own = integerAt(e, at++);
      if (!own || *own < 0) return false;
      n = static_cast<std::size_t>(*own);
    }
    const std::size_t items = same ? n : 2 * n;
    if (at + items >= e.size()) return false;  // the entry and its lp-count
    fields.clear();
    for (std::size_t i = 0; i < n; ++i) {
      if (same) {
        fields.push_back(masterFields[i]);
        fields.push_back(e[at + i]);
      } else {
        fields.push_back(e[at + 2 * i]);
        fields.push_back(e[at + 2 * i + 1]);
      }
    }
    at += items;
    const auto lpCount = integerAt(e, at++);
    if (!lpCount || *lpCount != static_cast<std::int64_t>(items + (same ? 3 : 4))) return false;
    const Id id{master.ms + static_cast<std::uint64_t>(*ms), master.seq + static_cast<std::uint64_t>(*seq)};
    if (id < master || (any && id <= previous)) return false;
    previous = id;
    any = true;
    if (*flags & kDeletedFlag) {
      ++dead;
      continue;
    }
    if (n == 0) return false;
    ++live;
    s.append(id, fields, limits);
  }
  return live == *count && dead == *deleted && live > 0;
}

}  // namespace

void appendStream(std::string& out, const stream::Stream& s) {
  appendRdbLength(out, s.nodeCount());
  s.forEachNode([&](Id master, const std::function<void(const stream::Visit&)>& entries) {
    std::string key;
    appendRawId(key, master);
    appendRdbString(out, key);
    appendRdbString(out, nodeListpack(master, entries));
  });
  appendStreamTail(out, s);
}

void appendStreamTail(std::string& out, const stream::Stream& s) {
  appendRdbLength(out, s.length());
  for (std::uint64_t v : {s.lastId.ms, s.lastId.seq, s.firstId.ms, s.firstId.seq, s.maxDeletedId.ms,
                          s.maxDeletedId.seq, s.entriesAdded}) {
    appendRdbLength(out, v);
  }
  appendRdbLength(out, s.groups.size());
  for (const auto& [name, g] : s.groups) {
    appendRdbString(out, name);
    appendRdbLength(out, g.lastId.ms);
    appendRdbLength(out, g.lastId.seq);
    appendRdbLength(out, static_cast<std::uint64_t>(g.entriesRead));
    appendRdbLength(out, g.pending.size());
    for (const auto& [id, p] : g.pending) {
      appendRawId(out, id);
      appendLittleEndian(out, static_cast<std::uint64_t>(p.deliveredMs), 8);
      appendRdbLength(out, p.deliveries);
    }
    appendRdbLength(out, g.consumers.size());
    for (const auto& [cname, c] : g.consumers) {
      appendRdbString(out, cname);
      appendLittleEndian(out, static_cast<std::uint64_t>(c->seenMs), 8);
      appendRdbLength(out, c->pending.size());
      for (const Id& id : c->pending) appendRawId(out, id);
    }
  }
}

std::unique_ptr<stream::Stream> readStream(Reader& r, bool version2, const stream::Limits& limits) {
  auto s = std::make_unique<stream::Stream>();
  const auto nodes = r.length();
  if (!nodes) return nullptr;
  Id previous;
  bool any = false;
  for (std::uint64_t i = 0; i < *nodes; ++i) {
    const auto key = r.string();
    const auto lp = key ? r.string() : std::nullopt;
    if (!lp) return nullptr;
    const auto master = idOf(*key);
    if (!master || !readNode(*master, *lp, *s, limits, previous, any)) return nullptr;
  }
  if (!readStreamTail(r, version2, *s, any ? std::optional<stream::Id>(previous) : std::nullopt)) return nullptr;
  return s;
}

bool readStreamTail(Reader& r, bool version2, stream::Stream& s, std::optional<stream::Id> newest) {
  const auto length = r.length(), lastMs = r.length(), lastSeq = r.length();
  if (!length || !lastMs || !lastSeq || *length != s.length()) return false;
  s.lastId = {*lastMs, *lastSeq};
  if (newest && *newest > s.lastId) return false;
  if (version2) {
    std::uint64_t v[5];
    for (auto& x : v) {
      const auto n = r.length();
      if (!n) return false;
      x = *n;
    }
    s.firstId = {v[0], v[1]};
    s.maxDeletedId = {v[2], v[3]};
    s.entriesAdded = v[4];
  } else {
    s.maxDeletedId = {};
    s.entriesAdded = s.length();
    s.firstId = s.firstEntry().value_or(stream::kMaxId);
  }
  const auto groups = r.length();
  if (!groups) return false;
  for (std::uint64_t i = 0; i < *groups; ++i) {
    const auto name = r.string();
    const auto ms = name ? r.length() : std::nullopt;
    const auto seq = ms ? r.length() : std::nullopt;
    if (!seq) return false;
    const Id last{*ms, *seq};
    long long read;
    if (version2) {
      const auto n = r.length();
      if (!n) return false;
      read = static_cast<long long>(*n);
    } else {
      read = s.estimateRead(last);
    }
    auto [it, fresh] = s.groups.try_emplace(*name);
    if (!fresh) return false;
    stream::Group& g = it->second;
    g.lastId = last;
    g.entriesRead = read;
    const auto pel = r.length();
    if (!pel) return false;
    for (std::uint64_t k = 0; k < *pel; ++k) {
      const auto id = readRawId(r);
      const auto when = id ? millis(r) : std::nullopt;
      const auto count = when ? r.length() : std::nullopt;
      if (!count || !g.pending.try_emplace(*id, stream::Pending{*when, *count, nullptr}).second) return false;
    }
    const auto consumers = r.length();
    if (!consumers) return false;
    for (std::uint64_t k = 0; k < *consumers; ++k) {
      const auto cname = r.string();
      const auto seen = cname ? millis(r) : std::nullopt;
      const auto owned = seen ? r.length() : std::nullopt;
      if (!owned || g.find(*cname) != nullptr) return false;
      stream::Consumer& c = g.consumer(*cname, *seen);
      for (std::uint64_t j = 0; j < *owned; ++j) {
        const auto id = readRawId(r);
        if (!id) return false;
        auto p = g.pending.find(*id);
        if (p == g.pending.end() || p->second.owner != nullptr) return false;
        p->second.owner = &c;
        c.pending.insert(*id);
      }
    }
    for (const auto& [id, p] : g.pending) {
      if (p.owner == nullptr) return false;  // an entry nobody was given
    }
  }
  return true;
}

}  // namespace keyloop::rdb
