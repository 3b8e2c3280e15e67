#include "worker/execution/command_reference.h"

#include <algorithm>
#include <iterator>

#include "common/text/text.h"

namespace keyloop {

namespace {

constexpr CommandReference kReference[] = {
#include "worker/execution/command_reference.inc"
};
// What keyloop has of later Redis versions (7.2-7.4), from their replies.
constexpr CommandReference kNewerReference[] = {
#include "worker/execution/command_reference_newer.inc"
};

template <std::size_t N>
const CommandReference* find(const CommandReference (&table)[N], std::string_view fullName) {
  const auto* at = std::lower_bound(std::begin(table), std::end(table), fullName,
                                    [](const CommandReference& r, std::string_view name) { return r.name < name; });
  return at != std::end(table) && at->name == fullName ? at : nullptr;
}

// One value from the front of `bytes` (as the generator wrote them: simple
// strings, integers, bulk strings, arrays, sets and maps), written out.
void replayOne(resp::Reply& reply, std::string_view& bytes) {
  const std::size_t end = bytes.find("\r\n");
  const char type = bytes[0];
  const std::string_view body = bytes.substr(1, end - 1);
  bytes.remove_prefix(end + 2);
  const auto n = static_cast<std::size_t>(parseInteger(body).value_or(0));
  switch (type) {
    case '+': return reply.simple(body);
    case ':': return reply.integer(parseInteger(body).value_or(0));
    case '$':
      reply.bulk(bytes.substr(0, n));
      bytes.remove_prefix(n + 2);
      return;
    case '*': reply.array(n); break;
    case '~': reply.set(n); break;
    case '%': reply.map(n); break;
    default: return;
  }
  for (std::size_t i = 0; i < (type == '%' ? 2 * n : n); ++i) replayOne(reply, bytes);
}

}  // namespace

const CommandReference* referenceOf(std::string_view fullName) {
  if (const CommandReference* r = find(kReference, fullName)) return r;
  return find(kNewerReference, fullName);
}

void replayResp3(resp::Reply& reply, std::string_view bytes) {
  while (!bytes.empty()) replayOne(reply, bytes);
}

}  // namespace keyloop
