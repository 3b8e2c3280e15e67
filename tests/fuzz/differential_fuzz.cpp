#include "tests/fuzz/differential_fuzz.h"

#include <algorithm>
#include <deque>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include "common/resp/reply_reader.h"
#include "tests/fuzz/command_grammar.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::fuzz {

namespace {

using Call = std::vector<std::string>;
using test::RespConnection;

// Left out, and why: they describe or steer the server, the connection,
// replication or the clock rather than the data (INFO, CONFIG, CLIENT,
// HELLO, MONITOR, SUBSCRIBE...); scripts and functions take code, which
// the scripted differential tests cover; SELECT, MOVE and SWAPDB too
// (tests/differential/databases.txt: drawn here they lead the fixed seeds
// onto other sequences, one of which moves a 256 MB bitmap between workers,
// slower than the fuzzer's bound); DUMP's bytes are an encoding's choice; the
// unsubscribes answer once per channel; MULTI/EXEC are the Multi mode's.
const std::set<std::string> kLeftOut = {
    "ACL", "ASKING", "AUTH", "BGREWRITEAOF", "BGSAVE", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "DEBUG", "DUMP",
    "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FAILOVER", "FCALL", "FCALL_RO", "FUNCTION", "HELLO", "INFO",
    "LASTSAVE", "LATENCY", "LOLWUT", "MEMORY", "MIGRATE", "MODULE", "MONITOR", "MOVE", "PFDEBUG", "PFSELFTEST",
    "PSUBSCRIBE", "PSYNC", "QUIT", "READONLY", "READWRITE", "REPLCONF", "REPLICAOF", "RESET", "RESTORE",
    "RESTORE-ASKING", "ROLE", "SAVE", "SCRIPT", "SELECT", "SHUTDOWN", "SLAVEOF", "SLOWLOG", "SSUBSCRIBE",
    "SUBSCRIBE", "SWAPDB", "SYNC", "TIME", "WAIT", "OBJECT FREQ", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
    "MULTI", "EXEC", "DISCARD"};
// Compared by class (and error text) only: they read the clock, which the
// two servers read at different moments, or a set's order (SORT BY nosort).
const std::set<std::string> kClassOnly = {"TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "OBJECT IDLETIME"};
const std::set<std::string> kUnordered = {"SORT", "SORT_RO"};

struct Facts {
  bool blocking = false, write = false;
  enum class Compare { Bytes, Unordered, Class } compare = Compare::Bytes;
};

std::string textOf(std::string_view frame) {
  if (!frame.empty() && frame[0] == '+') return std::string(frame.substr(1, frame.find("\r\n") - 1));
  return std::string(resp::replyBulk(frame).value_or(""));
}

std::string nameOf(const Call& name) { return name.size() == 1 ? name[0] : name[0] + " " + name[1]; }

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// SORT with BY but no `*` in it does not sort: a set then comes in its
// hash table's order, which LIMIT cuts differently on each server.
bool unsortedLimit(const Call& call) {
  const std::string name = upper(call[0]);
  if (name != "SORT" && name != "SORT_RO") return false;
  bool by = false, limit = false;
  for (std::size_t i = 2; i < call.size(); ++i) {
    by = by || upper(call[i]) == "BY";
    limit = limit || upper(call[i]) == "LIMIT";
  }
  return by && limit;
}

// COMMAND INFO's flags and tips, by "NAME" or "NAME SUB".
void readFacts(std::string_view entry, const std::string& parent, std::map<std::string, Facts>& out) {
  const std::vector<std::string_view> e = resp::replyElements(entry);
  if (e.size() < 8) return;
  std::string name = upper(textOf(e[0]));
  if (const std::size_t bar = name.find('|'); bar != std::string::npos) name = parent + " " + name.substr(bar + 1);
  Facts facts;
  for (std::string_view flag : resp::replyElements(e[2])) {
    facts.blocking = facts.blocking || textOf(flag) == "blocking";
    facts.write = facts.write || textOf(flag) == "write";
  }
  for (std::string_view tip : resp::replyElements(e[7])) {
    const std::string t = textOf(tip);
    if (t == "nondeterministic_output") facts.compare = Facts::Compare::Class;
    if (t == "nondeterministic_output_order" && facts.compare == Facts::Compare::Bytes) facts.compare = Facts::Compare::Unordered;
  }
  if (kClassOnly.count(name)) facts.compare = Facts::Compare::Class;
  if (kUnordered.count(name)) facts.compare = Facts::Compare::Unordered;
  out[name] = facts;
  if (e.size() > 9) {
    for (std::string_view sub : resp::replyElements(e[9])) readFacts(sub, name, out);
  }
}

// The same data on both servers before every round of calls: every type
// in its small encodings and three past them, on keys under one hash tag (one worker: MULTI
// and scripts use only these) and on keys spread over the workers.
std::vector<Call> fixtureCalls(bool big) {
  std::vector<Call> calls;
  for (const std::string prefix : {"{t}", ""}) {
    const std::vector<Call> one = {
        {"SET", prefix + "str", "hello"}, {"SET", prefix + "int", "42"}, {"SET", prefix + "float", "3.5"},
        {"RPUSH", prefix + "list", "a", "b", "c", "a", "1", "2"}, {"SADD", prefix + "iset", "1", "2", "3", "-5"},
        {"SADD", prefix + "set", "a", "b", "c"}, {"ZADD", prefix + "zset", "1", "a", "2", "b", "3", "c", "3", "d"},
        {"ZADD", prefix + "zlex", "0", "a", "0", "b", "0", "c", "5", "d"},
        {"HSET", prefix + "hash", "f1", "v1", "f2", "2", "f3", "3.5"}, {"PFADD", prefix + "hll", "a", "b", "c"},
        {"GEOADD", prefix + "geo", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"},
        {"SETBIT", prefix + "bits", "7", "1"}, {"SETBIT", prefix + "bits", "100", "1"},
        {"SET", prefix + "vol", "v"}, {"EXPIREAT", prefix + "vol", "4102444800"}};
    calls.insert(calls.end(), one.begin(), one.end());
    // And the big encodings: a skiplist, a hashtable hash and set (every
    // fourth round: they take a while to build under the sanitizers).
    if (!big) continue;
    Call zadd{"ZADD", prefix + "bigz"}, hset{"HSET", prefix + "bighash"}, sadd{"SADD", prefix + "bigset"};
    for (int i = 0; i < 200; ++i) {
      const std::string member = "m" + std::to_string(i);
      zadd.insert(zadd.end(), {std::to_string(i % 7), member});
      hset.insert(hset.end(), {member, std::to_string(i)});
      sadd.push_back(member);
    }
    calls.insert(calls.end(), {zadd, hset, sadd});
  }
  return calls;
}

ValuePools poolsFor(Mode mode) {
  ValuePools pools;
  for (const Call& c : fixtureCalls(true)) {
    const bool tagged = c[1].rfind("{t}", 0) == 0;
    if ((tagged || mode == Mode::Plain) && std::find(pools.keys.begin(), pools.keys.end(), c[1]) == pools.keys.end()) {
      pools.keys.push_back(c[1]);
    }
  }
  pools.missing = mode == Mode::Plain ? "missing" : "{t}missing";
  pools.members = {"a", "b", "c", "d", "1", "2", "-5", "f1", "f2", "f3", "Palermo", "Catania", "hello"};
  return pools;
}

std::string quoted(const Call& call) {
  std::string text;
  for (const std::string& word : call) {
    text += text.empty() ? "" : " ";
    text += '"';
    for (char c : word) {
      if (c == '"' || c == '\\') text += '\\';
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
        static const char* kHex = "0123456789abcdef";
        text += "\\x";
        text += kHex[(static_cast<unsigned char>(c) >> 4) & 0xf];
        text += kHex[static_cast<unsigned char>(c) & 0xf];
      } else {
        text += c;
      }
    }
    text += '"';
  }
  return text;
}

std::string shown(const std::string& reply) {
  std::string text = reply.size() > 600 ? reply.substr(0, 600) + "..." : reply;
  std::string out;
  for (char c : text) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::vector<std::string> sortedElements(std::string_view reply) {
  std::vector<std::string> elements;
  for (std::string_view e : resp::replyElements(reply)) elements.emplace_back(e);
  std::sort(elements.begin(), elements.end());
  return elements;
}

// A SCAN page's cursor is the server's own business once the value is
// big enough for more than one page: [cursor, elements] by class then.
bool pagedScan(const Call& call, const std::string& reply) {
  const std::string name = upper(call[0]);
  if (name.size() < 4 || name.compare(name.size() - 4, 4, "SCAN") != 0) return false;
  const std::vector<std::string_view> parts = resp::replyElements(reply);
  return parts.size() == 2 && textOf(parts[0]) != "0";
}

bool same(const std::string& expected, const std::string& got, Facts::Compare how) {
  if (expected == got) return true;
  if (expected.empty() || got.empty() || expected[0] != got[0]) return false;
  if (expected[0] == '-') return false;  // an error's text is always compared
  if (how == Facts::Compare::Class) return true;
  if (how == Facts::Compare::Unordered) {
    return expected.substr(0, expected.find("\r\n")) == got.substr(0, got.find("\r\n")) &&
           sortedElements(expected) == sortedElements(got);
  }
  return false;
}

// One server's connection, reopened (with the protocol) when lost.
struct Side {
  std::uint16_t port = 0;
  int protocol = 2;
  std::unique_ptr<RespConnection> c;

  void open() {
    c = std::make_unique<RespConnection>(port);
    if (protocol == 3) {
      c->sendCommand({"HELLO", "3"});
      (void)c->readReply();
    }
  }
};

// What one call brought back from one server.
struct Outcome {
  std::string framing;               // MULTI's +OK and the call's +QUEUED (or its refusal)
  std::optional<std::string> reply;  // the call's own reply (its element of EXEC's); nullopt: none
  bool closed = false;               // and the connection ended
};

// keyloop's documented limits with several workers (README): a command
// that runs on every worker cannot run inside MULTI or a script there.
bool knownLimit(const std::string& reply) {
  for (const char* limit : {"cannot run in a transaction whose keys live on several workers",
                            "cannot run in a script on a keyloop of several workers",
                            "which it cannot read inside MULTI or a script on a keyloop of several workers",
                            "reaches another database only on the worker that owns the key",
                            "runs a transaction over several databases only when its keys live on one worker"}) {
    if (reply.find(limit) != std::string::npos) return true;
  }
  return false;
}

// redis-server's SORT reads errno after strtod without clearing it first,
// so an ERANGE left by an earlier command (ZSCAN's cursor 2^64) makes it
// refuse numbers it reads fine otherwise: keyloop answering is right.
bool staleErrnoInSort(const Call& call, const std::string& theirs, const std::string& mine) {
  const std::string name = upper(call[0]);
  return (name == "SORT" || name == "SORT_RO") && mine[0] != '-' &&
         theirs == "-ERR One or more scores can't be converted into double\r\n";
}

class Fuzzer {
 public:
  explicit Fuzzer(const FuzzOptions& o) : o_(o), rng_(o.seed), pools_(poolsFor(o.mode)) {}

  FuzzReport run();

 private:
  void startRedis();
  void loadFixture();
  void checkWorkers();
  Call wrap(const Call& call) const;
  std::vector<Call> framed(const Call& call) const;
  Outcome send(Side& side, const Call& call, std::chrono::milliseconds deadline);
  void one(const CommandDoc& doc, const Facts& facts);
  // DBSIZE and every pool key's TYPE on both servers: "" when they agree.
  std::string stateDifference();
  std::string keysOnOneSide();
  void fail(const std::string& what);

  FuzzOptions o_;
  std::mt19937_64 rng_;
  ValuePools pools_;
  std::unique_ptr<test::RedisServer> redis_;
  std::unique_ptr<test::KeyloopServer> keyloop_;
  Side toRedis_, toKeyloop_;
  std::map<int, pid_t> workers_;
  std::deque<std::string> recent_;
  FuzzReport report_;
};

void Fuzzer::startRedis() {
  redis_.reset();
  redis_ = std::make_unique<test::RedisServer>();
  toRedis_.port = redis_->port;
  toRedis_.protocol = o_.protocol;
  toRedis_.open();
  // Both servers close a connection whose replies pass 4 MB (SRANDMEMBER
  // with a count near -LONG_MAX would otherwise fill memory).
  toRedis_.c->command({"CONFIG", "SET", "client-output-buffer-limit", "normal 4194304 0 0"});
}

void Fuzzer::fail(const std::string& what) {
  std::string text = what + "\n  after:";
  for (const std::string& line : recent_) text += "\n    " + line;
  report_.failures.push_back(text);
  if (o_.progress) *o_.progress << "FAILURE: " << text << std::endl;
}

void Fuzzer::checkWorkers() {
  const std::map<int, pid_t> now = test::workerPidsBySlot(keyloop_->process.pid(), o_.workers);
  if (now != workers_) {
    fail("a keyloop worker was restarted");
    workers_ = now;
  }
}

void Fuzzer::loadFixture() {
  ++report_.fixtures;
  recent_.clear();
  const std::vector<Call> fixture = fixtureCalls(report_.fixtures % 4 == 0);
  for (Side* side : {&toRedis_, &toKeyloop_}) {
    side->open();  // a fresh connection: no MULTI, CLIENT REPLY or protocol left from the last round
    side->c->command({"FLUSHALL"});
    for (const Call& call : fixture) side->c->sendCommand(call);
    for (std::size_t i = 0; i < fixture.size(); ++i) (void)side->c->readReply();
  }
}

std::vector<Call> Fuzzer::framed(const Call& call) const {
  switch (o_.mode) {
    case Mode::Multi:
      return {{"MULTI"}, call, {"EXEC"}};
    case Mode::Script: {
      Call eval{"EVAL", "return redis.pcall(unpack(ARGV))", "1", "{t}str"};
      eval.insert(eval.end(), call.begin(), call.end());
      return {eval};
    }
    default:
      return {call};
  }
}

Outcome Fuzzer::send(Side& side, const Call& call, std::chrono::milliseconds deadline) {
  const std::vector<Call> requests = framed(call);
  std::string bytes;
  for (const Call& r : requests) bytes += RespConnection::encode(r);
  side.c->send(bytes);
  Outcome outcome;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    std::optional<std::string> reply = side.c->readReply(deadline);
    if (!reply) {
      outcome.closed = side.c->end() != RespConnection::End::None;
      outcome.reply.reset();
      return outcome;
    }
    if (i + 1 < requests.size()) {
      outcome.framing += *reply;
      continue;
    }
    // Inside MULTI the call's own reply is EXEC's one element: compared as such.
    const std::vector<std::string_view> inner = resp::replyElements(*reply);
    outcome.reply = o_.mode == Mode::Multi && inner.size() == 1 && (*reply)[0] == '*' ? std::string(inner[0]) : *reply;
  }
  return outcome;
}

void Fuzzer::one(const CommandDoc& doc, const Facts& facts) {
  const Call call = randomCall(doc, pools_, rng_);
  recent_.push_back(quoted(call));  // the round so far: what led to a difference
  ++report_.sent;
  // A blocking call waits at most its (small) timeout; anything else
  // answers at once: a generous bound tells a hang from a slow box.
  const auto deadline = facts.blocking ? std::chrono::milliseconds(3000) : std::chrono::milliseconds(15000);
  const Outcome mine = send(toKeyloop_, call, deadline);
  const Outcome theirs = send(toRedis_, call, deadline);
  if (!theirs.reply) {
    if (!redis_->process.running()) {
      ++report_.redisCrashes;
      report_.redisTrouble.push_back("crashed redis-server: " + quoted(call));
      startRedis();
    } else if (!theirs.closed) {
      ++report_.redisHangs;
      report_.redisTrouble.push_back((facts.blocking ? "blocked in redis-server: " : "hung redis-server: ") + quoted(call));
      toRedis_.open();
    } else {
      toRedis_.open();  // over its output limit, as keyloop must be
    }
    if (mine.closed && theirs.closed) ++report_.bothClosed;
    else if (!mine.reply && !mine.closed && !facts.blocking) fail("keyloop did not answer " + quoted(call));
    if (!mine.reply) toKeyloop_.open();
    return loadFixture();
  }
  if (!mine.reply) {
    fail(std::string(mine.closed ? "keyloop closed the connection on " : "keyloop did not answer ") + quoted(call) +
         "\n  redis-server: " + shown(*theirs.reply));
    toKeyloop_.open();
    return loadFixture();
  }
  if (staleErrnoInSort(call, *theirs.reply, *mine.reply)) {
    report_.redisTrouble.push_back("stale errno in redis-server's SORT: " + quoted(call));
    return loadFixture();
  }
  if (knownLimit(*mine.reply)) {
    ++report_.knownLimits;
    return loadFixture();  // redis-server ran it: the data may differ now
  }
  const Facts::Compare how =
      pagedScan(call, *theirs.reply) || pagedScan(call, *mine.reply) || unsortedLimit(call) ? Facts::Compare::Class
                                                                                             : facts.compare;
  if (mine.framing != theirs.framing || !same(*theirs.reply, *mine.reply, how)) {
    fail("replies differ for " + quoted(call) + "\n  redis-server: " + shown(theirs.framing + *theirs.reply) +
         "\n  keyloop:      " + shown(mine.framing + *mine.reply));
    return loadFixture();
  }
  // A random write (SPOP) leaves different data by design: reloaded below.
  const bool randomWrite = how == Facts::Compare::Class && facts.write;
  if (o_.checkState && !randomWrite) {
    if (const std::string differ = stateDifference(); !differ.empty()) {
      fail("the data differ after " + quoted(call) + differ);
      return loadFixture();
    }
  }
  switch (how) {
    case Facts::Compare::Bytes: ++report_.comparedBytes; break;
    case Facts::Compare::Unordered: ++report_.comparedUnordered; break;
    case Facts::Compare::Class:
      ++report_.comparedClass;
      // SPOP took different members on each: start again from the same data.
      if (randomWrite) loadFixture();
      break;
  }
}

// What a key holds, read the same way from either server: by the type
// redis-server names (a set's or hash's order is each server's own).
Call contentCall(const std::string& key, const std::string& typeReply, bool& unordered) {
  unordered = typeReply == "+set\r\n" || typeReply == "+hash\r\n";
  if (typeReply == "+string\r\n") return {"GET", key};
  if (typeReply == "+list\r\n") return {"LRANGE", key, "0", "-1"};
  if (typeReply == "+set\r\n") return {"SMEMBERS", key};
  if (typeReply == "+zset\r\n") return {"ZRANGE", key, "0", "-1", "WITHSCORES"};
  if (typeReply == "+hash\r\n") return {"HGETALL", key};
  return {"TYPE", key};
}

// The key names (KEYS, which like every reader skips keys past their
// time: DBSIZE would count those redis-server has not reclaimed yet) and
// what every fixture key holds.
std::string Fuzzer::stateDifference() {
  for (const std::string& key : pools_.keys) toRedis_.c->sendCommand({"TYPE", key});
  std::vector<Call> reads;
  std::vector<bool> unordered;
  for (const std::string& key : pools_.keys) {
    bool anyOrder = false;
    reads.push_back(contentCall(key, toRedis_.c->readReply().value_or(""), anyOrder));
    unordered.push_back(anyOrder);
  }
  for (const Call& c : reads) {
    toKeyloop_.c->sendCommand(c);
    toRedis_.c->sendCommand(c);
  }
  std::string text;
  for (std::size_t i = 0; i < reads.size(); ++i) {
    const std::string mine = toKeyloop_.c->readReply().value_or("<none>");
    const std::string theirs = toRedis_.c->readReply().value_or("<none>");
    const bool same = unordered[i] ? sortedElements(mine) == sortedElements(theirs) : mine == theirs;
    if (!same) {
      text += "\n  " + quoted(reads[i]) + "\n    redis-server: " + shown(theirs) + "\n    keyloop:      " + shown(mine);
    }
  }
  return text + keysOnOneSide();
}

// Names the keys only one server holds, with their type and time to live.
std::string Fuzzer::keysOnOneSide() {
  const std::vector<std::string> mine = sortedElements(toKeyloop_.c->command({"KEYS", "*"}));
  const std::vector<std::string> theirs = sortedElements(toRedis_.c->command({"KEYS", "*"}));
  std::string text;
  auto describe = [&](const std::vector<std::string>& a, const std::vector<std::string>& b, Side& side,
                      const char* who) {
    std::vector<std::string> only;
    std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only));
    for (const std::string& element : only) {
      const std::string key(textOf(element));
      text += std::string("\n  only on ") + who + ": " + shown(element) + " type " +
              shown(side.c->command({"TYPE", key})) + " pttl " + shown(side.c->command({"PTTL", key}));
    }
  };
  describe(mine, theirs, toKeyloop_, "keyloop");
  describe(theirs, mine, toRedis_, "redis-server");
  return text;
}

