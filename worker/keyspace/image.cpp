#include "worker/keyspace/image.h"

#include <vector>

#include "worker/keyspace/collection.h"
#include "worker/keyspace/list.h"
#include "worker/keyspace/zset.h"
#include "worker/keyspace/stream_codec.h"

namespace keyloop {

namespace {

constexpr std::size_t kHeader = packed::kPackedHeader;

std::size_t elementsOf(const Store::Entry* e) {
  switch (Store::kind(e)) {
    case Kind::ListChunked: return list::size(e);
    case Kind::ZsetTree: return zset::size(e);
    case Kind::Stream: return Store::object<stream::Stream>(e).length();
    default: return Store::table(e).size();
  }
}

// A packed run's count header, set once its elements are appended.
class Run {
 public:
  Run(std::string& out, Kind kind) : out_(out), header_(out.size() + 1) { appendEmptyImage(out, kind); }
  ~Run() { packed::setCount(out_.data() + header_, count_); }
  std::string& out() { return out_; }
  void counted() { ++count_; }

 private:
  std::string& out_;
  std::size_t header_;
  std::uint32_t count_ = 0;
};

void appendListElements(Run& run, const Store::Entry* e, std::size_t from, std::size_t to) {
  list::forRange(e, from, to, false, [&](std::size_t, std::string_view el) {
    run.out().append(list::encodedElement(el));
    run.counted();
    return true;
  });
}

void appendZsetTuples(Run& run, const Store::Entry* e, std::size_t from, std::size_t to) {
  zset::walk(e, from, to, false, [&](std::size_t, std::string_view member, double s) {
    packed::appendTuple(run.out(), member, score::encoded(s), 2);
    run.counted();
    return true;
  });
}

// Lists and trees travel in their order, by position; tables by cursor.
bool inOrder(Kind kind) { return kind == Kind::ListChunked || kind == Kind::ZsetTree; }

// Appends the elements or tuples at positions from..to of a list or tree.
void appendOrdered(Run& run, const Store::Entry* e, std::size_t from, std::size_t to) {
  if (Store::kind(e) == Kind::ListChunked) appendListElements(run, e, from, to);
  else appendZsetTuples(run, e, from, to);
}

// Adds a run's elements to an object of its kind.
bool addRun(Store& store, Store::Entry*& e, Kind kind, std::string_view run) {
  if (run.size() < kHeader) return false;
  switch (kind) {
    case Kind::ListChunked: {
      const list::Limits limits;
      list::forEachEncoded(run, [&](std::string_view el) { list::push(store, e, list::End::Tail, el, limits); });
      return true;
    }
    case Kind::ZsetTree: {
      const zset::Limits limits{0, 0};
      packed::forEachTuple(run, kHeader, 2, [&](const packed::Tuple& t) {
        zset::put(store, e, t.key, score::decode(t.value), limits);
        return true;
      });
      return true;
    }
    default: {
      BucketTable& table = Store::table(e);
      packed::forEachTuple(run, kHeader, table.width(), [&](const packed::Tuple& t) {
        table.insert(t.key, t.value);
        return true;
      });
      return true;
    }
  }
}

}  // namespace

bool travelsInParts(const Store::Entry* e) { return ownsObject(Store::kind(e)) && elementsOf(e) > kTuplesPerPart; }

namespace {

// A stream's part: [kind][entry count][entries: ms, seq, field count,
// fields and values], then, in the last part, what follows the nodes in
// its RDB form (the IDs, the counters, the groups: stream_codec.h).
std::uint64_t appendStreamPart(std::string& out, const stream::Stream& s, std::uint64_t cursor) {
  out.push_back(static_cast<char>(Kind::Stream));
  std::string entries;
  std::size_t count = 0;
  const std::size_t next = s.forNodesFrom(cursor, kTuplesPerPart, [&](stream::Id id, stream::Fields fields) {
    packed::appendLength(entries, id.ms);
    packed::appendLength(entries, id.seq);
    packed::appendLength(entries, fields.size());
    for (std::string_view f : fields) packed::appendElement(entries, f);
    ++count;
    return true;
  });
  packed::appendLength(out, count);
  out += entries;
  if (next == 0) rdb::appendStreamTail(out, s);
  return next;
}

bool addStreamPart(stream::Stream& s, std::string_view part) {
  const char* p = part.data();
  const char* end = part.data() + part.size();
  // Every read is bounded by the bytes left: a malformed part is refused, never overrun.
  auto length = [&](std::uint64_t& n) {
    n = 0;
    for (int shift = 0; p < end && shift < 64; shift += 7) {
      const auto byte = static_cast<unsigned char>(*p++);
      n |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return true;
    }
    return false;
  };
  std::uint64_t count = 0;
  if (!length(count)) return false;
  std::vector<std::string_view> fields;
  for (std::uint64_t i = 0; i < count; ++i) {
    stream::Id id;
    std::uint64_t n = 0;
    if (!length(id.ms) || !length(id.seq) || !length(n) || n == 0 || n % 2 != 0 || n > part.size()) return false;
    if (s.length() > 0 && id <= s.lastId) return false;
    fields.clear();
    for (std::uint64_t k = 0; k < n; ++k) {
      std::uint64_t size = 0;
      if (!length(size) || size > static_cast<std::uint64_t>(end - p)) return false;
      fields.emplace_back(p, size);
      p += size;
    }
    s.append(id, fields, stream::Limits{});
  }
  if (p == end) return true;
  std::string_view tail(p, static_cast<std::size_t>(end - p));
  rdb::Reader reader{tail};
  return rdb::readStreamTail(reader, true, s, s.lastEntry()) && tail.empty();
}

}  // namespace

void appendImage(std::string& out, const Store::Entry* e) {
  const Kind kind = Store::kind(e);
  if (!ownsObject(kind)) {
    out.push_back(static_cast<char>(kind));
    out.append(Store::value(e));
    return;
  }
  if (kind == Kind::Stream) {
    out.push_back(static_cast<char>(kind));
    return rdb::appendStream(out, Store::object<stream::Stream>(e));
  }
  Run run(out, kind);
  if (inOrder(kind)) {
    if (const std::size_t n = elementsOf(e); n > 0) appendOrdered(run, e, 0, n - 1);
    return;
  }
  const BucketTable& table = Store::table(e);
  table.forEach([&](std::string_view k, std::string_view v) {
    packed::appendTuple(out, k, v, table.width());
    run.counted();
  });
}

void appendEmptyImage(std::string& out, Kind objectKind) {
  out.push_back(static_cast<char>(objectKind));
  out.append(kHeader, '\0');
}

std::uint64_t appendPart(std::string& out, const Store::Entry* e, std::uint64_t cursor) {
  const Kind kind = Store::kind(e);
  if (kind == Kind::Stream) return appendStreamPart(out, Store::object<stream::Stream>(e), cursor);
  Run run(out, kind);
  if (inOrder(kind)) {
    const std::size_t n = elementsOf(e);
    if (cursor >= n) return 0;
    const std::size_t to = std::min<std::size_t>(n, cursor + kTuplesPerPart) - 1;
    appendOrdered(run, e, cursor, to);
    return to + 1 >= n ? 0 : to + 1;
  }
  const BucketTable& table = Store::table(e);
  return table.scan(cursor, kTuplesPerPart / BucketTable::kLoad, [&](std::string_view k, std::string_view v) {
    packed::appendTuple(out, k, v, table.width());
    run.counted();
  });
}

bool addPart(Store& store, Store::Entry*& e, std::string_view part) {
  if (!part.empty() && static_cast<Kind>(part[0]) == Kind::Stream && Store::kind(e) == Kind::Stream) {
    return addStreamPart(Store::object<stream::Stream>(e), part.substr(1));
  }
  if (part.size() < 1 + kHeader || static_cast<Kind>(part[0]) != Store::kind(e) || !ownsObject(Store::kind(e))) {
    return false;
  }
  return addRun(store, e, Store::kind(e), part.substr(1));
}

Store::Entry* restoreImage(Store& store, std::string_view key, std::string_view image, std::int64_t expireAtMs) {
  if (image.empty() || static_cast<unsigned char>(image[0]) > static_cast<unsigned>(kLastKind)) return nullptr;
  const Kind kind = static_cast<Kind>(image[0]);
  const std::string_view bytes = image.substr(1);
  if (!ownsObject(kind)) return store.set(key, bytes, expireAtMs, kind);
  if (kind == Kind::Stream && bytes.size() == kHeader && bytes.find_first_not_of('\0') == std::string_view::npos) {
    // The empty image a stream moving in parts starts with.
    return store.setObject(store.set(key, {}, expireAtMs), new stream::Stream(), Kind::Stream);
  }
  if (kind == Kind::Stream) {
    std::string_view in = bytes;
    rdb::Reader reader{in};
    std::unique_ptr<stream::Stream> s = rdb::readStream(reader, true, stream::Limits{});
    if (!s) return nullptr;
    return store.setObject(store.set(key, {}, expireAtMs), s.release(), Kind::Stream);
  }
  if (bytes.size() < kHeader) return nullptr;
  Store::Entry* e;
  switch (kind) {
    case Kind::ListChunked:
      e = store.set(key, list::emptyValue(), expireAtMs, Kind::ListPacked);
      e = list::makeChunked(store, e);
      break;
    case Kind::ZsetTree:
      e = zset::create(store, key, SIZE_MAX, 0, zset::Limits{});
      store.setExpire(e, expireAtMs);
      break;
    default: {
      BucketTable* table = collection::tableOf(bytes, typeOf(kind) == Type::Hash ? 2 : 1);
      e = store.set(key, packed::emptyValue(), expireAtMs, Kind::String);
      return store.setTable(e, table, kind);
    }
  }
  addRun(store, e, kind, bytes);
  return e;
}

}  // namespace keyloop
