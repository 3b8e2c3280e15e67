// ScoreTree: the order of a big sorted set: (score, member) tuples in a
// B+tree whose leaves are packed runs of up to kLeafMax tuples (the same
// bytes as a small sorted set: [count][member][score]...) and whose inner
// nodes know each child's element count and smallest tuple. Rank, insert,
// erase and "how many come before this bound" are O(log n); walks from a
// rank follow the leaves' links.
//
// Why a B+tree and not Redis's skiplist: memory and cache. A skiplist node
// costs its member's copy plus about 48 bytes of score, pointers and
// spans, and every step of a search is a cache miss; a leaf tuple costs
// the member plus its score's few bytes, and a search touches a handful
// of nodes (see RESULTS.md, loadtest/lists-zsets).
//
// Scores are kept as packed elements: the double's big-endian bits with
// the trailing zero bytes dropped (1.0 takes 2 bytes, 1700000000123 six).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace keyloop {

namespace score {
// The element bytes of `value` written to `out` (at most 8); their length.
std::size_t encode(double value, char* out);
std::string encoded(double value);
double decode(std::string_view bytes);
// The sorted-set order: by score, then by member bytes.
inline bool before(double s1, std::string_view m1, double s2, std::string_view m2) {
  return s1 < s2 || (s1 == s2 && m1 < m2);
}
}  // namespace score

class ScoreTree {
 public:
  ScoreTree();
  ~ScoreTree();
  ScoreTree(const ScoreTree&) = delete;
  ScoreTree& operator=(const ScoreTree&) = delete;

  std::size_t size() const;
  void insert(double score, std::string_view member);
  bool erase(double score, std::string_view member);
  // How many tuples satisfy `before`, which must hold for a prefix of the
  // order and fail for the rest (a rank, or a range's bound).
  using Before = std::function<bool(double score, std::string_view member)>;
  std::size_t prefixCount(const Before& before) const;
  // Calls visit(rank, score, member) from `rank` on, forwards or
  // backwards, until it returns false or the tuples end.
  using Visit = std::function<bool(std::size_t rank, double score, std::string_view member)>;
  void walk(std::size_t rank, bool backwards, const Visit& visit) const;
  std::size_t bytes() const;  // from malloc (MEMORY USAGE)

  struct Node;

 private:
  std::unique_ptr<Node> root_;
};

}  // namespace keyloop
