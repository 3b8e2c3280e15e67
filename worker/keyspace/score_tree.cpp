#include "worker/keyspace/score_tree.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#include "worker/keyspace/chunk.h"
#include "worker/keyspace/packed.h"

namespace keyloop {

namespace score {

std::size_t encode(double value, char* out) {
  const std::uint64_t bits = std::bit_cast<std::uint64_t>(value);
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((bits >> (56 - 8 * i)) & 0xFF);
  std::size_t n = 8;
  while (n > 0 && bytes[n - 1] == 0) --n;
  std::memcpy(out, bytes, n);
  return n;
}

std::string encoded(double value) {
  char bytes[8];
  return std::string(bytes, encode(value, bytes));
}

double decode(std::string_view bytes) {
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < 8; ++i) bits = (bits << 8) | (i < bytes.size() ? static_cast<unsigned char>(bytes[i]) : 0);
  return std::bit_cast<double>(bits);
}

}  // namespace score

namespace {

constexpr std::uint32_t kLeafMax = 32;  // a leaf is scanned, not searched: short ones are faster
constexpr std::size_t kInnerMax = 64;
constexpr std::size_t kHeader = packed::kPackedHeader;

struct Tuple {
  double score;
  std::string_view member;
  std::size_t begin, end;
};

// A leaf's tuple is [score: 8 bytes][member as a packed element]: the
// score comes first and whole, so a scan compares it with one load and
// reads the member only to step over it (or on a tie).
Tuple readAt(std::string_view bytes, std::size_t at) {
  double s;
  std::memcpy(&s, bytes.data() + at, sizeof s);
  const char* p = bytes.data() + at + sizeof s;
  const std::string_view member = packed::readElement(p);
  return {s, member, at, static_cast<std::size_t>(p - bytes.data())};
}

std::string tupleBytes(double s, std::string_view member) {
  std::string out(reinterpret_cast<const char*>(&s), sizeof s);
  packed::appendElement(out, member);
  return out;
}

}  // namespace

struct ScoreTree::Node {
  struct Child {
    std::unique_ptr<Node> node;
    std::size_t count = 0;
    double minScore = 0;
    std::string minMember;
  };
  bool leaf = true;
  Chunk tuples;                    // a leaf's
  Node *prev = nullptr, *next = nullptr;  // a leaf's neighbours in order
  std::vector<Child> children;     // an inner node's
  // The children's minimum scores side by side: a search reads a cache
  // line or two of them, not one Child (and its string) per step.
  std::vector<double> minScores;

  void syncMins() {
    minScores.resize(children.size());
    for (std::size_t i = 0; i < children.size(); ++i) minScores[i] = children[i].minScore;
  }
  // Whether (s, m) comes before child k's minimum.
  bool beforeChild(double s, std::string_view m, std::size_t k) const {
    return s < minScores[k] || (s == minScores[k] && m < children[k].minMember);
  }

