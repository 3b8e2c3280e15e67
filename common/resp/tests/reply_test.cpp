#include "common/resp/reply.h"

#include <gtest/gtest.h>

namespace keyloop::resp {
namespace {

TEST(Reply, Resp2Encodings) {
  std::string out;
  Reply r(out);
  r.ok();
  r.integer(-42);
  r.bulk("a\r\nb");
  r.null();
  r.nullArray();
  r.map(1);
  r.error("ERR bad\r\nline");
  r.boolean(true);
  EXPECT_EQ(out, "+OK\r\n:-42\r\n$4\r\na\r\nb\r\n$-1\r\n*-1\r\n*2\r\n-ERR bad  line\r\n:1\r\n");
}

TEST(Reply, Resp3Encodings) {
  std::string out;
  Reply r(out, Protocol::Resp3);
  r.null();
  r.map(2);
  r.set(3);
  r.verbatim("hi");
  r.boolean(false);
  EXPECT_EQ(out, "_\r\n%2\r\n~3\r\n=6\r\ntxt:hi\r\n#f\r\n");
}

}  // namespace
}  // namespace keyloop::resp
