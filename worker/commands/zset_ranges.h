// What the sorted-set, geo and SORT commands share: a (member, score)
// pair, score and lex ranges parsed as Redis parses them (zslParseRange,
// zslParseLexRange), the ranks a range covers, and writing a result set.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "worker/commands/commands.h"

namespace keyloop::commands {

struct Scored {
  std::string member;
  double score;
};

// min / max of ZRANGEBYSCORE: "(1.5" is exclusive; nullopt: not a float.
struct ScoreRange {
  double min, max;
  bool minExclusive = false, maxExclusive = false;
};
std::optional<ScoreRange> parseScoreRange(std::string_view min, std::string_view max);

// min / max of ZRANGEBYLEX: "[a" inclusive, "(a" exclusive, "-" and "+"
// the ends; nullopt: not a valid item.
struct LexBound {
  std::string value;
  bool exclusive = false;
  int infinity = 0;  // -1: "-", +1: "+"
};
struct LexRange {
  LexBound min, max;
};
std::optional<LexRange> parseLexRange(std::string_view min, std::string_view max);

// The ranks [first, end) of the tuples inside the range.
struct Ranks {
  std::size_t first = 0, end = 0;
  std::size_t size() const { return end > first ? end - first : 0; }
};
Ranks ranksOf(const Store::Entry* e, const ScoreRange& range);
Ranks ranksOf(const Store::Entry* e, const LexRange& range, bool reverse);

// Replaces `key` with a sorted set of `items` (none: deletes it), packed
// when small as Redis's STORE commands do; returns how many it holds.
std::size_t storeScored(CommandContext& ctx, std::string_view key, const std::vector<Scored>& items);
// Members with scores as ZRANGE replies them: RESP2 a flat array
// (member, score...), RESP3 an array of pairs.
void replyScored(CommandContext& ctx, const std::vector<Scored>& items, bool withScores);
// The same in two steps, for a reply produced as it is drawn.
void replyScoredHeader(CommandContext& ctx, std::size_t items, bool withScores);
void replyScoredItem(CommandContext& ctx, const Scored& item, bool withScores);
// A score as ZSCAN prints it (Redis's "%.17g" text, inf and -inf).
std::string scoreText(double s);

}  // namespace keyloop::commands
