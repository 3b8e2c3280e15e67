// DifferentialFuzz: random calls built from redis-server's own COMMAND DOCS
// go to keyloop and to redis-server, each from the same fixture; every
// deterministic reply must match (by COMMAND INFO's tips: byte for byte,
// as a multiset for nondeterministic_output_order, by class and error
// text for nondeterministic_output), and keyloop must never drop the
// connection or lose a worker. Commands that hang or crash redis-server
// itself are reported, not compared, and still sent to keyloop.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace keyloop::fuzz {

enum class Mode { Plain, Multi, Script };  // each call alone, inside MULTI/EXEC, or through EVAL

struct FuzzOptions {
  int workers = 1;
  int protocol = 2;  // RESP2 or RESP3 (HELLO 3)
  Mode mode = Mode::Plain;
  std::uint64_t seed = 1;
  std::uint64_t calls = 1000;  // stop after this many calls...
  std::chrono::seconds duration{0};  // ...or after this long, when non-zero
  // After every call, compare the servers' key count and each key's type
  // too: finds the call that made the data differ while replies agreed.
  bool checkState = false;
  std::ostream* progress = nullptr;
};

struct FuzzReport {
  std::uint64_t sent = 0, comparedBytes = 0, comparedUnordered = 0, comparedClass = 0;
  std::uint64_t redisHangs = 0, redisCrashes = 0, bothClosed = 0, knownLimits = 0, fixtures = 0;
  std::vector<std::string> failures;      // keyloop's: a difference, a lost connection, a lost worker
  std::vector<std::string> redisTrouble;  // calls that hung or crashed redis-server, or met a quirk of it
  std::string summary() const;
};

FuzzReport runDifferentialFuzz(const FuzzOptions& options);

}  // namespace keyloop::fuzz
