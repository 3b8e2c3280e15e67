#include "worker/keyspace/list.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "worker/keyspace/packed.h"

namespace keyloop::list {

namespace {

constexpr std::size_t kHeader = packed::kPackedHeader;

std::size_t elementSize(std::string_view s) { return s.size() + 2 * packed::lengthSize(s.size()); }

// A packed element (packed.h) followed by its length's bytes mirrored.
std::string encoded(std::string_view s) {
  std::string out;
  out.reserve(elementSize(s));
  packed::appendElement(out, s);
  for (std::size_t i = packed::lengthSize(s.size()); i-- > 0;) out.push_back(out[i]);
  return out;
}

// The element starting at `at`, and where the next one starts.
struct Element {
  std::string_view bytes;
  std::size_t begin, end;
};

Element forwardAt(std::string_view chunk, std::size_t at) {
  const char* p = chunk.data() + at;
  const std::string_view s = packed::readElement(p);
  const std::size_t afterBytes = static_cast<std::size_t>(p - chunk.data());
  return {s, at, afterBytes + packed::lengthSize(s.size())};
}

// The element ending at `end` (its back-length's last byte is end - 1).
Element backwardAt(std::string_view chunk, std::size_t end) {
  std::size_t n = 0, i = end;
  int shift = 0;
  unsigned char byte;
  do {
    byte = static_cast<unsigned char>(chunk[--i]);
    n |= static_cast<std::size_t>(byte & 0x7F) << shift;
    shift += 7;
  } while (byte & 0x80);
  const std::size_t bytesBegin = i - n;
  const std::size_t begin = bytesBegin - packed::lengthSize(n);
  return {chunk.substr(bytesBegin, n), begin, end};
}

// Walks a chunk's elements forwards (from its first) or backwards (from
// its last); visit(Element, indexInChunk) returns false to stop.
template <typename Visit>
bool walk(std::string_view chunk, bool backwards, Visit visit) {
  const std::uint32_t count = packed::countOf(chunk);
  if (!backwards) {
    std::size_t at = kHeader;
    for (std::uint32_t i = 0; i < count; ++i) {
      const Element el = forwardAt(chunk, at);
      if (!visit(el, i)) return false;
      at = el.end;
    }
  } else {
    std::size_t end = chunk.size();
    for (std::uint32_t i = count; i-- > 0;) {
      const Element el = backwardAt(chunk, end);
      if (!visit(el, i)) return false;
      end = el.begin;
    }
  }
  return true;
}

// The element at `index` of a chunk, walked to from the nearer end.
Element elementAt(std::string_view chunk, std::uint32_t index) {
  const std::uint32_t count = packed::countOf(chunk);
  Element found{};
  walk(chunk, index >= count / 2, [&](const Element& el, std::uint32_t i) {
    if (i != index) return true;
    found = el;
    return false;
  });
  return found;
}

void bump(Chunk& c, long long delta) { c.setCount(static_cast<std::uint32_t>(c.count() + delta)); }

// Splits an over-full chunk of `list` at position `i` into halves by count.
void splitIfNeeded(ChunkedList& list, std::size_t i, const Limits& limits) {
  Chunk& c = list.chunks[i];
  if (limits.allows(c.bytes().size() - kHeader, c.count()) || c.count() < 2) return;
  const std::uint32_t keep = c.count() / 2;
  const Element mid = elementAt(c.bytes(), keep);
  std::string tail(kHeader, '\0');
  tail.append(c.bytes().substr(mid.begin));
  packed::setCount(tail.data(), c.count() - keep);
  c.splice(mid.begin, c.bytes().size() - mid.begin, {});
  c.setCount(keep);
  list.chunks.emplace(list.chunks.begin() + static_cast<std::ptrdiff_t>(i) + 1, Chunk(tail));
}

// Where element `index` of a ChunkedList is: its chunk and position there.
std::pair<std::size_t, std::uint32_t> locate(const ChunkedList& list, std::size_t index) {
  if (index >= list.size / 2) {
    std::size_t before = list.size;
    for (std::size_t c = list.chunks.size(); c-- > 0;) {
      before -= list.chunks[c].count();
      if (index >= before) return {c, static_cast<std::uint32_t>(index - before)};
    }
  }
  std::size_t before = 0;
  for (std::size_t c = 0; c < list.chunks.size(); ++c) {
    const std::uint32_t n = list.chunks[c].count();
    if (index < before + n) return {c, static_cast<std::uint32_t>(index - before)};
    before += n;
  }
  return {list.chunks.size() - 1, 0};
}

// An inline list's chunk as a ChunkedList of one.
std::unique_ptr<ChunkedList> chunkedCopy(const Store::Entry* e) {
  auto list = std::make_unique<ChunkedList>();
  list->chunks.emplace_back(Store::value(e));
  list->size = packed::countOf(Store::value(e));
  return list;
}

// Makes an inline list chunked (it outgrew one chunk).
void convert(Store& store, Store::Entry*& e) { e = store.setObject(e, chunkedCopy(e).release(), Kind::ListChunked); }

// Drops empty chunks, splits over-full ones, recounts.
void normalize(ChunkedList& list, const Limits& limits) {
  std::size_t total = 0;
  for (std::size_t i = 0; i < list.chunks.size();) {
    if (list.chunks[i].count() == 0 && list.chunks.size() > 1) {
      list.chunks.erase(list.chunks.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    }
    splitIfNeeded(list, i, limits);
    total += list.chunks[i].count();
    ++i;
  }
  list.size = total;
}

// Runs `fn` on the list as a ChunkedList: an inline list is edited as a
// one-chunk copy and stays inline if it still fits one chunk.
template <typename Edit>
void edit(Store& store, Store::Entry*& e, const Limits& limits, Edit fn) {
  if (isChunked(e)) {
    fn(chunked(e));
    normalize(chunked(e), limits);
    return;
  }
  std::unique_ptr<ChunkedList> list = chunkedCopy(e);
  fn(*list);
  normalize(*list, limits);
  if (list->chunks.size() == 1) {
    e = store.setValue(e, list->chunks.front().bytes());
    return;
  }
  e = store.setObject(e, list.release(), Kind::ListChunked);
}

}  // namespace

bool Limits::allows(std::size_t chunkBytes, std::size_t chunkCount) const {
  if (fill >= 0) return chunkCount <= static_cast<std::size_t>(fill == 0 ? 1 : fill) && chunkBytes <= 8192;
  static constexpr std::size_t kBytes[] = {4096, 8192, 16384, 32768, 65536};
  const long long level = -fill - 1;
  return chunkBytes <= kBytes[level < 0 ? 0 : level > 4 ? 4 : level] || chunkCount <= 1;
}

std::size_t ChunkedList::bytes() const {
  std::size_t total = sizeof(ChunkedList) + chunks.size() * sizeof(Chunk);
  for (const Chunk& c : chunks) total += c.allocated();
  return total;
}

std::string emptyValue() { return packed::emptyValue(); }

Store::Entry* makeChunked(Store& store, Store::Entry* e) {
  if (!isChunked(e)) convert(store, e);
  return e;
}

std::string encodedElement(std::string_view element) { return encoded(element); }

void forEachEncoded(std::string_view run, const std::function<void(std::string_view)>& visit) {
  walk(run, false, [&](const Element& el, std::uint32_t) { return visit(el.bytes), true; });
}

std::size_t size(const Store::Entry* e) {
  return isChunked(e) ? chunked(e).size : packed::countOf(Store::value(e));
}

void push(Store& store, Store::Entry*& e, End end, std::string_view value, const Limits& limits) {
  const std::string element = encoded(value);
  if (!isChunked(e)) {
    const std::string_view v = Store::value(e);
    const std::uint32_t count = packed::countOf(v);
    if (limits.allows(v.size() - kHeader + element.size(), count + 1)) {
      e = store.spliceValue(e, end == End::Head ? kHeader : v.size(), 0, element);
      packed::setCount(Store::mutableValue(e), count + 1);
      return;
    }
    convert(store, e);
  }
  ChunkedList& list = chunked(e);
  Chunk* c = end == End::Head ? &list.chunks.front() : &list.chunks.back();
  if (!limits.allows(c->bytes().size() - kHeader + element.size(), c->count() + 1)) {
    c->shrinkToFit();  // full: an end chunk grows no more
    c = end == End::Head ? &list.chunks.emplace_front() : &list.chunks.emplace_back();
  }
  c->splice(end == End::Head ? kHeader : c->bytes().size(), 0, element);
  bump(*c, 1);
  ++list.size;
}

std::string pop(Store& store, Store::Entry*& e, End end) {
  if (!isChunked(e)) {
    const std::string_view v = Store::value(e);
    const Element el = end == End::Head ? forwardAt(v, kHeader) : backwardAt(v, v.size());
    std::string out(el.bytes);
    const std::uint32_t count = packed::countOf(v);
    e = store.spliceValue(e, el.begin, el.end - el.begin, {});
    packed::setCount(Store::mutableValue(e), count - 1);
    return out;
  }
  ChunkedList& list = chunked(e);
  Chunk& c = end == End::Head ? list.chunks.front() : list.chunks.back();
  const Element el = end == End::Head ? forwardAt(c.bytes(), kHeader) : backwardAt(c.bytes(), c.bytes().size());
  std::string out(el.bytes);
  c.splice(el.begin, el.end - el.begin, {});
  bump(c, -1);
  --list.size;
  if (c.count() == 0 && list.chunks.size() > 1) {
    if (end == End::Head) list.chunks.pop_front();
    else list.chunks.pop_back();
  }
  return out;
}

std::string_view at(const Store::Entry* e, std::size_t index) {
  if (!isChunked(e)) return elementAt(Store::value(e), static_cast<std::uint32_t>(index)).bytes;
  const ChunkedList& list = chunked(e);
  const auto [c, i] = locate(list, index);
  return elementAt(list.chunks[c].bytes(), i).bytes;
}

void set(Store& store, Store::Entry*& e, std::size_t index, std::string_view value, const Limits& limits) {
  edit(store, e, limits, [&](ChunkedList& list) {
    const auto [c, i] = locate(list, index);
    const Element el = elementAt(list.chunks[c].bytes(), i);
    list.chunks[c].splice(el.begin, el.end - el.begin, encoded(value));
  });
}

void forRange(const Store::Entry* e, std::size_t from, std::size_t to, bool backwards, const Visit& visit) {
  auto visitChunk = [&](std::string_view chunk, std::size_t first) {
    return walk(chunk, backwards, [&](const Element& el, std::uint32_t i) {
      const std::size_t index = first + i;
      if (index < from || index > to) return backwards ? index > from : index < to;
      return visit(index, el.bytes) && index != (backwards ? from : to);
    });
  };
  if (!isChunked(e)) {
    visitChunk(Store::value(e), 0);
    return;
  }
  const ChunkedList& list = chunked(e);
  const auto [first, firstAt] = locate(list, from);
  const auto [last, lastAt] = locate(list, to);
  std::size_t start = from - firstAt;
  if (!backwards) {
    for (std::size_t c = first; c <= last; ++c) {
      if (!visitChunk(list.chunks[c].bytes(), start)) return;
      start += list.chunks[c].count();
    }
    return;
  }
  start = to - lastAt;
  for (std::size_t c = last + 1; c-- > first;) {
    if (!visitChunk(list.chunks[c].bytes(), start)) return;
    if (c > 0) start -= list.chunks[c - 1].count();
  }
}

bool insertAt(Store& store, Store::Entry*& e, std::string_view pivot, bool after, std::string_view value,
              const Limits& limits) {
  // Found first (a miss changes nothing, and an inline list stays inline).
  bool found = false;
  std::size_t position = 0;
  forRange(e, 0, size(e) - 1, false, [&](std::size_t i, std::string_view el) {
    found = el == pivot;
    position = i;
    return !found;
  });
  if (!found) return false;
  const std::size_t target = position + (after ? 1 : 0);
  if (target == 0) return push(store, e, End::Head, value, limits), true;
  if (target == size(e)) return push(store, e, End::Tail, value, limits), true;
  edit(store, e, limits, [&](ChunkedList& list) {
    const auto [c, i] = locate(list, target);
    const Element el = elementAt(list.chunks[c].bytes(), i);
    list.chunks[c].splice(el.begin, 0, encoded(value));
    bump(list.chunks[c], 1);
  });
  return true;
}

std::size_t removeEqual(Store& store, Store::Entry*& e, std::string_view value, long long count) {
  const bool backwards = count < 0;
  // The magnitude computed unsigned: -LONG_MIN does not fit a long long.
  const std::size_t limit = count == 0 ? SIZE_MAX
                                       : backwards ? 0 - static_cast<std::size_t>(count) : static_cast<std::size_t>(count);
  std::size_t removed = 0;
  auto filter = [&](Chunk& c) {
    // The chunk's matching elements, found in walk order, cut from the far end first.
    std::vector<Element> cut;
    walk(c.bytes(), backwards, [&](const Element& el, std::uint32_t) {
      if (removed + cut.size() >= limit) return false;
      if (el.bytes == value) cut.push_back(el);
      return true;
    });
    if (!backwards) std::reverse(cut.begin(), cut.end());
    for (const Element& el : cut) c.splice(el.begin, el.end - el.begin, {});
    bump(c, -static_cast<long long>(cut.size()));
    removed += cut.size();
  };
  edit(store, e, Limits{-5}, [&](ChunkedList& list) {
    if (!backwards) {
      for (Chunk& c : list.chunks) filter(c);
    } else {
      for (auto it = list.chunks.rbegin(); it != list.chunks.rend(); ++it) filter(*it);
    }
  });
  return removed;
}

void trim(Store& store, Store::Entry*& e, std::size_t from, std::size_t to) {
  const std::size_t n = size(e);
  const std::size_t keepFrom = std::min(from, n), keepTo = from > to ? keepFrom : std::min(to + 1, n);
  auto cut = [](Chunk& c, std::size_t first, std::size_t end) {  // keeps [first, end) of the chunk
    const std::uint32_t count = c.count();
    const std::size_t tailAt = end >= count ? c.bytes().size() : elementAt(c.bytes(), static_cast<std::uint32_t>(end)).begin;
    c.splice(tailAt, c.bytes().size() - tailAt, {});
    c.setCount(static_cast<std::uint32_t>(std::min<std::size_t>(end, count)));
    const std::size_t headEnd = first == 0 ? kHeader : elementAt(c.bytes(), static_cast<std::uint32_t>(first)).begin;
    c.splice(kHeader, headEnd - kHeader, {});
    c.setCount(static_cast<std::uint32_t>(std::min<std::size_t>(end, count) - first));
  };
  edit(store, e, Limits{-5}, [&](ChunkedList& list) {
    std::size_t before = 0;
    for (Chunk& c : list.chunks) {
      const std::size_t count = c.count();
      const std::size_t first = keepFrom > before ? keepFrom - before : 0;
      const std::size_t end = keepTo > before ? keepTo - before : 0;
      before += count;
      if (first >= count || end == 0 || first >= end) {
        c.splice(kHeader, c.bytes().size() - kHeader, {});
        c.setCount(0);
      } else if (first > 0 || end < count) {
        cut(c, first, end);
      }
    }
  });
}

void forEach(const Store::Entry* e, const std::function<void(std::string_view)>& visit) {
  const std::size_t n = size(e);
  if (n > 0) forRange(e, 0, n - 1, false, [&](std::size_t, std::string_view el) { return visit(el), true; });
}

std::size_t ownBytes(const Store::Entry* e) { return isChunked(e) ? chunked(e).bytes() : 0; }

}  // namespace keyloop::list