  std::size_t count() const {
    if (leaf) return tuples.count();
    std::size_t n = 0;
    for (const Child& c : children) n += c.count;
    return n;
  }
  void setMin(Child& c) const {
    const Node* n = c.node.get();
    while (!n->leaf) n = n->children.front().node.get();
    if (n->tuples.count() == 0) return;
    const Tuple t = readAt(n->tuples.bytes(), kHeader);
    c.minScore = t.score;
    c.minMember.assign(t.member);
  }
  // The child a tuple belongs in: the last whose minimum is not after it.
  std::size_t childFor(double s, std::string_view m) const {
    std::size_t lo = 1, hi = children.size();  // the first child after (s, m) is in [lo, hi]
    while (lo < hi) {
      const std::size_t mid = (lo + hi) / 2;
      if (beforeChild(s, m, mid)) hi = mid;
      else lo = mid + 1;
    }
    return lo - 1;
  }
  // How many children lie wholly before the prefix's end: the first child
  // past it is the last whose minimum still holds `before` (a partition).
  template <typename Before>
  std::size_t lastChildHolding(const Before& before) const {
    std::size_t lo = 1, hi = children.size();
    while (lo < hi) {
      const std::size_t mid = (lo + hi) / 2;
      if (before(minScores[mid], children[mid].minMember)) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }
};

namespace {

using Node = ScoreTree::Node;

// Splits a full node in two; returns the new right half.
std::unique_ptr<Node> splitNode(Node& n) {
  auto right = std::make_unique<Node>();
  right->leaf = n.leaf;
  if (n.leaf) {
    const std::uint32_t keep = n.tuples.count() / 2;
    std::size_t at = kHeader;
    for (std::uint32_t i = 0; i < keep; ++i) at = readAt(n.tuples.bytes(), at).end;
    std::string tail(kHeader, '\0');
    tail.append(n.tuples.bytes().substr(at));
    packed::setCount(tail.data(), n.tuples.count() - keep);
    right->tuples = Chunk(tail);
    n.tuples.splice(at, n.tuples.bytes().size() - at, {});
    n.tuples.setCount(keep);
    right->next = n.next;
    right->prev = &n;
    if (n.next) n.next->prev = right.get();
    n.next = right.get();
  } else {
    const std::size_t keep = n.children.size() / 2;
    for (std::size_t i = keep; i < n.children.size(); ++i) right->children.push_back(std::move(n.children[i]));
    n.children.resize(keep);
    n.syncMins();
    right->syncMins();
  }
  return right;
}

// Inserts into the subtree; returns a new right sibling if `n` split.
std::unique_ptr<Node> insertInto(Node& n, double s, std::string_view m) {
  if (n.leaf) {
    std::size_t at = kHeader;
    const std::string_view bytes = n.tuples.bytes();
    while (at < bytes.size()) {
      const Tuple t = readAt(bytes, at);
      if (score::before(s, m, t.score, t.member)) break;
      at = t.end;
    }
    n.tuples.splice(at, 0, tupleBytes(s, m));
    n.tuples.setCount(n.tuples.count() + 1);
    return n.tuples.count() > kLeafMax ? splitNode(n) : nullptr;
  }
  const std::size_t i = n.childFor(s, m);
  Node::Child& child = n.children[i];
  std::unique_ptr<Node> split = insertInto(*child.node, s, m);
  ++child.count;
  if (child.count == 1 || (i == 0 && score::before(s, m, child.minScore, child.minMember))) {
    child.minScore = s;  // the new tuple is the child's first
    child.minMember.assign(m);
    n.minScores[i] = s;
  }
  if (split) {
    Node::Child added;
    added.count = split->count();
    added.node = std::move(split);
    n.setMin(added);
    n.children[i].count -= added.count;
    n.children.insert(n.children.begin() + static_cast<std::ptrdiff_t>(i) + 1, std::move(added));
    n.syncMins();
  }
  return n.children.size() > kInnerMax ? splitNode(n) : nullptr;
}

void unlinkLeaf(Node& leaf) {
  if (leaf.prev) leaf.prev->next = leaf.next;
  if (leaf.next) leaf.next->prev = leaf.prev;
}

// Merges child i+1 of `n` into child i when both are small leaves.
void mergeLeaves(Node& n, std::size_t i) {
  if (i + 1 >= n.children.size()) return;
  Node& a = *n.children[i].node;
  Node& b = *n.children[i + 1].node;
  if (!a.leaf || a.tuples.count() + b.tuples.count() > kLeafMax / 2) return;
  a.tuples.splice(a.tuples.bytes().size(), 0, b.tuples.bytes().substr(kHeader));
  a.tuples.setCount(a.tuples.count() + b.tuples.count());
  n.children[i].count += n.children[i + 1].count;
  unlinkLeaf(b);
  n.children.erase(n.children.begin() + static_cast<std::ptrdiff_t>(i) + 1);
  n.syncMins();
}

bool eraseFrom(Node& n, double s, std::string_view m) {
  if (n.leaf) {
    const std::string_view bytes = n.tuples.bytes();
    for (std::size_t at = kHeader; at < bytes.size();) {
      const Tuple t = readAt(bytes, at);
      if (t.score == s && t.member == m) {
        n.tuples.splice(t.begin, t.end - t.begin, {});
        n.tuples.setCount(n.tuples.count() - 1);
        return true;
      }
      if (score::before(s, m, t.score, t.member)) return false;
      at = t.end;
    }
    return false;
  }
  const std::size_t i = n.childFor(s, m);
  Node::Child& child = n.children[i];
  if (!eraseFrom(*child.node, s, m)) return false;
  if (--child.count == 0) {
    if (child.node->leaf) unlinkLeaf(*child.node);
    n.children.erase(n.children.begin() + static_cast<std::ptrdiff_t>(i));
    n.syncMins();
    return true;
  }
  if (s == child.minScore && m == child.minMember) {  // its first went
    n.setMin(child);
    n.minScores[i] = child.minScore;
  }
  if (i > 0) mergeLeaves(n, i - 1);
  if (i < n.children.size()) mergeLeaves(n, std::min(i, n.children.size() - 1));
  return true;
}

std::size_t bytesOf(const Node& n) {
  std::size_t total = sizeof(Node) + n.tuples.allocated() + n.children.capacity() * sizeof(Node::Child) +
                      n.minScores.capacity() * sizeof(double);
  for (const Node::Child& c : n.children) total += c.minMember.capacity() > 15 ? c.minMember.capacity() + 1 : 0;
  for (const Node::Child& c : n.children) total += bytesOf(*c.node);
  return total;
}

}  // namespace

ScoreTree::ScoreTree() : root_(std::make_unique<Node>()) {}
ScoreTree::~ScoreTree() = default;

std::size_t ScoreTree::size() const { return root_->count(); }

void ScoreTree::insert(double s, std::string_view m) {
  std::unique_ptr<Node> split = insertInto(*root_, s, m);
  if (!split) return;
  auto root = std::make_unique<Node>();
  root->leaf = false;
  Node::Child left, right;
  left.count = root_->count();
  left.node = std::move(root_);
  right.count = split->count();
  right.node = std::move(split);
  root->setMin(left);
  root->setMin(right);
  root->children.push_back(std::move(left));
  root->children.push_back(std::move(right));
  root->syncMins();
  root_ = std::move(root);
}

bool ScoreTree::erase(double s, std::string_view m) {
  if (!eraseFrom(*root_, s, m)) return false;
  while (!root_->leaf && root_->children.size() == 1) {
    std::unique_ptr<Node> only = std::move(root_->children.front().node);
    root_ = std::move(only);
  }
  if (!root_->leaf && root_->children.empty()) root_ = std::make_unique<Node>();
  return true;
}

std::size_t ScoreTree::prefixCount(const Before& before) const {
  std::size_t count = 0;
  const Node* n = root_.get();
  while (!n->leaf) {
    const std::size_t i = n->lastChildHolding(before);
    for (std::size_t j = 0; j < i; ++j) count += n->children[j].count;
    n = n->children[i].node.get();
  }
  const std::string_view bytes = n->tuples.bytes();
  for (std::size_t at = kHeader; at < bytes.size();) {
    const Tuple t = readAt(bytes, at);
    if (!before(t.score, t.member)) break;
    ++count;
    at = t.end;
  }
  return count;
}

void ScoreTree::walk(std::size_t rank, bool backwards, const Visit& visit) const {
  if (rank >= size()) return;
  const Node* n = root_.get();
  std::size_t skip = rank;
  while (!n->leaf) {
    std::size_t i = 0;
    while (skip >= n->children[i].count) skip -= n->children[i++].count;
    n = n->children[i].node.get();
  }
  std::vector<std::size_t> offsets;  // a leaf's tuple starts, for walking it backwards
  for (std::size_t r = rank; n != nullptr; n = backwards ? n->prev : n->next) {
    const std::string_view bytes = n->tuples.bytes();
    offsets.clear();
    for (std::size_t at = kHeader; at < bytes.size(); at = readAt(bytes, at).end) offsets.push_back(at);
    if (!backwards) {
      for (std::size_t i = skip; i < offsets.size(); ++i, ++r) {
        const Tuple t = readAt(bytes, offsets[i]);
        if (!visit(r, t.score, t.member)) return;
      }
      skip = 0;
    } else {
      const std::size_t from = skip == SIZE_MAX ? offsets.size() : skip + 1;
      for (std::size_t i = from; i-- > 0; --r) {
        const Tuple t = readAt(bytes, offsets[i]);
        if (!visit(r, t.score, t.member) || r == 0) return;
      }
      skip = SIZE_MAX;
    }
  }
}

std::size_t ScoreTree::bytes() const { return sizeof(ScoreTree) + bytesOf(*root_); }

}  // namespace keyloop
