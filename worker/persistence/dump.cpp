#include "worker/persistence/dump.h"

#include "common/rdb/checksum.h"
#include "worker/persistence/value_codec.h"

namespace keyloop::rdb {

namespace {
constexpr std::size_t kFooter = 10;
}

std::string dumpPayload(const Store::Entry* e) {
  std::string out;
  appendValue(out, e);
  // Version 12 where Redis 7.0 could not read it: its RESTORE then refuses
  // the payload cleanly, and Redis 7.4's takes it.
  return sealPayload(std::move(out), needsVersion12(e) ? kReadableVersion : kVersion);
}

std::string sealPayload(std::string out, int version) {
  appendLittleEndian(out, static_cast<std::uint64_t>(version), 2);
  appendLittleEndian(out, crc64(0, out), 8);
  return out;
}

std::optional<std::string_view> verifiedValue(std::string_view payload) {
  if (payload.size() < kFooter) return std::nullopt;
  const std::string_view footer = payload.substr(payload.size() - kFooter);
  if (littleEndian(footer, 0, 2) > static_cast<std::uint64_t>(kReadableVersion)) return std::nullopt;
  if (littleEndian(footer, 2, 8) != crc64(0, payload.substr(0, payload.size() - 8))) return std::nullopt;
  return payload.substr(0, payload.size() - kFooter);
}

}  // namespace keyloop::rdb
