// Bitmap commands on string values: SETBIT GETBIT BITCOUNT BITPOS BITOP
// BITFIELD BITFIELD_RO, bit for bit as Redis's bitops.c (bit 0 is the most
// significant bit of the first byte).
#include <bit>
#include <climits>

#include "worker/commands/commands.h"
#include "worker/execution/command_families.h"

namespace keyloop::commands {

namespace {

constexpr std::string_view kBadOffset = "ERR bit offset is not an integer or out of range";

// A bit offset argument; `#N` means N * bits when `bits` is given (BITFIELD).
std::optional<std::uint64_t> bitOffset(CommandContext& ctx, std::string_view arg, int bits = 0) {
  const bool scaled = bits > 0 && !arg.empty() && arg[0] == '#';
  auto v = parseInteger(scaled ? arg.substr(1) : arg);
  if (v && scaled && __builtin_mul_overflow(*v, bits, &*v)) v.reset();
  if (!v || *v < 0 || static_cast<std::uint64_t>(*v >> 3) >= ctx.worker.config().protoMaxBulkLen) {
    ctx.reply.error(kBadOffset);
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(*v);
}

// The string at args[1] for a write, at least `bytes` long (zero-padded);
// nullopt after WRONGTYPE. The value is "raw" from now on.
std::optional<Store::Entry*> bitsForWrite(CommandContext& ctx, std::size_t bytes) {
  auto e = writeAs(ctx, ctx.args[1], Type::String);
  if (!e) return e;
  if (*e == nullptr) *e = ctx.store.set(ctx.args[1], {}, kNoExpiry, Kind::StringRaw);
  if (Store::value(*e).size() < bytes) *e = ctx.store.resizeValue(*e, bytes);
  Store::setKind(*e, Kind::StringRaw);
  return e;
}

long long popcount(const unsigned char* p, std::size_t n) {
  long long count = 0;
  for (std::size_t i = 0; i < n; ++i) count += std::popcount(static_cast<unsigned>(p[i]));
  return count;
}

// Redis's redisBitpos: the first `bit` in p[0..n); for 0 past the end when
// every bit is set, -1 when looking for a 1 that is not there.
long long bitpos(const unsigned char* p, std::size_t n, int bit) {
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char b = bit ? p[i] : static_cast<unsigned char>(~p[i]);
    if (b != 0) return static_cast<long long>(i * 8) + std::countl_zero(b);
  }
  return bit ? -1 : static_cast<long long>(n * 8);
}

// A BITCOUNT/BITPOS range after Redis's conversions: byte positions and
// the masks of the bits outside a BIT range in its edge bytes.
struct BitRange {
  long long start, end;
  unsigned char firstMask = 0, lastMask = 0;
};

BitRange clampRange(long long start, long long end, long long length, bool isBit) {
  long long total = isBit ? length << 3 : length;
  if (start < 0) start = total + start;
  if (end < 0) end = total + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= total) end = total - 1;
  BitRange r{start, end};
  if (isBit && start <= end) {
    r.firstMask = static_cast<unsigned char>(~((1 << (8 - (start & 7))) - 1) & 0xFF);
    r.lastMask = static_cast<unsigned char>((1 << (7 - (end & 7))) - 1);
    r.start >>= 3;
    r.end >>= 3;
  }
  return r;
}

// BYTE or BIT at args[i]; nullopt after a syntax error.
std::optional<bool> unitIsBit(CommandContext& ctx, std::size_t i) {
  if (i >= ctx.args.size() || equalsIgnoreCase(ctx.args[i], "byte")) return false;
  if (equalsIgnoreCase(ctx.args[i], "bit")) return true;
  ctx.reply.error(kSyntaxError);
  return std::nullopt;
}

std::uint64_t getUnsigned(const unsigned char* p, std::uint64_t offset, int bits) {
  std::uint64_t value = 0;
  for (int j = 0; j < bits; ++j, ++offset) {
    value = (value << 1) | ((p[offset >> 3] >> (7 - (offset & 7))) & 1);
  }
  return value;
}

std::int64_t getSigned(const unsigned char* p, std::uint64_t offset, int bits) {
  std::uint64_t u = getUnsigned(p, offset, bits);
  if (bits < 64 && (u & (std::uint64_t{1} << (bits - 1)))) u |= ~std::uint64_t{0} << bits;
  return static_cast<std::int64_t>(u);
}

void setUnsigned(unsigned char* p, std::uint64_t offset, int bits, std::uint64_t value) {
  for (int j = 0; j < bits; ++j, ++offset) {
    const unsigned bit = (value >> (bits - 1 - j)) & 1;
    const unsigned shift = 7 - (offset & 7);
    p[offset >> 3] = static_cast<unsigned char>((p[offset >> 3] & ~(1u << shift)) | (bit << shift));
  }
}

enum class Overflow { Wrap, Sat, Fail };

// Redis's checkUnsignedBitfieldOverflow / checkSignedBitfieldOverflow:
// whether value + incr leaves the field, and what to store then.
bool unsignedOverflows(std::uint64_t value, std::int64_t incr, int bits, Overflow how, std::uint64_t& limit) {
  const std::uint64_t max = bits == 64 ? UINT64_MAX : (std::uint64_t{1} << bits) - 1;
  const auto maxincr = static_cast<std::int64_t>(max - value);
  const auto minincr = static_cast<std::int64_t>(0 - value);
  const bool over = value > max || (incr > 0 && incr > maxincr);
  const bool under = !over && incr < 0 && incr < minincr;
  if (!over && !under) return false;
  if (how == Overflow::Wrap) {
    const std::uint64_t mask = bits == 64 ? 0 : ~std::uint64_t{0} << bits;
    limit = (value + static_cast<std::uint64_t>(incr)) & ~mask;
  } else if (how == Overflow::Sat) {
    limit = over ? max : 0;
  }
  return true;
}

bool signedOverflows(std::int64_t value, std::int64_t incr, int bits, Overflow how, std::int64_t& limit) {
  const std::int64_t max = bits == 64 ? INT64_MAX : (std::int64_t{1} << (bits - 1)) - 1;
  const std::int64_t min = -max - 1;
  const auto maxincr = static_cast<std::int64_t>(static_cast<std::uint64_t>(max) - static_cast<std::uint64_t>(value));
  const auto minincr = static_cast<std::int64_t>(static_cast<std::uint64_t>(min) - static_cast<std::uint64_t>(value));
  const bool over = value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr);
  const bool under =
      !over && (value < min || (bits != 64 && incr < minincr) || (value < 0 && incr < 0 && incr < minincr));
  if (!over && !under) return false;
  if (how == Overflow::Wrap) {
    std::uint64_t c = static_cast<std::uint64_t>(value) + static_cast<std::uint64_t>(incr);
    if (bits < 64) {
      const std::uint64_t mask = ~std::uint64_t{0} << bits;
      c = (c & (std::uint64_t{1} << (bits - 1))) ? c | mask : c & ~mask;
    }
    limit = static_cast<std::int64_t>(c);
  } else if (how == Overflow::Sat) {
    limit = over ? max : min;
  }
  return true;
}

