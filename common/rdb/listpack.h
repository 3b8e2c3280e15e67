// Redis's listpack (listpack.c), the packed list inside RDB's small hashes,
// sorted sets, quicklist nodes and stream nodes: reading one element by
// element, and writing one (strings that are integers in Redis's integer
// encodings, as lpAppend does, so Redis reads back what it would write).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace keyloop::rdb {

// Calls visit(element) for each element (integers as their text); false
// if the bytes are not a well-formed listpack.
bool forEachListpackEntry(std::string_view lp, const std::function<void(const std::string&)>& visit);

// A two's-complement number of `bits` bits, as text.
std::string signedText(std::uint64_t raw, int bits);

class ListpackWriter {
 public:
  ListpackWriter();
  void add(std::string_view element);
  void addInteger(std::int64_t v);
  std::size_t count() const { return count_; }
  // The finished listpack (header filled in, terminator added).
  std::string finish();

 private:
  void addEncoded(std::string_view encoded);
  std::string out_;
  std::size_t count_ = 0;
};

}  // namespace keyloop::rdb
