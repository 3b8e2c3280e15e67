// The checks RDB data carries: CRC-64 (Jones polynomial, reflected, as
// Redis's crc64.c: crc64(0, "123456789") = 0xe9c6d914c4b8d9ca), and LZF
// decompression for the compressed strings Redis writes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keyloop::rdb {

std::uint64_t crc64(std::uint64_t crc, std::string_view bytes);

// LZF-compressed `in` expanded to exactly `length` bytes; nullopt if it is
// malformed or does not come out that long.
std::optional<std::string> lzfDecompress(std::string_view in, std::size_t length);

}  // namespace keyloop::rdb
