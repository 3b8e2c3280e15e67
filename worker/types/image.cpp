#include "worker/types/image.h"

#include "worker/types/collection.h"

namespace keyloop {

namespace {

constexpr auto kLastKind = static_cast<unsigned>(Kind::SetTable);

Kind packedKindOf(Kind tableKind) { return tableKind == Kind::HashTable ? Kind::HashPacked : Kind::SetPacked; }

}  // namespace

void appendImage(std::string& out, const Store::Entry* e) {
  const Kind kind = Store::kind(e);
  out.push_back(static_cast<char>(kind));
  if (!ownsObject(kind)) {
    out.append(Store::value(e));
    return;
  }
  const BucketTable& table = Store::table(e);
  const std::size_t header = out.size();
  out.append(packed::kPackedHeader, '\0');
  table.forEach([&](std::string_view k, std::string_view v) { packed::appendTuple(out, k, v, table.width()); });
  packed::setCount(out.data() + header, static_cast<std::uint32_t>(table.size()));
}

void appendEmptyImage(std::string& out, Kind tableKind) {
  out.push_back(static_cast<char>(tableKind));
  out.append(packed::kPackedHeader, '\0');
}

std::uint64_t appendPart(std::string& out, Kind tableKind, const BucketTable& table, std::uint64_t cursor) {
  const std::size_t header = out.size() + 1;
  appendEmptyImage(out, tableKind);
  std::uint32_t count = 0;
  cursor = table.scan(cursor, kTuplesPerPart / BucketTable::kLoad, [&](std::string_view k, std::string_view v) {
    packed::appendTuple(out, k, v, table.width());
    ++count;
  });
  packed::setCount(out.data() + header, count);
  return cursor;
}

bool addPart(Store::Entry* e, std::string_view part) {
  if (part.size() < 1 + packed::kPackedHeader || static_cast<Kind>(part[0]) != Store::kind(e) || !ownsObject(Store::kind(e))) {
    return false;
  }
  BucketTable& table = Store::table(e);
  packed::forEachTuple(part.substr(1), packed::kPackedHeader, table.width(), [&](const packed::Tuple& t) {
    table.insert(t.key, t.value);
    return true;
  });
  return true;
}

Store::Entry* restoreImage(Store& store, std::string_view key, std::string_view image, std::int64_t expireAtMs) {
  if (image.empty() || static_cast<unsigned char>(image[0]) > kLastKind) return nullptr;
  const Kind kind = static_cast<Kind>(image[0]);
  const std::string_view bytes = image.substr(1);
  if (!ownsObject(kind)) return store.set(key, bytes, expireAtMs, kind);
  if (bytes.size() < packed::kPackedHeader) return nullptr;
  BucketTable* table = collection::tableOf(bytes, kind == Kind::HashTable ? 2 : 1);
  Store::Entry* e = store.set(key, packed::emptyValue(), expireAtMs, packedKindOf(kind));
  return store.setTable(e, table, kind);
}

}  // namespace keyloop