// The width of a BITFIELD type (i1..i64, u1..u63); 0 if it is not one.
int bitfieldWidth(std::string_view type, bool& isSigned) {
  if (type.size() < 2 || (type[0] != 'i' && type[0] != 'u')) return 0;
  isSigned = type[0] == 'i';
  const long long bits = parseInteger(type.substr(1)).value_or(0);
  return bits >= 1 && bits <= (isSigned ? 64 : 63) ? static_cast<int>(bits) : 0;
}

struct FieldOp {
  enum Code { Get, Set, IncrBy } code;
  std::uint64_t offset;
  std::int64_t value;
  Overflow overflow;
  int bits;
  bool isSigned;
};

void bitfieldGeneric(CommandContext& ctx, bool readOnlyCommand) {
  const auto& a = ctx.args;
  std::vector<FieldOp> ops;
  Overflow overflow = Overflow::Wrap;
  std::uint64_t highestWrite = 0;
  bool writes = false;
  for (std::size_t j = 2; j < a.size(); ++j) {
    const std::size_t rest = a.size() - j - 1;
    FieldOp op{};
    if (equalsIgnoreCase(a[j], "get") && rest >= 2) {
      op.code = FieldOp::Get;
    } else if (equalsIgnoreCase(a[j], "set") && rest >= 3) {
      op.code = FieldOp::Set;
    } else if (equalsIgnoreCase(a[j], "incrby") && rest >= 3) {
      op.code = FieldOp::IncrBy;
    } else if (equalsIgnoreCase(a[j], "overflow") && rest >= 1) {
      const std::string_view how = a[++j];
      if (equalsIgnoreCase(how, "wrap")) overflow = Overflow::Wrap;
      else if (equalsIgnoreCase(how, "sat")) overflow = Overflow::Sat;
      else if (equalsIgnoreCase(how, "fail")) overflow = Overflow::Fail;
      else return ctx.reply.error("ERR Invalid OVERFLOW type specified");
      continue;
    } else {
      return ctx.reply.error(kSyntaxError);
    }
    const int bits = bitfieldWidth(a[j + 1], op.isSigned);
    if (bits == 0) {
      return ctx.reply.error(
          "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.");
    }
    op.bits = bits;
    auto offset = bitOffset(ctx, a[j + 2], op.bits);
    if (!offset) return;
    op.offset = *offset;
    if (op.code != FieldOp::Get) {
      writes = true;
      highestWrite = std::max(highestWrite, op.offset + static_cast<std::uint64_t>(op.bits) - 1);
      auto v = parseInteger(a[j + 3]);
      if (!v) return ctx.reply.error(kNotInteger);
      op.value = *v;
    }
    op.overflow = overflow;
    ops.push_back(op);
    j += op.code == FieldOp::Get ? 2 : 3;
  }
  Store::Entry* e = nullptr;
  if (!writes) {
    auto found = readAs(ctx, a[1], Type::String);
    if (!found) return;
    e = *found;
  } else {
    if (readOnlyCommand) return ctx.reply.error("ERR BITFIELD_RO only supports the GET subcommand");
    auto found = bitsForWrite(ctx, (highestWrite >> 3) + 1);
    if (!found) return;
    e = *found;
  }
  ctx.reply.array(ops.size());
  for (const FieldOp& op : ops) {
    if (op.code == FieldOp::Get) {
      // Read through a 9-byte window, zero past the end of the string.
      unsigned char window[9] = {};
      const std::uint64_t byte = op.offset >> 3;
      const std::string_view v = e ? Store::value(e) : std::string_view{};
      for (std::size_t i = 0; i < 9 && byte + i < v.size(); ++i) window[i] = static_cast<unsigned char>(v[byte + i]);
      op.isSigned ? ctx.reply.integer(getSigned(window, op.offset - byte * 8, op.bits))
                  : ctx.reply.integer(static_cast<long long>(getUnsigned(window, op.offset - byte * 8, op.bits)));
      continue;
    }
    auto* p = reinterpret_cast<unsigned char*>(Store::mutableValue(e));
    if (op.isSigned) {
      const std::int64_t old = getSigned(p, op.offset, op.bits);
      std::int64_t wrapped = 0, next;
      bool over;
      if (op.code == FieldOp::IncrBy) {
        over = signedOverflows(old, op.value, op.bits, op.overflow, wrapped);
        next = over ? wrapped : static_cast<std::int64_t>(static_cast<std::uint64_t>(old) + static_cast<std::uint64_t>(op.value));
      } else {
        over = signedOverflows(op.value, 0, op.bits, op.overflow, wrapped);
        next = over ? wrapped : op.value;
      }
      if (over && op.overflow == Overflow::Fail) {
        ctx.reply.null();
        continue;
      }
      ctx.reply.integer(op.code == FieldOp::IncrBy ? next : old);
      setUnsigned(p, op.offset, op.bits, static_cast<std::uint64_t>(next));
    } else {
      const std::uint64_t old = getUnsigned(p, op.offset, op.bits);
      std::uint64_t wrapped = 0, next;
      bool over;
      if (op.code == FieldOp::IncrBy) {
        over = unsignedOverflows(old, op.value, op.bits, op.overflow, wrapped);
        next = over ? wrapped : old + static_cast<std::uint64_t>(op.value);
      } else {
        over = unsignedOverflows(static_cast<std::uint64_t>(op.value), 0, op.bits, op.overflow, wrapped);
        next = over ? wrapped : static_cast<std::uint64_t>(op.value);
      }
      if (over && op.overflow == Overflow::Fail) {
        ctx.reply.null();
        continue;
      }
      ctx.reply.integer(static_cast<long long>(op.code == FieldOp::IncrBy ? next : old));
      setUnsigned(p, op.offset, op.bits, next);
    }
  }
}

}  // namespace

