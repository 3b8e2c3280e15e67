// LCS: the longest common subsequence of two strings, with Redis's table
// walk (so that its IDX ranges come out in the same order).
#include <cstdint>

#include "worker/commands/commands.h"
#include "worker/execution/command_families.h"

namespace keyloop::commands {

void lcs(CommandContext& ctx) {
  const auto& args = ctx.args;
  const Store::Entry* ea = lookupRead(ctx, args[1]);
  const Store::Entry* eb = lookupRead(ctx, args[2]);
  if ((ea && typeOf(Store::kind(ea)) != Type::String) || (eb && typeOf(Store::kind(eb)) != Type::String)) {
    return ctx.reply.error("ERR The specified keys must contain string values");
  }
  const std::string_view a = ea ? Store::value(ea) : std::string_view{};
  const std::string_view b = eb ? Store::value(eb) : std::string_view{};
  bool getLen = false, getIdx = false, withMatchLen = false;
  long long minMatchLen = 0;
  for (std::size_t j = 3; j < args.size(); ++j) {
    const bool more = j + 1 < args.size();
    if (equalsIgnoreCase(args[j], "idx")) {
      getIdx = true;
    } else if (equalsIgnoreCase(args[j], "len")) {
      getLen = true;
    } else if (equalsIgnoreCase(args[j], "withmatchlen")) {
      withMatchLen = true;
    } else if (equalsIgnoreCase(args[j], "minmatchlen") && more) {
      auto n = parseInteger(args[++j]);
      if (!n) return ctx.reply.error(kNotInteger);
      minMatchLen = *n < 0 ? 0 : *n;
    } else {
      return ctx.reply.error(kSyntaxError);
    }
  }
  if (getLen && getIdx) return ctx.reply.error("ERR If you want both the length and indexes, please just use IDX.");
  const auto alen = static_cast<std::uint32_t>(a.size()), blen = static_cast<std::uint32_t>(b.size());
  const std::uint64_t cells = std::uint64_t{alen + 1} * (blen + 1);
  if (cells * sizeof(std::uint32_t) > ctx.worker.config().protoMaxBulkLen) {
    return ctx.reply.error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
  }
  std::vector<std::uint32_t> table(cells, 0);
  auto at = [&](std::uint32_t i, std::uint32_t j) -> std::uint32_t& { return table[j + i * std::uint64_t{blen + 1}]; };
  for (std::uint32_t i = 1; i <= alen; ++i) {
    for (std::uint32_t j = 1; j <= blen; ++j) {
      at(i, j) = a[i - 1] == b[j - 1] ? at(i - 1, j - 1) + 1 : std::max(at(i - 1, j), at(i, j - 1));
    }
  }
  const std::uint32_t length = at(alen, blen);
  if (getLen) return ctx.reply.integer(length);
  // Walk back from the end, collecting the string and the matched ranges.
  std::string result(length, '\0');
  struct Range {
    std::uint32_t aStart, aEnd, bStart, bEnd;
  };
  std::vector<Range> ranges;
  std::uint32_t idx = length, i = alen, j = blen;
  std::uint32_t aStart = alen, aEnd = 0, bStart = 0, bEnd = 0;  // aStart == alen: no range open
  while (i > 0 && j > 0) {
    bool emit = false;
    if (a[i - 1] == b[j - 1]) {
      result[idx - 1] = a[i - 1];
      if (aStart == alen) {
        aStart = aEnd = i - 1;
        bStart = bEnd = j - 1;
      } else if (aStart == i && bStart == j) {
        --aStart;
        --bStart;
      } else {
        emit = true;
      }
      if (aStart == 0 || bStart == 0) emit = true;
      --idx;
      --i;
      --j;
    } else {
      if (at(i - 1, j) > at(i, j - 1)) --i;
      else --j;
      if (aStart != alen) emit = true;
    }
    if (emit) {
      const std::uint32_t matchLen = aEnd - aStart + 1;
      if (minMatchLen == 0 || matchLen >= minMatchLen) ranges.push_back({aStart, aEnd, bStart, bEnd});
      aStart = alen;
    }
  }
  if (!getIdx) return ctx.reply.bulk(result);
  ctx.reply.map(2);
  ctx.reply.bulk("matches");
  ctx.reply.array(ranges.size());
  for (const Range& r : ranges) {
    ctx.reply.array(2 + (withMatchLen ? 1 : 0));
    ctx.reply.array(2);
    ctx.reply.integer(r.aStart);
    ctx.reply.integer(r.aEnd);
    ctx.reply.array(2);
    ctx.reply.integer(r.bStart);
    ctx.reply.integer(r.bEnd);
    if (withMatchLen) ctx.reply.integer(r.aEnd - r.aStart + 1);
  }
  ctx.reply.bulk("len");
  ctx.reply.integer(length);
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> lcsCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "lcs", .arity = -3, .flags = kReadonly, .acl = acl::kString,
       .keys = {1, 2, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RO access", .handler = lcs},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
