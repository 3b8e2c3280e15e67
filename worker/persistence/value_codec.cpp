#include "worker/persistence/value_codec.h"

#include <cstring>
#include <optional>

#include "common/rdb/listpack.h"
#include "common/text/text.h"
#include "worker/keyspace/intset.h"
#include "worker/keyspace/list.h"
#include "worker/keyspace/zset.h"
#include "worker/keyspace/stream_codec.h"
#include "worker/keyspace/field_expiry.h"

#include <bit>
#include <cmath>
#include <cstdlib>

namespace keyloop::rdb {

namespace {

enum RdbType : unsigned char {
  kString = 0, kList = 1, kSet = 2, kZset = 3, kHash = 4, kZset2 = 5, kListZiplist = 10, kSetIntset = 11,
  kZsetZiplist = 12, kHashZiplist = 13, kListQuicklist = 14, kHashListpack = 16, kZsetListpack = 17,
  kListQuicklist2 = 18, kSetListpack = 20,
  // Redis 7.4's hashes with field times: a table's tuples with a time each
  // (the _PRE_GA forms with absolute times, the others relative to a minimum
  // written first), or a listpack of (field, value, time) triples.
  kHashMetadataPreGa = 22, kHashListpackExPreGa = 23, kHashMetadata = 24, kHashListpackEx = 25,
};

// ---- reading ----


// The same for a ziplist (RDB version 9 and before).
template <typename Visit>
bool forEachZiplistEntry(std::string_view zl, Visit visit) {
  if (zl.size() < 11 || littleEndian(zl, 0, 4) != zl.size()) return false;
  std::size_t p = 10;
  while (p < zl.size()) {
    if (static_cast<unsigned char>(zl[p]) == 0xFF) return p + 1 == zl.size();
    p += static_cast<unsigned char>(zl[p]) < 254 ? 1 : 5;  // the previous entry's length
    if (p >= zl.size()) return false;
    const auto b = static_cast<unsigned char>(zl[p]);
    auto need = [&](std::size_t n) { return p + n <= zl.size(); };
    std::string element;
    std::size_t header = 1, data = 0;
    switch (b >> 6) {
      case 0: data = b & 0x3f; break;
      case 1:
        if (!need(2)) return false;
        header = 2;
        data = (std::size_t{b & 0x3fu} << 8) | static_cast<unsigned char>(zl[p + 1]);
        break;
      case 2:
        if (!need(5)) return false;
        header = 5;
        data = 0;
        for (std::size_t i = 1; i <= 4; ++i) data = (data << 8) | static_cast<unsigned char>(zl[p + i]);  // big-endian
        break;
      default: {
        int bytes = 0;
        if (b == 0xC0) bytes = 2;
        else if (b == 0xD0) bytes = 4;
        else if (b == 0xE0) bytes = 8;
        else if (b == 0xF0) bytes = 3;
        else if (b == 0xFE) bytes = 1;
        else if (b >= 0xF1 && b <= 0xFD) element = std::to_string((b & 0x0f) - 1);
        else return false;
        if (bytes > 0) {
          if (!need(1 + static_cast<std::size_t>(bytes))) return false;
          element = signedText(littleEndian(zl, p + 1, bytes), bytes * 8);
          header = 1 + static_cast<std::size_t>(bytes);
        }
        visit(element);
        p += header;
        continue;
      }
    }
    if (!need(header + data)) return false;
    visit(std::string(zl.substr(p + header, data)));
    p += header + data;
  }
  return false;
}

Store::Entry* emptyHash(Store& store, std::string_view key) {
  return store.set(key, packed::emptyValue(), kNoExpiry, Kind::HashPacked);
}

// Pairs of elements into a hash; false if their count is odd or a field repeats.
template <typename ForEach>
Store::Entry* hashOf(Store& store, std::string_view key, const Limits& limits, ForEach forEach) {
  Store::Entry* e = emptyHash(store, key);
  std::optional<std::string> field;
  bool ok = true;
  const bool walked = forEach([&](const std::string& element) {
    if (!field) return void(field = element);
    ok = ok && collection::insert(store, e, collection::kHash, limits.hash, *field, element);
    field.reset();
  });
  return walked && ok && !field && collection::size(e) > 0 ? e : nullptr;
}

Store::Entry* setOf(Store& store, std::string_view key, const Limits& limits, std::uint64_t n, Reader& r) {
  Store::Entry* e = nullptr;
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto member = r.string();
    if (!member) return nullptr;
    if (e == nullptr) {
      const collection::EmptySet empty = collection::emptySetFor(*member);
      e = store.set(key, empty.bytes, kNoExpiry, empty.kind);
    }
    if (!collection::insert(store, e, collection::kSet, limits.set, *member)) return nullptr;  // a duplicate
  }
  return e;
}

Store::Entry* emptyList(Store& store, std::string_view key) {
  return store.set(key, list::emptyValue(), kNoExpiry, Kind::ListPacked);
}

// Each node of a quicklist (14: ziplists; 18: a container kind, then a
// listpack or one plain element) into a list; false if malformed.
bool readQuicklist(Reader& r, Store& store, Store::Entry*& e, const Limits& limits, bool version2) {
  const auto nodes = r.length();
  if (!nodes) return false;
  for (std::uint64_t i = 0; i < *nodes; ++i) {
    std::uint64_t container = 2;
    if (version2) {
      const auto c = r.length();
      if (!c || (*c != 1 && *c != 2)) return false;
      container = *c;
    }
    const auto blob = r.string();
    if (!blob) return false;
    auto push = [&](const std::string& element) { list::push(store, e, list::End::Tail, element, limits.list); };
    if (container == 1) {
      push(*blob);
    } else if (!(version2 ? forEachListpackEntry(*blob, push) : forEachZiplistEntry(*blob, push))) {
      return false;
    }
  }
  return true;
}

// Parses a listpack or ziplist score ("1.5", "3", "inf").
std::optional<double> scoreText(const std::string& text) {
  const auto v = parseDouble(text);
  if (!v || std::isnan(*v)) return std::nullopt;
  return *v;
}

// Member, score pairs into a sorted set; false if odd, a score is bad or a member repeats.
template <typename ForEach>
Store::Entry* zsetOf(Store& store, std::string_view key, const Limits& limits, ForEach forEach) {
  Store::Entry* e = zset::create(store, key, 0, 0, limits.zset);
  std::optional<std::string> member;
  bool ok = true;
  const bool walked = forEach([&](const std::string& element) {
    if (!member) return void(member = element);
    const auto s = scoreText(element);
    ok = ok && s && !zset::scoreOf(e, *member);
    if (ok) zset::put(store, e, *member, *s, limits.zset);
    member.reset();
  });
  return walked && ok && !member && zset::size(e) > 0 ? e : nullptr;
}

// Triples of (field, value, time) into a hash: a time of 0 is none.
// Used for both of Redis 7.4's forms; false if malformed or a field repeats.
struct TimedField {
  std::string field, value;
  std::uint64_t at;
};
Store::Entry* timedHashOf(Store& store, std::string_view key, const Limits& limits,
                          const std::vector<TimedField>& fields) {
  if (fields.empty()) return nullptr;
  Store::Entry* e = emptyHash(store, key);
  bool timed = false;
  for (const TimedField& f : fields) {
    if (!collection::insert(store, e, collection::kHash, limits.hash, f.field, f.value)) return nullptr;
    timed = timed || f.at != 0;
  }
  if (!timed) return e;
  field_ttl::makeExpiring(store, e);
  for (const TimedField& f : fields) {
    if (f.at != 0) field_ttl::setExpiry(e, f.field, static_cast<std::int64_t>(f.at));
  }
  return e;
}

// Redis 7.4's largest field time (EB_EXPIRE_TIME_MAX).
constexpr std::uint64_t kMaxFieldTime = 0xFFFFFFFFFFFFull;

Store::Entry* readTimedHash(Reader& r, unsigned char type, Store& store, std::string_view key, const Limits& limits) {
  std::uint64_t minimum = 0;
  if (type == kHashMetadata || type == kHashListpackEx) {
    const auto bytes = r.take(8);
    if (!bytes) return nullptr;
    minimum = littleEndian(*bytes, 0, 8);
  }
  std::vector<TimedField> fields;
  if (type == kHashListpackEx || type == kHashListpackExPreGa) {
    const auto blob = r.string();
    if (!blob) return nullptr;
    std::vector<std::string> elements;
    if (!forEachListpackEntry(*blob, [&](const std::string& el) { elements.push_back(el); }) ||
        elements.size() % 3 != 0) {
      return nullptr;
    }
    for (std::size_t i = 0; i < elements.size(); i += 3) {
      const auto at = parseInteger(elements[i + 2]);
      if (!at || *at < 0 || static_cast<std::uint64_t>(*at) > kMaxFieldTime) return nullptr;
      fields.push_back({elements[i], elements[i + 1], static_cast<std::uint64_t>(*at)});
    }
    return timedHashOf(store, key, limits, fields);
  }
  const auto n = r.length();
  if (!n || *n == 0) return nullptr;
  for (std::uint64_t i = 0; i < *n; ++i) {
    const auto ttl = r.length();
    if (!ttl) return nullptr;
    auto field = r.string();
    auto value = field ? r.string() : std::nullopt;
    if (!value) return nullptr;
    const std::uint64_t at = type == kHashMetadataPreGa || *ttl == 0 ? *ttl : *ttl + minimum - 1;
    if (at > kMaxFieldTime) return nullptr;
    fields.push_back({std::move(*field), std::move(*value), at});
  }
  return timedHashOf(store, key, limits, fields);
}

}  // namespace

