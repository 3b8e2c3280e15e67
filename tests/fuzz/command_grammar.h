// CommandGrammar: every command's arguments as redis-server's COMMAND DOCS
// describes them (tokens, optional parts, blocks, one-ofs, multiples),
// and random but well-formed calls built from them, with values drawn from
// pools that sit on the edges (LONG_MIN, inf, "(1", empty, junk...).
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace keyloop::fuzz {

struct Argument {
  std::string name, type, token;  // type: key, string, integer, double, pattern, unix-time, pure-token, oneof, block
  bool optional = false, multiple = false, multipleToken = false;
  std::vector<Argument> children;  // oneof, block
};

struct CommandDoc {
  std::vector<std::string> name;  // {"ZADD"} or {"OBJECT", "ENCODING"}
  std::vector<Argument> arguments;
};

// Every command and subcommand in a COMMAND DOCS reply (RESP2 bytes).
std::vector<CommandDoc> parseCommandDocs(std::string_view reply);

// Where values come from: the fixture's keys, and members and fields that
// exist in it, besides the boundary values every type gets.
struct ValuePools {
  std::vector<std::string> keys;
  std::string missing;  // a key no fixture has (under the fixture's hash tag when it must be)
  std::vector<std::string> members;
};

// One call of `doc`: its name, then arguments by its grammar. Now and then
// the call is bent (an argument dropped, one added, a value swapped for
// junk) so that wrong arities and syntax errors are compared too.
std::vector<std::string> randomCall(const CommandDoc& doc, const ValuePools& pools, std::mt19937_64& rng);

}  // namespace keyloop::fuzz
