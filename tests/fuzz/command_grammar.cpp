#include "tests/fuzz/command_grammar.h"

#include <algorithm>
#include <cctype>

#include "common/resp/reply_reader.h"

namespace keyloop::fuzz {

namespace {

// A bulk or simple string's text ("" for anything else).
std::string textOf(std::string_view frame) {
  if (!frame.empty() && frame[0] == '+') return std::string(frame.substr(1, frame.find("\r\n") - 1));
  return std::string(resp::replyBulk(frame).value_or(""));
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

Argument parseArgument(std::string_view map) {
  Argument a;
  const std::vector<std::string_view> fields = resp::replyElements(map);
  for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string field = textOf(fields[i]);
    if (field == "name") a.name = textOf(fields[i + 1]);
    else if (field == "type") a.type = textOf(fields[i + 1]);
    else if (field == "token") a.token = textOf(fields[i + 1]);
    else if (field == "flags") {
      for (std::string_view flag : resp::replyElements(fields[i + 1])) {
        const std::string f = textOf(flag);
        a.optional = a.optional || f == "optional";
        a.multiple = a.multiple || f == "multiple";
        a.multipleToken = a.multipleToken || f == "multiple_token";
      }
    } else if (field == "arguments") {
      for (std::string_view child : resp::replyElements(fields[i + 1])) a.children.push_back(parseArgument(child));
    }
  }
  return a;
}

void parseDoc(std::vector<std::string> name, std::string_view map, std::vector<CommandDoc>& out) {
  CommandDoc doc{name, {}};
  bool container = false;
  const std::vector<std::string_view> fields = resp::replyElements(map);
  for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string field = textOf(fields[i]);
    if (field == "arguments") {
      for (std::string_view arg : resp::replyElements(fields[i + 1])) doc.arguments.push_back(parseArgument(arg));
    } else if (field == "subcommands") {
      container = true;
      const std::vector<std::string_view> subs = resp::replyElements(fields[i + 1]);
      for (std::size_t s = 0; s + 1 < subs.size(); s += 2) {
        const std::string full = textOf(subs[s]);  // "object|encoding"
        parseDoc({name[0], upper(full.substr(full.find('|') + 1))}, subs[s + 1], out);
      }
    }
  }
  if (!container) out.push_back(std::move(doc));
}

// Boundary values by argument type; a few more by argument name (a
// timeout must not block a blocking command for long, an expiry must not
// fire between the two servers' replies).
const std::vector<std::string> kIntegers = {
    "0", "1", "-1", "2", "3", "10", "-2", "100", "9223372036854775807", "-9223372036854775808",
    "9223372036854775808", "-9223372036854775809", "4294967296", "18446744073709551616", "2147483648",
    "1.5", "abc", "", "+1", " 1", "-0", "01", "1e3"};
const std::vector<std::string> kDoubles = {
    "0", "1", "-1", "1.5", "-2.5", "inf", "-inf", "+inf", "nan", "1e308", "-1e308", "1.7976931348623157e309",
    "(1", "(-inf", "abc", "", "5", "9223372036854775807", "-9223372036854775808", "0x10", "1e-320", "3.0e2"};
const std::vector<std::string> kStrings = {
    "a", "b", "c", "", "1", "-5", "hello", "f1", "m1", "Palermo", "9223372036854775807", "1.5", "inf",
    "(a", "[b", "-", "+", "*", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "\x01\xff\x00z", "nan"};
const std::vector<std::string> kPatterns = {"*", "a*", "*a*", "?", "[a-c]*", "[", "\\", "", "h[^e]llo", "{t}*"};
const std::vector<std::string> kTimes = {"0", "-1", "100000", "4102444800", "9223372036854775807",
                                         "-9223372036854775808", "abc", "1.5", ""};
const std::vector<std::string> kMillis = {"0", "-1", "100000000", "4102444800000", "9223372036854775807",
                                          "-9223372036854775808", "abc", ""};
// What a bent call gets: never a small positive number, which could be a
// timeout that blocks or an expiry that fires between the two replies.
const std::vector<std::string> kJunk = {"abc", "", "-1", "1e308", "nan", "9223372036854775808", "-9223372036854775808",
                                        "(1", "[a", "WITHSCORES", "COUNT", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
const std::vector<std::string> kTimeouts = {"0.01", "0.001", "-1", "abc", "nan", "1e308", "-0.5", ""};

const std::string& pick(const std::vector<std::string>& from, std::mt19937_64& rng) { return from[rng() % from.size()]; }

bool nameHas(const Argument& a, std::string_view part) { return a.name.find(part) != std::string::npos; }

std::string valueFor(const Argument& a, const ValuePools& pools, std::mt19937_64& rng) {
  if (a.type == "key") return rng() % 10 == 0 ? pools.missing : pick(pools.keys, rng);
  if (nameHas(a, "timeout")) return pick(kTimeouts, rng);
  if (nameHas(a, "milliseconds") || nameHas(a, "unix-time-milliseconds")) return pick(kMillis, rng);
  if (a.type == "unix-time" || nameHas(a, "seconds")) return pick(kTimes, rng);
  if (a.type == "integer") return pick(kIntegers, rng);
  if (a.type == "double") return pick(kDoubles, rng);
  if (a.type == "pattern") return pick(kPatterns, rng);
  if (rng() % 3 == 0 && !pools.members.empty()) return pick(pools.members, rng);
  return pick(kStrings, rng);
}

void emit(const Argument& a, const ValuePools& pools, std::mt19937_64& rng, std::vector<std::string>& out);

void emitOnce(const Argument& a, const ValuePools& pools, std::mt19937_64& rng, std::vector<std::string>& out,
              bool withToken) {
  if (withToken && !a.token.empty()) out.push_back(rng() % 8 == 0 ? lower(a.token) : a.token);  // tokens are case-insensitive
  if (a.type == "pure-token") return;
  if (a.type == "oneof") {
    if (!a.children.empty()) emit(a.children[rng() % a.children.size()], pools, rng, out);
    return;
  }
  if (a.type == "block") {
    for (const Argument& child : a.children) emit(child, pools, rng, out);
    return;
  }
  out.push_back(valueFor(a, pools, rng));
}

void emit(const Argument& a, const ValuePools& pools, std::mt19937_64& rng, std::vector<std::string>& out) {
  if (a.optional && rng() % 2 == 0) return;
  const std::size_t times = a.multiple ? 1 + rng() % 3 : 1;
  for (std::size_t i = 0; i < times; ++i) emitOnce(a, pools, rng, out, i == 0 || a.multipleToken);
}

}  // namespace

std::vector<CommandDoc> parseCommandDocs(std::string_view reply) {
  std::vector<CommandDoc> docs;
  const std::vector<std::string_view> top = resp::replyElements(reply);
  for (std::size_t i = 0; i + 1 < top.size(); i += 2) parseDoc({upper(textOf(top[i]))}, top[i + 1], docs);
  std::sort(docs.begin(), docs.end(), [](const CommandDoc& a, const CommandDoc& b) { return a.name < b.name; });
  return docs;
}

std::vector<std::string> randomCall(const CommandDoc& doc, const ValuePools& pools, std::mt19937_64& rng) {
  std::vector<std::string> call = doc.name;
  for (const Argument& a : doc.arguments) emit(a, pools, rng, call);
  switch (rng() % 16) {  // bent now and then
    case 0:
      if (call.size() > doc.name.size()) call.erase(call.begin() + static_cast<long>(doc.name.size() + rng() % (call.size() - doc.name.size())));
      break;
    case 1:
      call.insert(call.begin() + static_cast<long>(doc.name.size() + rng() % (call.size() - doc.name.size() + 1)),
                  pick(kJunk, rng));
      break;
    case 2:
      if (call.size() > doc.name.size()) call[doc.name.size() + rng() % (call.size() - doc.name.size())] = pick(kJunk, rng);
      break;
    case 3:  // command names are case-insensitive
      call[0] = lower(call[0]);
      break;
    default:
      break;
  }
  return call;
}

}  // namespace keyloop::fuzz