namespace {

RdbType rdbTypeOf(const Store::Entry* e) {
  switch (typeOf(Store::kind(e))) {
    case keyloop::Type::Hash: return field_ttl::nextExpiry(e) != kNoExpiry ? kHashMetadata : kHash;
    case keyloop::Type::Set: return collection::isIntset(e) ? kSetIntset : kSet;
    case keyloop::Type::List: return kList;
    case keyloop::Type::Zset: return kZset2;
    case keyloop::Type::Stream: return static_cast<RdbType>(kStreamListpacks2);
    default: return kString;
  }
}

void appendBody(std::string& out, const Store::Entry* e, RdbType type) {
  switch (static_cast<unsigned char>(type)) {
    case kStreamListpacks2: return appendStream(out, Store::object<stream::Stream>(e));
    case kString: return appendRdbString(out, Store::value(e));
    case kHashMetadata: {
      // Redis 7.4's layout: the earliest time, then each field's relative to
      // it (+1; 0: none). Every stored field, expired or not, as Redis saves them.
      const auto minimum = static_cast<std::uint64_t>(field_ttl::nextExpiry(e));
      appendLittleEndian(out, minimum, 8);
      const BucketTable& table = Store::table(e);
      appendRdbLength(out, table.size());
      table.forEach([&](std::string_view f, std::string_view stored) {
        const std::int64_t at = field_ttl::stampOf(stored);
        appendRdbLength(out, at == kNoExpiry ? 0 : static_cast<std::uint64_t>(at) - minimum + 1);
        appendRdbString(out, f);
        appendRdbString(out, field_ttl::valueOf(stored));
      });
      return;
    }
    case kHash:
      appendRdbLength(out, collection::size(e));
      collection::forEach(e, [&](std::string_view f, std::string_view v) {
        appendRdbString(out, f);
        appendRdbString(out, v);
      });
      return;
    case kSetIntset:
      appendRdbLength(out, Store::value(e).size());
      out.append(Store::value(e));
      return;
    case kSet:
      appendRdbLength(out, collection::size(e));
      collection::forEach(e, [&](std::string_view m, std::string_view) { appendRdbString(out, m); });
      return;
    case kList:
      appendRdbLength(out, list::size(e));
      list::forEach(e, [&](std::string_view element) { appendRdbString(out, element); });
      return;
    default:
      appendRdbLength(out, zset::size(e));
      zset::forEach(e, [&](std::string_view member, double s) {
        appendRdbString(out, member);
        appendLittleEndian(out, std::bit_cast<std::uint64_t>(s), 8);
      });
      return;
  }
}

}  // namespace

