#include "worker/rdb/dump.h"

#include "worker/rdb/checksum.h"
#include "worker/rdb/value_codec.h"

namespace keyloop::rdb {

namespace {
constexpr std::size_t kFooter = 10;
}

std::string dumpPayload(const Store::Entry* e) {
  std::string out;
  appendValue(out, e);
  return sealPayload(std::move(out));
}

std::string sealPayload(std::string out) {
  out.push_back(static_cast<char>(kVersion & 0xff));
  out.push_back(static_cast<char>((kVersion >> 8) & 0xff));
  const std::uint64_t crc = crc64(0, out);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  return out;
}

std::optional<std::string_view> verifiedValue(std::string_view payload) {
  if (payload.size() < kFooter) return std::nullopt;
  const std::string_view footer = payload.substr(payload.size() - kFooter);
  const int version = static_cast<unsigned char>(footer[0]) | static_cast<unsigned char>(footer[1]) << 8;
  if (version > kVersion) return std::nullopt;
  const std::uint64_t crc = crc64(0, payload.substr(0, payload.size() - 8));
  for (int i = 0; i < 8; ++i) {
    if (static_cast<unsigned char>(footer[2 + static_cast<std::size_t>(i)]) != ((crc >> (8 * i)) & 0xff)) return std::nullopt;
  }
  return payload.substr(0, payload.size() - kFooter);
}

}  // namespace keyloop::rdb
