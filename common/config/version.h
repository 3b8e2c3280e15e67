// What keyloop says it is: its own version, and the Redis version it
// answers as (INFO's redis_version, HELLO, an RDB file's redis-ver).
#pragma once

#include <string_view>

namespace keyloop {

inline constexpr std::string_view kRedisCompatibleVersion = "7.0.15";
inline constexpr std::string_view kKeyloopVersion = KEYLOOP_VERSION;

}  // namespace keyloop