void appendValue(std::string& out, const Store::Entry* e) {
  const RdbType type = rdbTypeOf(e);
  out.push_back(static_cast<char>(type));
  appendBody(out, e, type);
}

void appendKeyValue(std::string& out, const Store::Entry* e) {
  const RdbType type = rdbTypeOf(e);
  out.push_back(static_cast<char>(type));
  appendRdbString(out, Store::key(e));
  appendBody(out, e, type);
}

Store::Entry* readValue(std::string_view& in, Store& store, std::string_view key, const Limits& limits) {
  if (in.empty()) return nullptr;
  const auto type = static_cast<unsigned char>(in[0]);
  in.remove_prefix(1);
  return readValueOfType(type, in, store, key, limits);
}

bool knownType(unsigned char type) {
  return type <= kZset2 || (type >= kListZiplist && type <= kListQuicklist2) || type == kStreamListpacks2 ||
         type == kSetListpack || (type >= kHashMetadataPreGa && type <= kHashListpackEx);
}

bool needsVersion12(const Store::Entry* e) { return rdbTypeOf(e) == kHashMetadata; }

Store::Entry* readValueOfType(unsigned char typeByte, std::string_view& in, Store& store, std::string_view key,
                              const Limits& limits) {
  Reader r{in};
  const std::optional<unsigned char> type = typeByte;
  switch (*type) {
    case kString: {
      const auto s = r.string();
      return s ? store.set(key, *s, kNoExpiry) : nullptr;
    }
    case kStreamListpacks:
    case kStreamListpacks2: {
      std::unique_ptr<stream::Stream> s = readStream(r, *type == kStreamListpacks2, limits.stream);
      return s ? store.setObject(store.set(key, {}, kNoExpiry), s.release(), Kind::Stream) : nullptr;
    }
    case kHash: {
      const auto n = r.length();
      if (!n || *n == 0) return nullptr;
      return hashOf(store, key, limits, [&](auto visit) {
        for (std::uint64_t i = 0; i < 2 * *n; ++i) {
          const auto s = r.string();
          if (!s) return false;
          visit(*s);
        }
        return true;
      });
    }
    case kHashListpack:
    case kHashZiplist: {
      const auto blob = r.string();
      if (!blob) return nullptr;
      return hashOf(store, key, limits, [&](auto visit) {
        return *type == kHashListpack ? forEachListpackEntry(*blob, visit) : forEachZiplistEntry(*blob, visit);
      });
    }
    case kSet: {
      const auto n = r.length();
      if (!n || *n == 0) return nullptr;
      return setOf(store, key, limits, *n, r);
    }
    case kSetListpack: {
      const auto blob = r.string();
      if (!blob) return nullptr;
      std::vector<std::string> members;
      if (!forEachListpackEntry(*blob, [&](const std::string& m) { members.push_back(m); }) || members.empty()) {
        return nullptr;
      }
      Store::Entry* e = nullptr;
      for (const std::string& m : members) {
        if (e == nullptr) {
          const collection::EmptySet empty = collection::emptySetFor(m);
          e = store.set(key, empty.bytes, kNoExpiry, empty.kind);
        }
        if (!collection::insert(store, e, collection::kSet, limits.set, m)) return nullptr;  // a duplicate
      }
      return e;
    }
    case kHashMetadataPreGa:
    case kHashListpackExPreGa:
    case kHashMetadata:
    case kHashListpackEx:
      return readTimedHash(r, *type, store, key, limits);
    case kSetIntset: {
      const auto blob = r.string();
      if (!blob || !intset::valid(*blob)) return nullptr;
      Store::Entry* e = store.set(key, *blob, kNoExpiry, Kind::SetInts);
      if (collection::size(e) > limits.set.maxIntsetEntries) collection::convertToTable(store, e, collection::kSet);
      return e;
    }
    case kList: {
      const auto n = r.length();
      if (!n || *n == 0) return nullptr;
      Store::Entry* e = emptyList(store, key);
      for (std::uint64_t i = 0; i < *n; ++i) {
        const auto element = r.string();
        if (!element) return nullptr;
        list::push(store, e, list::End::Tail, *element, limits.list);
      }
      return e;
    }
    case kListZiplist: {
      const auto blob = r.string();
      if (!blob) return nullptr;
      Store::Entry* e = emptyList(store, key);
      auto push = [&](const std::string& element) { list::push(store, e, list::End::Tail, element, limits.list); };
      return forEachZiplistEntry(*blob, push) && list::size(e) > 0 ? e : nullptr;
    }
    case kListQuicklist:
    case kListQuicklist2: {
      Store::Entry* e = emptyList(store, key);
      return readQuicklist(r, store, e, limits, *type == kListQuicklist2) && list::size(e) > 0 ? e : nullptr;
    }
    case kZset:
    case kZset2: {
      const auto n = r.length();
      if (!n || *n == 0) return nullptr;
      Store::Entry* e = zset::create(store, key, *n, 0, limits.zset);
      for (std::uint64_t i = 0; i < *n; ++i) {
        const auto member = r.string();
        const auto s = member ? (*type == kZset2 ? r.binaryDouble() : r.textDouble()) : std::nullopt;
        if (!s || std::isnan(*s) || zset::scoreOf(e, *member)) return nullptr;
        zset::put(store, e, *member, *s, limits.zset);
      }
      return e;
    }
    case kZsetZiplist:
    case kZsetListpack: {
      const auto blob = r.string();
      if (!blob) return nullptr;
      return zsetOf(store, key, limits, [&](auto visit) {
        return *type == kZsetListpack ? forEachListpackEntry(*blob, visit) : forEachZiplistEntry(*blob, visit);
      });
    }
    default:
      return nullptr;
  }
}

