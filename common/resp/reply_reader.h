// Reading replies back: a worker that forwarded commands merges the
// replies it gets (sums DEL counts, concatenates MGET arrays).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace keyloop::resp {

// Bytes of the one complete reply at the start of `bytes`; 0 if incomplete.
std::size_t replyLength(std::string_view bytes);
// The raw elements of an aggregate reply (*, ~, %: keys and values in turn).
std::vector<std::string_view> replyElements(std::string_view reply);
std::optional<long long> replyInteger(std::string_view reply);
// The payload of a bulk reply (a RESP3 verbatim's text after its "txt:");
// nullopt for null or non-bulk.
std::optional<std::string_view> replyBulk(std::string_view reply);
inline bool isError(std::string_view reply) { return !reply.empty() && reply[0] == '-'; }
inline bool isNull(std::string_view reply) {
  return reply == "$-1\r\n" || reply == "*-1\r\n" || reply == "_\r\n";
}

}  // namespace keyloop::resp