void setbit(CommandContext& ctx) {
  auto offset = bitOffset(ctx, ctx.args[2]);
  if (!offset) return;
  auto on = parseInteger(ctx.args[3]);
  if (!on || (*on & ~1)) return ctx.reply.error("ERR bit is not an integer or out of range");
  auto e = bitsForWrite(ctx, (*offset >> 3) + 1);
  if (!e) return;
  auto* p = reinterpret_cast<unsigned char*>(Store::mutableValue(*e));
  const unsigned shift = 7 - (*offset & 7);
  const unsigned old = (p[*offset >> 3] >> shift) & 1;
  p[*offset >> 3] = static_cast<unsigned char>((p[*offset >> 3] & ~(1u << shift)) | (static_cast<unsigned>(*on) << shift));
  ctx.reply.integer(old);
}

void getbit(CommandContext& ctx) {
  auto offset = bitOffset(ctx, ctx.args[2]);
  if (!offset) return;
  auto e = readAs(ctx, ctx.args[1], Type::String);
  if (!e) return;
  const std::string_view v = *e ? Store::value(*e) : std::string_view{};
  const std::uint64_t byte = *offset >> 3;
  ctx.reply.integer(byte < v.size() ? (static_cast<unsigned char>(v[byte]) >> (7 - (*offset & 7))) & 1 : 0);
}

