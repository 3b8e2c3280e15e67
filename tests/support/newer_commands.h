// The commands and subcommands of Redis 7.2-7.4 that keyloop has. The
// reference redis-server (7.0.15) cannot check them: their COMMAND INFO
// and DOCS come from those versions (worker/execution/command_reference_newer.inc),
// their replies are checked against 7.2/7.4's in their own tests.
#pragma once

#include <set>
#include <string>

namespace keyloop::test {

inline const std::set<std::string> kNewerThanRedis70 = {
    "client|no-touch", "client|setinfo", "waitaof",     "hexpire",      "hpexpire", "hexpireat",
    "hpexpireat",      "httl",           "hpttl",       "hexpiretime",  "hpexpiretime", "hpersist"};

}  // namespace keyloop::test
