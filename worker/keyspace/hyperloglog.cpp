#include "worker/keyspace/hyperloglog.h"
#include "common/result/result.h"

#include <cmath>
#include <cstring>
#include <random>

namespace keyloop::hll {

namespace {

constexpr int kP = 14, kQ = 64 - kP, kBits = 6, kRegisterMax = (1 << kBits) - 1;
constexpr std::size_t kHeader = 16;
constexpr std::size_t kDenseSize = kHeader + (kRegisters * kBits + 7) / 8;
constexpr std::uint8_t kDense = 0, kSparse = 1;
constexpr int kValMaxValue = 32, kValMaxLen = 4, kZeroMaxLen = 64, kXZeroMaxLen = 16384;

using Byte = std::uint8_t;

bool isZero(Byte b) { return (b & 0xc0) == 0; }
bool isXZero(Byte b) { return (b & 0xc0) == 0x40; }
bool isVal(Byte b) { return (b & 0x80) != 0; }
int zeroLen(Byte b) { return (b & 0x3f) + 1; }
int xzeroLen(const Byte* p) { return (((p[0] & 0x3f) << 8) | p[1]) + 1; }
int valValue(Byte b) { return ((b >> 2) & 0x1f) + 1; }
int valLen(Byte b) { return (b & 0x3) + 1; }
Byte valOp(int value, int len) { return static_cast<Byte>(((value - 1) << 2 | (len - 1)) | 0x80); }
Byte* putZeros(Byte* n, int len) {
  if (len > kZeroMaxLen) {
    n[0] = static_cast<Byte>(((len - 1) >> 8) | 0x40);
    n[1] = static_cast<Byte>((len - 1) & 0xff);
    return n + 2;
  }
  n[0] = static_cast<Byte>(len - 1);
  return n + 1;
}

Byte* bytesOf(std::string& s) { return reinterpret_cast<Byte*>(s.data()); }
const Byte* bytesOf(std::string_view s) { return reinterpret_cast<const Byte*>(s.data()); }

void invalidateCache(std::string& value) { bytesOf(value)[15] |= 0x80; }

std::uint64_t murmurHash64A(std::string_view key, unsigned int seed) {
  const std::uint64_t m = 0xc6a4a7935bd1e995ull;
  const int r = 47;
  const int len = static_cast<int>(key.size());
  std::uint64_t h = seed ^ (static_cast<std::uint64_t>(len) * m);
  const Byte* data = bytesOf(key);
  const Byte* end = data + (len - (len & 7));
  for (; data != end; data += 8) {
    std::uint64_t k;
    std::memcpy(&k, data, 8);
    k *= m;
    k ^= k >> r;
    k *= m;
    h ^= k;
    h *= m;
  }
  switch (len & 7) {
    case 7: h ^= static_cast<std::uint64_t>(data[6]) << 48; [[fallthrough]];
    case 6: h ^= static_cast<std::uint64_t>(data[5]) << 40; [[fallthrough]];
    case 5: h ^= static_cast<std::uint64_t>(data[4]) << 32; [[fallthrough]];
    case 4: h ^= static_cast<std::uint64_t>(data[3]) << 24; [[fallthrough]];
    case 3: h ^= static_cast<std::uint64_t>(data[2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<std::uint64_t>(data[1]) << 8; [[fallthrough]];
    case 1: h ^= static_cast<std::uint64_t>(data[0]); h *= m;
  }
  h ^= h >> r;
  h *= m;
  h ^= h >> r;
  return h;
}

// The register an element lands in and the length of its 0...01 run.
int patternLength(std::string_view element, long& index) {
  std::uint64_t hash = murmurHash64A(element, 0xadc83b19u);
  index = static_cast<long>(hash & (kRegisters - 1));
  hash >>= kP;
  hash |= std::uint64_t{1} << kQ;
  int count = 1;
  for (std::uint64_t bit = 1; (hash & bit) == 0; bit <<= 1) ++count;
  return count;
}

// The last register ends in the last byte: Redis reads (and rewrites) the
// byte after it, its sds terminator; here there is none, so it is skipped.
constexpr unsigned long kRegisterBytes = (kRegisters * kBits + 7) / 8;

int denseGet(const Byte* registers, long index) {
  const unsigned long byte = static_cast<unsigned long>(index) * kBits / 8;
  const unsigned long fb = static_cast<unsigned long>(index) * kBits & 7;
  const unsigned long b0 = registers[byte], b1 = byte + 1 < kRegisterBytes ? registers[byte + 1] : 0;
  return static_cast<int>(((b0 >> fb) | (b1 << (8 - fb))) & kRegisterMax);
}

void denseSet(Byte* registers, long index, int value) {
  const unsigned long byte = static_cast<unsigned long>(index) * kBits / 8;
  const unsigned long fb = static_cast<unsigned long>(index) * kBits & 7;
  const unsigned long v = static_cast<unsigned long>(value);
  registers[byte] = static_cast<Byte>((registers[byte] & ~(kRegisterMax << fb)) | (v << fb));
  if (byte + 1 < kRegisterBytes) registers[byte + 1] =
      static_cast<Byte>((registers[byte + 1] & ~(kRegisterMax >> (8 - fb))) | (v >> (8 - fb)));
}

int denseUpdate(Byte* registers, long index, int count) {
  if (count <= denseGet(registers, index)) return 0;
  denseSet(registers, index, count);
  return 1;
}

// Calls run(firstRegister, length, value) for each opcode of a sparse HLL;
// false if it does not cover exactly the 16384 registers.
template <typename Run>
bool walkSparse(std::string_view value, Run run) {
  const Byte* p = bytesOf(value) + kHeader;
  const Byte* end = bytesOf(value) + value.size();
  long index = 0;
  while (p < end) {
    int length, v = 0;
    if (isZero(*p)) {
      length = zeroLen(*p++);
    } else if (isXZero(*p)) {
      if (p + 1 >= end) return false;  // a truncated opcode: corrupt
      length = xzeroLen(p);
      p += 2;
    } else {
      length = valLen(*p);
      v = valValue(*p++);
      if (index + length > kRegisters) return false;
    }
    run(index, length, v);
    index += length;
  }
  return index == kRegisters;
}

bool sparseToDense(std::string& value) {
  if (value[4] == kDense) return true;
  std::string dense(kDenseSize, '\0');
  std::memcpy(dense.data(), value.data(), kHeader);
  dense[4] = static_cast<char>(kDense);
  Byte* registers = bytesOf(dense) + kHeader;
  if (!walkSparse(value, [&](long first, int length, int v) {
        if (v != 0) {
          for (int i = 0; i < length; ++i) denseSet(registers, first + i, v);
        }
      })) {
    return false;
  }
  value.swap(dense);
  return true;
}

// Redis's hllSparseSet, step by step: find the opcode covering `index`,
// split it into at most ZERO/XZERO - VAL - ZERO/XZERO, merge equal VALs
// around it; promote to dense when a register passes 32 or the sparse form
// would pass `sparseMaxBytes`.
int sparseSet(std::string& value, long index, int count, std::size_t sparseMaxBytes) {
  auto promote = [&] {
    if (!sparseToDense(value)) return -1;
    return denseUpdate(bytesOf(value) + kHeader, index, count);
  };
  if (count > kValMaxValue) return promote();
  std::size_t p = kHeader, end = value.size();
  std::size_t prev = 0;
  bool hasPrev = false;
  long first = 0, span = 0;
  const Byte* b = bytesOf(value);
  while (p < end) {
    std::size_t opLength = 1;
    if (isZero(b[p])) {
      span = zeroLen(b[p]);
    } else if (isVal(b[p])) {
      span = valLen(b[p]);
    } else {
      span = xzeroLen(b + p);
      opLength = 2;
    }
    if (index <= first + span - 1) break;
    prev = p;
    hasPrev = true;
    p += opLength;
    first += span;
  }
  if (span == 0 || p >= end) return -1;
  const bool zero = isZero(b[p]), xzero = isXZero(b[p]), val = !zero && !xzero;
  const long runLength = zero ? zeroLen(b[p]) : xzero ? xzeroLen(b + p) : valLen(b[p]);
  bool updated = false;
  if (val) {
    if (valValue(b[p]) >= count) return 0;
    if (runLength == 1) {
      value[p] = static_cast<char>(valOp(count, 1));
      updated = true;
    }
  }
  if (!updated && zero && runLength == 1) {
    value[p] = static_cast<char>(valOp(count, 1));
    updated = true;
  }
  if (!updated) {
    Byte seq[5];
    Byte* n = seq;
    const long last = first + span - 1;
    if (zero || xzero) {
      if (index != first) n = putZeros(n, static_cast<int>(index - first));
      *n++ = valOp(count, 1);
      if (index != last) n = putZeros(n, static_cast<int>(last - index));
    } else {
      const int current = valValue(b[p]);
      if (index != first) *n++ = valOp(current, static_cast<int>(index - first));
      *n++ = valOp(count, 1);
      if (index != last) *n++ = valOp(current, static_cast<int>(last - index));
    }
    const std::size_t seqLength = static_cast<std::size_t>(n - seq);
    const std::size_t oldLength = xzero ? 2 : 1;
    if (seqLength > oldLength && value.size() + (seqLength - oldLength) > sparseMaxBytes) return promote();
    value.replace(p, oldLength, reinterpret_cast<const char*>(seq), seqLength);
    end = value.size();
  }
  // Merge adjacent VALs of the same value, up to 5 opcodes from prev.
  b = bytesOf(value);
  std::size_t q = hasPrev ? prev : kHeader;
  for (int scan = 5; q < end && scan-- > 0;) {
    if (isXZero(b[q])) {
      q += 2;
      continue;
    }
    if (isZero(b[q])) {
      ++q;
      continue;
    }
    if (q + 1 < end && isVal(b[q + 1]) && valValue(b[q]) == valValue(b[q + 1])) {
      const int length = valLen(b[q]) + valLen(b[q + 1]);
      if (length <= kValMaxLen) {
        value[q + 1] = static_cast<char>(valOp(valValue(b[q]), length));
        value.erase(q, 1);
        b = bytesOf(value);
        --end;
        continue;
      }
    }
    ++q;
  }
  invalidateCache(value);
  return 1;
}

double sigma(double x) {
  if (x == 1.) return INFINITY;
  double zPrime, y = 1, z = x;
  do {
    x *= x;
    zPrime = z;
    z += x * y;
    y += y;
  } while (zPrime != z);
  return z;
}

double tau(double x) {
  if (x == 0. || x == 1.) return 0.;
  double zPrime, y = 1.0, z = 1 - x;
  do {
    x = std::sqrt(x);
    zPrime = z;
    y *= 0.5;
    z -= std::pow(1 - x, 2) * y;
  } while (zPrime != z);
  return z / 3;
}

// Ertl's estimator over the register histogram, as hllCount.
std::uint64_t estimate(const std::array<int, 64>& histogram) {
  const double m = kRegisters;
  double z = m * tau((m - histogram[kQ + 1]) / m);
  for (int j = kQ; j >= 1; --j) {
    z += histogram[j];
    z *= 0.5;
  }
  z += m * sigma(histogram[0] / m);
  return static_cast<std::uint64_t>(std::llroundl(0.721347520444481703680 * m * m / z));
}

}  // namespace

std::string create() {
  std::string s(kHeader + 2, '\0');
  std::memcpy(s.data(), "HYLL", 4);
  s[4] = static_cast<char>(kSparse);
  putZeros(bytesOf(s) + kHeader, kXZeroMaxLen);
  return s;
}

bool isHll(std::string_view value) {
  if (value.size() < kHeader || value.substr(0, 4) != "HYLL") return false;
  const auto encoding = static_cast<Byte>(value[4]);
  if (encoding > kSparse) return false;
  return encoding != kDense || value.size() == kDenseSize;
}

bool isDense(std::string_view value) { return static_cast<Byte>(value[4]) == kDense; }

bool makeDense(std::string& value) { return sparseToDense(value); }

std::string describeSparse(std::string_view value) {
  std::string out;
  const Byte* p = bytesOf(value) + kHeader;
  const Byte* end = bytesOf(value) + value.size();
  while (p < end) {
    if (!out.empty()) out += ' ';
    if (isZero(*p)) {
      out += "z:" + std::to_string(zeroLen(*p++));
    } else if (isXZero(*p) && p + 1 < end) {
      out += "Z:" + std::to_string(xzeroLen(p));
      p += 2;
    } else if (isVal(*p)) {
      out += "v:" + std::to_string(valValue(*p)) + "," + std::to_string(valLen(*p));
      ++p;
    } else {
      break;  // a truncated XZERO: nothing more to read
    }
  }
  return out;
}

int add(std::string& value, std::string_view element, std::size_t sparseMaxBytes) {
  long index;
  const int count = patternLength(element, index);
  if (isDense(value)) return denseUpdate(bytesOf(value) + kHeader, index, count);
  return sparseSet(value, index, count, sparseMaxBytes);
}

std::optional<std::uint64_t> count(std::string& value, bool& changed) {
  changed = false;
  Byte* card = bytesOf(value) + 8;
  if ((card[7] & 0x80) == 0) {
    std::uint64_t cached = 0;
    for (int i = 7; i >= 0; --i) cached = (cached << 8) | card[i];
    return cached;
  }
  std::array<int, 64> histogram{};
  if (isDense(value)) {
    const Byte* registers = bytesOf(value) + kHeader;
    for (long i = 0; i < kRegisters; ++i) ++histogram[static_cast<std::size_t>(denseGet(registers, i))];
  } else if (!walkSparse(value, [&](long, int length, int v) { histogram[static_cast<std::size_t>(v)] += length; })) {
    return std::nullopt;
  }
  const std::uint64_t result = estimate(histogram);
  for (int i = 0; i < 8; ++i) card[i] = static_cast<Byte>((result >> (8 * i)) & 0xff);
  changed = true;
  return result;
}

bool mergeInto(Registers& max, std::string_view value) {
  if (isDense(value)) {
    const Byte* registers = bytesOf(value) + kHeader;
    for (long i = 0; i < kRegisters; ++i) {
      max[static_cast<std::size_t>(i)] = std::max<Byte>(max[static_cast<std::size_t>(i)], static_cast<Byte>(denseGet(registers, i)));
    }
    return true;
  }
  return walkSparse(value, [&](long first, int length, int v) {
    for (int i = 0; i < length && v != 0; ++i) {
      Byte& r = max[static_cast<std::size_t>(first + i)];
      r = std::max<Byte>(r, static_cast<Byte>(v));
    }
  });
}

std::uint64_t countOf(const Registers& registers) {
  std::array<int, 64> histogram{};
  for (Byte r : registers) ++histogram[r & 63];
  return estimate(histogram);
}

bool store(std::string& value, const Registers& max, bool dense, std::size_t sparseMaxBytes) {
  if (dense && !sparseToDense(value)) return false;
  for (long j = 0; j < kRegisters; ++j) {
    const int v = max[static_cast<std::size_t>(j)];
    if (v == 0) continue;
    if (isDense(value)) {
      denseUpdate(bytesOf(value) + kHeader, j, v);
    } else if (sparseSet(value, j, v, sparseMaxBytes) < 0) {
      return false;
    }
  }
  invalidateCache(value);
  return true;
}

Status selfTest(std::size_t sparseMaxBytes) {
  std::mt19937_64 rng(std::random_device{}());
  std::string dense(kDenseSize, '\0');
  Byte* registers = bytesOf(dense) + kHeader;
  Registers expected{};
  for (int cycle = 0; cycle < 1000; ++cycle) {
    for (long i = 0; i < kRegisters; ++i) {
      expected[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(rng() & kRegisterMax);
      denseSet(registers, i, expected[static_cast<std::size_t>(i)]);
    }
    for (long i = 0; i < kRegisters; ++i) {
      if (denseGet(registers, i) != expected[static_cast<std::size_t>(i)]) {
        return fail("TESTFAILED Register " + std::to_string(i) + " should be " +
               std::to_string(expected[static_cast<std::size_t>(i)]) + " but is " + std::to_string(denseGet(registers, i)));
      }
    }
  }
  std::memset(registers, 0, kDenseSize - kHeader);
  std::memcpy(dense.data(), "HYLL", 4);
  std::string sparse = create();
  const double relativeError = 1.04 / std::sqrt(static_cast<double>(kRegisters));
  const std::uint64_t seed = rng();
  std::uint64_t checkpoint = 1;
  for (std::uint64_t j = 1; j <= 10000000; ++j) {
    const std::uint64_t element = j ^ seed;
    const std::string_view bytes(reinterpret_cast<const char*>(&element), sizeof element);
    add(dense, bytes, sparseMaxBytes);
    add(sparse, bytes, sparseMaxBytes);
    if (j != checkpoint) continue;
    if (j < sparseMaxBytes / 2 && isDense(sparse)) return fail(std::string("TESTFAILED sparse encoding not used"));
    std::array<int, 64> denseHistogram{};
    for (long i = 0; i < kRegisters; ++i) ++denseHistogram[static_cast<std::size_t>(denseGet(registers, i))];
    const std::uint64_t denseCount = estimate(denseHistogram);
    bool changed = false;
    std::string sparseCopy = sparse;
    sparseCopy[15] = static_cast<char>(sparseCopy[15] | 0x80);  // count it, not a cached value
    if (count(sparseCopy, changed) != denseCount) return fail(std::string("TESTFAILED dense/sparse disagree"));
    const auto error = static_cast<std::uint64_t>(std::llabs(static_cast<long long>(checkpoint - denseCount)));
    const auto most = j == 10 ? 1 : static_cast<std::uint64_t>(std::ceil(relativeError * 6 * static_cast<double>(checkpoint)));
    if (error > most) {
      return fail("TESTFAILED Too big error. card:" + std::to_string(checkpoint) + " abserr:" + std::to_string(error));
    }
    checkpoint *= 10;
  }
  return {};
}

}  // namespace keyloop::hll