void bitcount(CommandContext& ctx) {
  const auto& a = ctx.args;
  auto e = readAs(ctx, a[1], Type::String);
  if (!e) return;
  if (*e == nullptr) return ctx.reply.integer(0);
  const auto* p = reinterpret_cast<const unsigned char*>(Store::value(*e).data());
  const auto length = static_cast<long long>(Store::value(*e).size());
  BitRange r{0, length - 1};
  if (a.size() == 4 || a.size() == 5) {
    auto start = parseInteger(a[2]);
    if (!start) return ctx.reply.error(kNotInteger);
    auto end = parseInteger(a[3]);
    if (!end) return ctx.reply.error(kNotInteger);
    if (*start < 0 && *end < 0 && *start > *end) return ctx.reply.integer(0);
    auto isBit = unitIsBit(ctx, 4);
    if (!isBit) return;
    r = clampRange(*start, *end, length, *isBit);
  } else if (a.size() != 2) {
    return ctx.reply.error(kSyntaxError);
  }
  if (r.start > r.end) return ctx.reply.integer(0);
  long long count = popcount(p + r.start, static_cast<std::size_t>(r.end - r.start + 1));
  if (r.firstMask != 0) count -= std::popcount(static_cast<unsigned>(p[r.start] & r.firstMask));
  if (r.lastMask != 0) count -= std::popcount(static_cast<unsigned>(p[r.end] & r.lastMask));
  ctx.reply.integer(count);
}

void bitpos(CommandContext& ctx) {
  const auto& a = ctx.args;
  auto bitArg = parseInteger(a[2]);
  if (!bitArg) return ctx.reply.error(kNotInteger);
  if (*bitArg != 0 && *bitArg != 1) return ctx.reply.error("ERR The bit argument must be 1 or 0.");
  const int bit = static_cast<int>(*bitArg);
  auto e = readAs(ctx, a[1], Type::String);
  if (!e) return;
  if (*e == nullptr) return ctx.reply.integer(bit ? -1 : 0);
  const auto* p = reinterpret_cast<const unsigned char*>(Store::value(*e).data());
  const auto length = static_cast<long long>(Store::value(*e).size());
  BitRange r{0, length - 1};
  bool endGiven = false;
  if (a.size() >= 4 && a.size() <= 6) {
    auto start = parseInteger(a[3]);
    if (!start) return ctx.reply.error(kNotInteger);
    auto isBit = unitIsBit(ctx, 5);
    if (!isBit) return;
    long long end = *isBit ? (length << 3) + 7 : length - 1;
    if (a.size() >= 5) {
      auto given = parseInteger(a[4]);
      if (!given) return ctx.reply.error(kNotInteger);
      end = *given;
      endGiven = true;
    }
    r = clampRange(*start, end, length, *isBit);
  } else if (a.size() != 3) {
    return ctx.reply.error(kSyntaxError);
  }
  if (r.start > r.end) return ctx.reply.integer(-1);
  // Redis's walk: the masked first byte, the whole middle, the masked last byte.
  long long start = r.start, bytes = r.end - r.start + 1, pos = -1;
  auto masked = [&](unsigned char byte, unsigned char mask) {
    return static_cast<unsigned char>(bit ? byte & ~mask : byte | mask);
  };
  [&] {
    if (r.firstMask) {
      unsigned char c = masked(p[start], r.firstMask);
      if (r.lastMask && bytes == 1) c = masked(c, r.lastMask);
      pos = bitpos(&c, 1, bit);
      if (bytes == 1 || (pos != -1 && pos != 8)) return;
      ++start;
      --bytes;
    }
    const long long middle = bytes - (r.lastMask ? 1 : 0);
    if (middle > 0) {
      pos = bitpos(p + start, static_cast<std::size_t>(middle), bit);
      if (bytes == middle || (pos != -1 && pos != middle << 3)) return;
      start += middle;
      bytes -= middle;
    }
    const unsigned char c = masked(p[r.end], r.lastMask);
    pos = bitpos(&c, 1, bit);
  }();
  if (endGiven && bit == 0 && pos == bytes << 3) return ctx.reply.integer(-1);
  if (pos != -1) pos += start << 3;
  ctx.reply.integer(pos);
}

