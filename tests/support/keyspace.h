// Helpers for the persistence tests (snapshots, the append-only log): a
// scratch directory, every type of value to save, and a keyspace's
// contents in a form two servers' can be compared in.
#pragma once

#include <functional>
#include <map>
#include <utility>
#include <string>
#include <vector>

#include "tests/support/resp_connection.h"

namespace keyloop::test {

std::string bulk(const std::string& s);
// An empty directory under the temp directory, named by `tag` and the test's pid.
std::string freshDir(const std::string& tag);
std::string readFile(const std::string& path);
// Every key's type, value (in an order-free form) and absolute expiry.
std::map<std::string, std::string> contents(RespConnection& c);
// The same of the connection's selected database alone, keys as they are.
std::map<std::string, std::string> contentsOfOne(RespConnection& c);
// Sends each command; a test failure if one is refused.
void sendAll(RespConnection& c, const std::vector<std::vector<std::string>>& commands);
// Every type in each encoding either server uses, with and without TTLs.
void fillEveryType(RespConnection& c);
// One field of INFO persistence ("" when absent).
std::string infoField(RespConnection& c, const std::string& field);
// Waits (up to 30 s, looking every 10 ms) until `condition` holds.
bool waitUntil(const std::function<bool()>& condition);

// Starts keyloop with `config`, which must refuse to start: its exit
// code and its log.
std::pair<int, std::string> refusedStart(const std::string& config);

// A 1 MB tmpfs on `path` (the tests need root, as CI has); grow() remounts it at 64 MB.
struct SmallDisk {
  explicit SmallDisk(const std::string& path);
  ~SmallDisk();
  bool grow();
  std::string path;
  bool mounted = false;
};

}  // namespace keyloop::test