FuzzReport Fuzzer::run() {
  startRedis();
  keyloop_ = std::make_unique<test::KeyloopServer>("workers: " + std::to_string(o_.workers) +
                                                   "\nlimits:\n  client_output_buffer_limit: 4mb\n");
  toKeyloop_.port = keyloop_->port;
  toKeyloop_.protocol = o_.protocol;
  toKeyloop_.open();
  workers_ = test::workerPidsBySlot(keyloop_->process.pid(), o_.workers);

  const std::vector<CommandDoc> theirs = parseCommandDocs(toRedis_.c->command({"COMMAND", "DOCS"}));
  std::set<std::string> ours;
  {
    RespConnection plain(keyloop_->port);
    for (const CommandDoc& d : parseCommandDocs(plain.command({"COMMAND", "DOCS"}))) ours.insert(nameOf(d.name));
  }
  std::map<std::string, Facts> facts;
  {
    RespConnection plain(redis_->port);
    const std::string info = plain.command({"COMMAND", "INFO"});
    for (std::string_view entry : resp::replyElements(info)) readFacts(entry, "", facts);
  }
  std::vector<const CommandDoc*> docs;
  for (const CommandDoc& d : theirs) {
    const std::string name = nameOf(d.name);
    if (ours.count(name) && !kLeftOut.count(name) && !kLeftOut.count(d.name[0])) docs.push_back(&d);
  }
  if (o_.progress) *o_.progress << "fuzzing " << docs.size() << " commands and subcommands" << std::endl;

  const auto start = std::chrono::steady_clock::now();
  auto more = [&] {
    if (o_.duration.count() > 0) return std::chrono::steady_clock::now() - start < o_.duration;
    return report_.sent < o_.calls;
  };
  while (more() && report_.failures.size() < 20) {
    loadFixture();
    for (int i = 0; i < 25 && more(); ++i) {
      const CommandDoc& doc = *docs[rng_() % docs.size()];
      one(doc, facts[nameOf(doc.name)]);
    }
    checkWorkers();
    if (o_.progress && report_.fixtures % 200 == 0) *o_.progress << report_.summary() << std::endl;
  }
  checkWorkers();
  return report_;
}

}  // namespace

std::string FuzzReport::summary() const {
  std::ostringstream out;
  out << sent << " calls: " << comparedBytes << " compared byte for byte, " << comparedUnordered
      << " as multisets, " << comparedClass << " by class; " << bothClosed << " closed by both over the output limit; "
      << redisHangs << " hung or blocked redis-server, " << redisCrashes << " crashed it; " << knownLimits
      << " met a documented multi-worker limit; " << failures.size()
      << " failures";
  return out.str();
}

FuzzReport runDifferentialFuzz(const FuzzOptions& options) { return Fuzzer(options).run(); }

}  // namespace keyloop::fuzz