bool skipValueOfType(unsigned char typeByte, std::string_view& in) {
  Reader r{in};
  const std::optional<unsigned char> type = typeByte;
  // Elements per counted item, and what follows each: a score (3: text,
  // 5: 8 bytes) or a container kind (18).
  std::uint64_t strings = 1;
  switch (*type) {
    case kStreamListpacks:
    case kStreamListpacks2:
      return readStream(r, *type == kStreamListpacks2, stream::Limits{}) != nullptr;
    case kString: case 9: case kListZiplist: case kSetIntset: case kZsetZiplist: case kHashZiplist:
    case kHashListpack: case kZsetListpack: case kSetListpack:
      return r.skipString();
    case kHashListpackEx: case kHashListpackExPreGa:
      return (*type == kHashListpackExPreGa || r.skip(8)) && r.skipString();
    case kHashMetadata: case kHashMetadataPreGa: {
      if (*type == kHashMetadata && !r.skip(8)) return false;
      const auto n = r.length();
      if (!n) return false;
      for (std::uint64_t i = 0; i < *n; ++i) {
        if (!r.length() || !r.skipString() || !r.skipString()) return false;
      }
      return true;
    }
    case kList: case kSet: case kListQuicklist: case kZset: case kZset2: case kListQuicklist2: break;
    case kHash: strings = 2; break;
    default: return false;
  }
  const auto n = r.length();
  if (!n) return false;
  for (std::uint64_t i = 0; i < *n; ++i) {
    if (*type == kListQuicklist2 && !r.length()) return false;
    for (std::uint64_t k = 0; k < strings; ++k) {
      if (!r.skipString()) return false;
    }
    if (*type == kZset2 && !r.skip(8)) return false;
    if (*type == kZset && !r.textDouble()) return false;
  }
  return true;
}

Limits limitsOf(const EncodingConfig& e) {
  return {{e.hashMaxListpackEntries, e.hashMaxListpackValue},
          {e.setMaxListpackEntries, e.setMaxListpackValue, e.setMaxIntsetEntries},
          {e.listMaxListpackSize},
          {e.zsetMaxListpackEntries, e.zsetMaxListpackValue},
          {e.streamNodeMaxBytes, static_cast<long long>(e.streamNodeMaxEntries)}};
}

}  // namespace keyloop::rdb