void bitop(CommandContext& ctx) {
  const auto& a = ctx.args;
  enum { And, Or, Xor, Not } op;
  if (equalsIgnoreCase(a[1], "and")) op = And;
  else if (equalsIgnoreCase(a[1], "or")) op = Or;
  else if (equalsIgnoreCase(a[1], "xor")) op = Xor;
  else if (equalsIgnoreCase(a[1], "not")) op = Not;
  else return ctx.reply.error(kSyntaxError);
  if (op == Not && a.size() != 4) return ctx.reply.error("ERR BITOP NOT must be called with a single source key.");
  std::vector<std::string_view> sources;
  std::size_t longest = 0;
  for (std::size_t i = 3; i < a.size(); ++i) {
    auto e = readAs(ctx, a[i], Type::String);
    if (!e) return;
    sources.push_back(*e ? Store::value(*e) : std::string_view{});
    longest = std::max(longest, sources.back().size());
  }
  std::string result(longest, '\0');
  for (std::size_t j = 0; j < longest; ++j) {
    auto byteOf = [&](std::size_t i) { return j < sources[i].size() ? static_cast<unsigned char>(sources[i][j]) : 0; };
    unsigned char out = byteOf(0);
    if (op == Not) out = static_cast<unsigned char>(~out);
    for (std::size_t i = 1; i < sources.size(); ++i) {
      if (op == And) out &= byteOf(i);
      else if (op == Or) out |= byteOf(i);
      else out ^= byteOf(i);
    }
    result[j] = static_cast<char>(out);
  }
  if (longest == 0) {
    ctx.store.erase(a[2]);
  } else {
    ctx.store.set(a[2], result, kNoExpiry, Kind::StringRaw);
  }
  ctx.reply.integer(static_cast<long long>(longest));
}

void bitfield(CommandContext& ctx) { bitfieldGeneric(ctx, false); }
void bitfieldRo(CommandContext& ctx) { bitfieldGeneric(ctx, true); }

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> bitmapCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "bitcount", .arity = -2, .flags = kReadonly, .acl = acl::kBitmap,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = bitcount},
      {.name = "bitfield", .arity = -2, .flags = kWrite, .acl = acl::kBitmap,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access update variable_flags", .handler = bitfield, .events = {.type = '$', .event = "setbit"}},
      {.name = "bitfield_ro", .arity = -2, .flags = kReadonly | kFast, .acl = acl::kBitmap,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = bitfieldRo},
      {.name = "bitop", .arity = -4, .flags = kWrite, .acl = acl::kBitmap,
       .keys = {2, -1, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "OW update;RO access", .handler = bitop, .events = {.type = '$', .event = "set", .rule = KeyEventSpec::EventOrDel, .firstKeyOnly = true}},
      {.name = "bitpos", .arity = -3, .flags = kReadonly, .acl = acl::kBitmap,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = bitpos},
      {.name = "getbit", .arity = 3, .flags = kReadonly | kFast, .acl = acl::kBitmap,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = getbit},
      {.name = "setbit", .arity = 4, .flags = kWrite, .acl = acl::kBitmap,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access update", .handler = setbit, .events = {.type = '$', .event = "setbit"}},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
