// hiredis, the C client, with RAII: a connection and a reply that free
// themselves. Header-only: only the suites that link hiredis include it.
#pragma once

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace keyloop::test {

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// A connection to 127.0.0.1:port with a 10 s timeout on every call.
inline Context connect(std::uint16_t port) {
  timeval timeout{10, 0};
  Context c(redisConnectWithTimeout("127.0.0.1", port, timeout));
  EXPECT_TRUE(c && !c->err) << "port " << port;
  redisSetTimeout(c.get(), timeout);
  return c;
}

// One command, its arguments binary-safe.
inline Reply run(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lengths.data())));
}

}  // namespace keyloop::test
