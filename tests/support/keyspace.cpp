#include "tests/support/keyspace.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/process.h"

namespace keyloop::test {

namespace fs = std::filesystem;

std::string bulk(const std::string& s) { return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n"; }

std::string freshDir(const std::string& tag) {
  const fs::path dir = fs::temp_directory_path() / ("keyloop-" + tag + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}


namespace {

// The bytes of a bulk string frame ("$3\r\nabc\r\n" -> "abc").
std::string unbulk(const std::string& frame) {
  const std::size_t start = frame.find("\r\n") + 2;
  return frame.substr(start, frame.size() - start - 2);
}

}  // namespace

std::map<std::string, std::string> contents(RespConnection& c) {
  // Every database the server has (a refused SELECT ends them: one
  // database in cluster mode), each key named with its database's number
  // after the first.
  std::map<std::string, std::string> all;
  for (int db = 0; db < 16; ++db) {
    if (c.command({"SELECT", std::to_string(db)}) != "+OK\r\n") break;
    for (auto& [key, value] : contentsOfOne(c)) all[db == 0 ? key : std::to_string(db) + "/" + key] = std::move(value);
  }
  c.command({"SELECT", "0"});
  return all;
}

std::map<std::string, std::string> contentsOfOne(RespConnection& c) {
  std::map<std::string, std::string> all;
  for (const std::string& frame : RespConnection::elements(c.command({"KEYS", "*"}))) {
    const std::string key = unbulk(frame);
    const std::string type = c.command({"TYPE", key});
    std::string value;
    if (type != "+string\r\n" && type != "+list\r\n" && type != "+zset\r\n" && type != "+hash\r\n" &&
        type != "+set\r\n" && type != "+stream\r\n") {
      ADD_FAILURE() << "key " << key << " has type " << type;
    } else if (type == "+stream\r\n") {
      // Entries, the groups' positions and counters, what each has pending and with whom.
      value = c.command({"XRANGE", key, "-", "+"}) + c.command({"XINFO", "GROUPS", key});
      for (const std::string& g : RespConnection::elements(c.command({"XINFO", "GROUPS", key}))) {
        const std::string name = unbulk(RespConnection::elements(g).at(1));
        value += c.command({"XPENDING", key, name});
        // Idle times change: each pending entry's id, consumer and deliveries.
        for (const std::string& row : RespConnection::elements(c.command({"XPENDING", key, name, "-", "+", "1000"}))) {
          const auto fields = RespConnection::elements(row);
          value += fields.at(0) + fields.at(1) + fields.at(3);
        }
      }
      // XINFO STREAM but for the radix tree's figures (each server's own).
      std::string kept;
      for (const std::string& row : RespConnection::elements(c.command({"XINFO", "STREAM", key}))) kept += row;
      value += kept.substr(0, kept.find("radix-tree-keys")) + kept.substr(kept.find("last-generated-id"));
    } else if (type == "+string\r\n") {
      value = c.command({"GET", key});
    } else if (type == "+list\r\n") {
      value = c.command({"LRANGE", key, "0", "-1"});
    } else if (type == "+zset\r\n") {
      value = c.command({"ZRANGE", key, "0", "-1", "WITHSCORES"});
    } else {
      std::vector<std::string> parts = RespConnection::elements(c.command({type == "+hash\r\n" ? "HGETALL" : "SMEMBERS", key}));
      std::vector<std::string> items;
      for (std::size_t i = 0; i < parts.size(); i += type == "+hash\r\n" ? 2 : 1) {
        items.push_back(parts[i] + (type == "+hash\r\n" ? "=" + parts[i + 1] : ""));
      }
      std::sort(items.begin(), items.end());
      for (const std::string& item : items) value += item + ",";
    }
    all[key] = type + value + " expires " + c.command({"PEXPIRETIME", key});
  }
  return all;
}

void sendAll(RespConnection& c, const std::vector<std::vector<std::string>>& commands) {
  for (const auto& command : commands) {
    const std::string reply = c.command(command);
    ASSERT_FALSE(reply.empty() || reply[0] == '-') << command[0] << ": " << reply;
  }
}


void fillEveryType(RespConnection& c) {
  std::vector<std::string> bigList{"RPUSH", "list:big"}, bigHash{"HSET", "hash:big"}, bigSet{"SADD", "set:big"},
      bigInts{"SADD", "set:bigints"}, bigZset{"ZADD", "zset:big"};
  for (int i = 0; i < 600; ++i) {
    const std::string n = std::to_string(i);
    bigList.push_back("element-" + n);
    bigHash.insert(bigHash.end(), {"field-" + n, "value-" + n});
    bigSet.push_back("member-" + n);
    bigInts.push_back(std::to_string(i * 7 - 1000));
    bigZset.insert(bigZset.end(), {std::to_string(i * 0.5 - 10), "m-" + n});
  }
  sendAll(c, {{"SET", "str:small", "hello"},
              {"SET", "str:int", "-12345"},
              {"SET", "str:bigint", "9223372036854775807"},
              {"SET", "str:long", std::string(5000, 'a') + "tail"},
              {"SET", std::string("bin\0key", 7), std::string("\0\1\2\r\n", 5)},
              {"SET", "12345", "an integer-looking key"},
              {"SET", "str:ttl", "v", "PX", "900000"},
              {"PFADD", "hll", "a", "b", "c"},
              {"RPUSH", "list:small", "a", "1", "-2", "c"},
              {"HSET", "hash:small", "f", "v", "n", "42"},
              {"SADD", "set:ints", "1", "2", "-3"},
              {"SADD", "set:small", "x", "y"},
              {"ZADD", "zset:small", "1", "a", "-2.5", "b", "inf", "c"},
              {"EXPIRE", "hash:small", "7200"},
              bigList, bigHash, bigSet, bigInts, bigZset,
              {"EXPIRE", "zset:big", "3600"}});
  // A stream with a deleted entry, a trimmed start, integers and changing
  // fields across several nodes, and a consumer group with pending entries.
  std::vector<std::vector<std::string>> stream;
  for (int i = 1; i <= 260; ++i) {
    stream.push_back({"XADD", "stream:events", std::to_string(i) + "-" + std::to_string(i % 3), "n", std::to_string(i * 37),
                      i % 50 == 0 ? "other" : "text", i % 2 ? "odd" : std::string(70, 'e')});
  }
  stream.push_back({"XDEL", "stream:events", "7-1"});
  stream.push_back({"XTRIM", "stream:events", "MINID", "3"});
  stream.push_back({"XGROUP", "CREATE", "stream:events", "workers", "0"});
  stream.push_back({"XGROUP", "CREATE", "stream:events", "late", "$"});
  stream.push_back({"XREADGROUP", "GROUP", "workers", "alice", "COUNT", "3", "STREAMS", "stream:events", ">"});
  stream.push_back({"XREADGROUP", "GROUP", "workers", "bob", "COUNT", "2", "STREAMS", "stream:events", ">"});
  stream.push_back({"XACK", "stream:events", "workers", "4-1"});
  stream.push_back({"XGROUP", "CREATECONSUMER", "stream:events", "workers", "carol"});
  stream.push_back({"XADD", "stream:empty", "5-5", "f", "v"});
  stream.push_back({"XDEL", "stream:empty", "5-5"});
  sendAll(c, stream);
  // Keys of other databases, one of the same name as database 0's.
  if (c.command({"SELECT", "3"}) != "+OK\r\n") return;
  sendAll(c, {{"SET", "str:small", "in database 3"},
              {"HSET", "hash:db3", "f", "v"},
              {"EXPIRE", "hash:db3", "7200"},
              {"SELECT", "15"},
              {"RPUSH", "list:db15", "x", "y", "z"},
              {"ZADD", "zset:db15", "1", "one"},
              {"SELECT", "0"}});
}

std::string infoField(RespConnection& c, const std::string& field) {
  const std::string info = c.command({"INFO", "persistence"});
  const std::size_t at = info.find(field + ":");
  if (at == std::string::npos) return "";
  return info.substr(at + field.size() + 1, info.find("\r\n", at) - at - field.size() - 1);
}

bool waitUntil(const std::function<bool()>& condition) {
  for (int i = 0; i < 3000; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

std::pair<int, std::string> refusedStart(const std::string& config) {
  const std::uint16_t port = freePort();
  const TempDir dir("keyloop-test-");
  const std::string path = writeConfig(dir.path, port, config);
  Process p(keyloopBinary(), {"-c", path}, path + ".log");
  const auto status = p.stop(0, std::chrono::seconds(30));
  return {status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1, readFile(path + ".log")};
}

SmallDisk::SmallDisk(const std::string& path) : path(path) {
  mounted = ::mount("tmpfs", path.c_str(), "tmpfs", 0, "size=1m") == 0;
}

SmallDisk::~SmallDisk() {
  if (mounted) ::umount2(path.c_str(), MNT_DETACH);
}

bool SmallDisk::grow() { return ::mount("tmpfs", path.c_str(), "tmpfs", MS_REMOUNT, "size=64m") == 0; }

}  // namespace keyloop::test
