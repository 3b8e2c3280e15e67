#include "worker/persistence/rdb_file.h"

#include <cstring>
#include <utility>

#include "common/rdb/checksum.h"

namespace keyloop::rdb {

namespace {

// What a type byte names, for the error of one keyloop cannot hold.
std::string typeName(unsigned char type) {
  switch (type) {
    case 6: case 7: return "a module value (type " + std::to_string(type) + ")";
    case 15: case 19: case 21: return "a stream (type " + std::to_string(type) + ")";
    default: return "an unknown type " + std::to_string(type);
  }
}

// The walk over a file's opcodes and records, with the position for errors.
class Loader {
 public:
  Loader(std::string_view file, LoadTarget& target, LoadCounts& counts)
      : file_(file), in_(file), target_(target), counts_(counts) {}

  Status run() {
    if (in_.size() < 9 || in_.substr(0, 5) != "REDIS") return fail("not an RDB file (no REDIS signature)");
    int version = 0;
    for (char c : in_.substr(5, 4)) {
      if (c < '0' || c > '9') return fail("not an RDB file (bad version digits)");
      version = version * 10 + (c - '0');
    }
    if (version < 1 || version > kReadableVersion) return fail("can't handle RDB format version " + std::to_string(version));
    in_.remove_prefix(9);
    std::int64_t expireAt = kNoExpiry;
    while (true) {
      if (in_.empty()) return at("the file ends before its EOF marker (truncated)");
      const auto op = static_cast<unsigned char>(in_[0]);
      in_.remove_prefix(1);
      switch (op) {
        case kEof: return checksum(version);
        case kAux:
          if (!readRdbString(in_) || !readRdbString(in_)) return at("a malformed aux field");
          continue;
        case kResizeDb:
          if (!readRdbLength(in_) || !readRdbLength(in_)) return at("a malformed RESIZEDB");
          continue;
        case kSelectDb: {
          const auto db = readRdbLength(in_);
          if (!db) return at("a malformed SELECTDB");
          if (*db >= static_cast<std::uint64_t>(target_.databases.count())) {
            return at("keys of database " + std::to_string(*db) + ": the file was made by a server with more than " +
                      std::to_string(target_.databases.count()) + " databases (databases in the config)");
          }
          store_ = &target_.databases[static_cast<int>(*db)];
          continue;
        }
        case kExpireMs:
        case kExpireSeconds: {
          const int bytes = op == kExpireMs ? 8 : 4;
          if (in_.size() < static_cast<std::size_t>(bytes)) return at("a cut-off expiry");
          expireAt = static_cast<std::int64_t>(littleEndian(in_, 0, bytes)) * (op == kExpireMs ? 1 : 1000);
          in_.remove_prefix(static_cast<std::size_t>(bytes));
          continue;
        }
        case kIdle:
          if (!readRdbLength(in_)) return at("a malformed idle time");
          continue;
        case kFreq:
          if (in_.empty()) return at("a cut-off frequency");
          in_.remove_prefix(1);
          continue;
        case kFunction2: {
          const auto code = readRdbString(in_);
          if (!code) return at("a malformed function library");
          if (target_.onLibrary) {
            if (Status loaded = target_.onLibrary(*code); !loaded) {
              return at("a function library that does not load: " + loaded.error());
            }
          }
          continue;
        }
        case kFunctionOld: return at("a function of a pre-release RDB format (opcode 246)");
        case kModuleAux: return at("module data (keyloop has no modules)");
        default: break;
      }
      if (Status error = record(op, std::exchange(expireAt, kNoExpiry)); !error) return error;
    }
  }

 private:
  // One key's record, its type byte read: kept, skipped (expired, or
  // another worker's), or the reason the file is refused.
  Status record(unsigned char type, std::int64_t expireAt) {
    const auto key = readRdbString(in_);
    if (!key) return at("a malformed key");
    ++keyIndex_;
    const bool expired = expireAt != kNoExpiry && expireAt <= target_.nowMs;
    if (expired || !target_.owns(*key)) {
      if (!skipValueOfType(type, in_)) return failure(type, *key);
      ++(expired ? counts_.expired : counts_.notOurs);
      return {};
    }
    if (store_->find(*key, 0) != nullptr) return at("the key '" + *key + "' twice");
    Store::Entry* e = readValueOfType(type, in_, *store_, *key, target_.limits);
    if (e == nullptr) return failure(type, *key);
    if (expireAt != kNoExpiry) store_->setExpire(e, expireAt);
    ++counts_.loaded;
    return {};
  }

  Status failure(unsigned char type, const std::string& key) {
    if (!knownType(type)) return at("key '" + key + "' holds " + typeName(type) + ", which keyloop cannot hold");
    return at("a malformed or cut-off value of key '" + key + "'");
  }

  Status checksum(int version) {
    if (version < 5) return {};  // no checksum before RDB 5
    if (in_.size() < 8) return at("a cut-off checksum (truncated)");
    const std::uint64_t stored = littleEndian(in_, 0, 8);
    if (stored == 0 || !target_.verifyChecksum) return {};  // Redis writes 0 with rdbchecksum no
    const std::uint64_t actual = crc64(0, file_.substr(0, file_.size() - in_.size()));
    if (actual != stored) return fail("wrong RDB checksum: the file is damaged");
    return {};
  }

  Failure at(const std::string& what) const {
    return fail(what + " at byte " + std::to_string(file_.size() - in_.size()) + " (after " +
                std::to_string(keyIndex_) + " keys)");
  }

  std::string_view file_, in_;
  LoadTarget& target_;
  Store* store_ = &target_.databases[0];  // SELECTDB's
  LoadCounts& counts_;
  std::uint64_t keyIndex_ = 0;
};

}  // namespace

void appendRecord(std::string& out, const Store::Entry* e) {
  if (const std::int64_t at = Store::expireAt(e); at != kNoExpiry) {
    out.push_back(static_cast<char>(kExpireMs));
    appendLittleEndian(out, static_cast<std::uint64_t>(at), 8);
  }
  appendKeyValue(out, e);
}

void appendSelectDb(std::string& out, std::uint64_t db) {
  out.push_back(static_cast<char>(kSelectDb));
  appendRdbLength(out, db);
}

void appendFunctionLibrary(std::string& out, std::string_view code) {
  out.push_back(static_cast<char>(kFunction2));
  appendRdbString(out, code);
}

Status loadFile(std::string_view file, LoadTarget& target, LoadCounts& counts) {
  return Loader(file, target, counts).run();
}

}  // namespace keyloop::rdb
