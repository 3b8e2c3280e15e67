// What the stream commands share (streams.cpp, stream_groups.cpp,
// stream_info.cpp): typed lookups, Redis's ID parsing and its errors, and
// the reply shapes of entries.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "worker/commands/commands.h"
#include "worker/keyspace/stream.h"

namespace keyloop::commands::streams {

inline constexpr std::string_view kInvalidId = "ERR Invalid stream ID specified as stream command argument";

inline stream::Stream& streamOf(const Store::Entry* e) { return Store::object<stream::Stream>(e); }
// A new empty stream at `key`.
Store::Entry* createStream(CommandContext& ctx, std::string_view key);
stream::Limits streamLimits(const CommandContext& ctx);

// Redis's streamParseIDOrReply (`strict`: "-" and "+" refused); nullopt
// after replying.
std::optional<stream::Id> idOrReply(CommandContext& ctx, std::string_view arg, std::uint64_t missingSeq, bool strict);
// IDs from args[from] on, all parsed strictly; nullopt after replying.
std::optional<std::vector<stream::Id>> idsOrReply(CommandContext& ctx, std::size_t from);
// XRANGE's and XPENDING's bounds: "(" makes them exclusive; nullopt after replying.
std::optional<stream::Id> startOrReply(CommandContext& ctx, std::string_view arg);
std::optional<stream::Id> endOrReply(CommandContext& ctx, std::string_view arg);

void replyId(resp::Reply& reply, stream::Id id);
// [id, [field, value, ...]]
void replyEntry(resp::Reply& reply, stream::Id id, stream::Fields fields);

// Replies whose length is known only at the end: elements are written to
// a side buffer, then the header and them.
class Deferred {
 public:
  explicit Deferred(const resp::Reply& like) : reply_(buffer_, like.protocol()) {}
  resp::Reply& reply() { return reply_; }
  void counted(std::size_t n = 1) { count_ += n; }
  std::size_t count() const { return count_; }
  void flushArray(resp::Reply& to) {
    to.array(count_);
    to.buffer() += buffer_;
  }
  void flushMap(resp::Reply& to) {
    to.map(count_);
    to.buffer() += buffer_;
  }

 private:
  std::string buffer_;
  resp::Reply reply_;
  std::size_t count_ = 0;
};

// The entries from..to (at most `count`, 0: all) as an array of entries.
std::size_t replyRange(resp::Reply& reply, const stream::Stream& s, stream::Id from, stream::Id to,
                       std::size_t count, bool backwards);

// Trimming options of XADD and XTRIM (Redis's streamParseAddOrTrimArgsOrReply).
struct AddOrTrimArgs {
  stream::Trim trim;
  bool limitGiven = false, noMkStream = false;
  std::size_t thresholdAt = 0;  // the MAXLEN / MINID argument's index (propagation rewrites it)
  std::size_t idAt = 0;         // XADD: the ID's index
  std::optional<stream::Id> id;  // XADD: the ID given (nullopt: "*")
  bool seqGiven = true;
};
std::optional<AddOrTrimArgs> addOrTrimArgsOrReply(CommandContext& ctx, bool xadd);
// What a command that trimmed approximately propagates: the exact result
// ("=" and the length or first ID it left), LIMIT dropped.
std::vector<std::string> exactTrimForm(const CommandContext& ctx, const AddOrTrimArgs& a, const stream::Stream& s);

}  // namespace keyloop::commands::streams
