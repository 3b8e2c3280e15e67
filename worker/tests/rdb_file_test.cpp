// rdb_file: a file of keyloop's records loads back whole, keeps only the
// keys asked for, and any cut or flipped byte of it is an error (or, with
// the checksum off, at worst a load): never a crash, a hang or a throw.
#include "worker/persistence/rdb_file.h"

#include <gtest/gtest.h>

#include <map>

#include "common/rdb/checksum.h"
#include "worker/keyspace/collection.h"
#include "worker/keyspace/list.h"
#include "worker/keyspace/packed.h"
#include "worker/keyspace/zset.h"

namespace keyloop {
namespace {

const rdb::Limits kLimits = rdb::limitsOf(EncodingConfig{});

// Every type, small and big encodings, with and without expiry.
void fill(Store& s) {
  s.set("str", "hello", kNoExpiry);
  s.set("int", "-12345", 4'000'000'000'000);
  Store::Entry* hash = s.set("hash", packed::emptyValue(), kNoExpiry, Kind::HashPacked);
  Store::Entry* big = s.set("bighash", packed::emptyValue(), kNoExpiry, Kind::HashPacked);
  const collection::EmptySet ints = collection::emptySetFor("1");
  Store::Entry* set = s.set("ints", ints.bytes, kNoExpiry, ints.kind);
  Store::Entry* list = s.set("list", list::emptyValue(), kNoExpiry, Kind::ListPacked);
  Store::Entry* zset = zset::create(s, "zset", 0, 0, kLimits.zset);
  // 130 fields: past hash-max-listpack-entries, so the big hash is a table.
  for (int i = 0; i < 130; ++i) {
    const std::string n = std::to_string(i);
    collection::insert(s, big, collection::kHash, kLimits.hash, n, n);
    if (i >= 20) continue;
    if (i < 3) collection::insert(s, hash, collection::kHash, kLimits.hash, "f" + n, "v" + n);
    collection::insert(s, set, collection::kSet, kLimits.set, n);
    list::push(s, list, list::End::Tail, "e" + n, kLimits.list);
    zset::put(s, zset, "m" + n, i * 0.5, kLimits.zset);
  }
}

// `selectDb`: the records go to that database (a SELECTDB before them).
std::string fileOf(Store& s, int selectDb = -1) {
  std::string body;
  std::uint64_t keys = 0;
  if (selectDb >= 0) rdb::appendSelectDb(body, static_cast<std::uint64_t>(selectDb));
  s.forEach(0, [&](const Store::Entry* e) {
    rdb::appendRecord(body, e);
    ++keys;
  });
  const std::string head = rdb::fileHead(1'800'000'000, 0) + rdb::dbHead(keys, 1);
  return head + body + rdb::fileTail(rdb::crc64(rdb::crc64(0, head), body));
}

std::map<std::string, std::string> valuesOf(Store& s) {
  std::map<std::string, std::string> all;
  s.forEach(0, [&](const Store::Entry* e) {
    std::string v;
    rdb::appendValue(v, e);
    all[std::string(Store::key(e))] = v + "@" + std::to_string(Store::expireAt(e));
  });
  return all;
}

std::optional<std::string> load(std::string_view file, Databases& into, bool checksum,
                                std::function<bool(std::string_view)> owns = [](std::string_view) { return true; }) {
  rdb::LoadTarget target{into, kLimits, std::move(owns), nullptr, checksum, 1'000};
  rdb::LoadCounts counts;
  const Status loaded = rdb::loadFile(file, target, counts);
  return loaded ? std::nullopt : std::optional<std::string>(loaded.error());
}

TEST(RdbFile, LoadsBackWhatItSavedAndKeepsOnlyTheKeysAskedFor) {
  Store source;
  fill(source);
  const std::string file = fileOf(source);
  Databases all(16), some(16);
  ASSERT_EQ(load(file, all, true), std::nullopt);
  EXPECT_EQ(valuesOf(all[0]), valuesOf(source));
  ASSERT_EQ(load(file, some, true, [](std::string_view key) { return key.size() == 4; }), std::nullopt);
  EXPECT_EQ(valuesOf(some[0]).size(), 4u);  // "hash", "ints", "list" and "zset"; not "str", "int" or "bighash"
  EXPECT_EQ(valuesOf(some[0]).count("str"), 0u);
}

TEST(RdbFile, SelectDbPutsTheKeysInThatDatabaseAndOneBeyondTheConfiguredOnesRefusesTheFile) {
  Store source;
  fill(source);
  Databases sixteen(16), four(4);
  ASSERT_EQ(load(fileOf(source, 9), sixteen, true), std::nullopt);
  EXPECT_EQ(valuesOf(sixteen[9]), valuesOf(source));
  EXPECT_EQ(sixteen[0].size(), 0u);
  const auto refused = load(fileOf(source, 9), four, true);
  ASSERT_NE(refused, std::nullopt);
  EXPECT_NE(refused->find("database 9"), std::string::npos) << *refused;
  EXPECT_EQ(four.keys(), 0u);
}

TEST(RdbFile, EveryCutAndEveryFlipIsAnErrorNeverACrash) {
  Store source;
  fill(source);
  const std::string file = fileOf(source);
  ASSERT_LT(file.size(), 2000u);  // every byte of it, twice: keep it small
  for (std::size_t cut = 0; cut < file.size(); ++cut) {
    Databases into(16);
    EXPECT_NE(load(std::string_view(file).substr(0, cut), into, true), std::nullopt) << "cut at " << cut;
  }
  for (std::size_t at = 0; at < file.size(); ++at) {
    for (unsigned char mask : {0x01, 0xff}) {
      std::string flipped = file;
      flipped[at] = static_cast<char>(flipped[at] ^ mask);
      Databases checked(16), unchecked(16);
      EXPECT_NE(load(flipped, checked, true), std::nullopt) << "flip at " << at;
      load(flipped, unchecked, false);  // anything but a crash
    }
  }
}

}  // namespace
}  // namespace keyloop
