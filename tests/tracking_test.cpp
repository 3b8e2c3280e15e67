// Client-side caching across workers, where one redis-server's tests cannot
// reach: a key read through one worker and written through another
// invalidates its reader, over RESP3 pushes and over a RESP2 redirect to a
// subscriber on any worker; writes by scripts, expiry, FLUSHALL and a
// reload that moves the key reach the reader; a real client-side cache
// (node-redis 5's) stays coherent. The replies themselves are compared
// with redis-server's in tests/differential/tracking.txt.
#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/ring/ring.h"
#include "tests/support/command.h"
#include "tests/support/keyspace.h"
#include "tests/support/node_clients.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

// `count` keys owned by worker `owner` of `workers`.
std::vector<std::string> keysOn(int owner, int workers, const std::string& stem, int count) {
  const ring::Ring ring(workers);
  std::vector<std::string> keys;
  for (int i = 0; static_cast<int>(keys.size()) < count; ++i) {
    const std::string key = stem + std::to_string(i);
    if (ring.ownerOf(key) == owner) keys.push_back(key);
  }
  return keys;
}

std::string push(const std::string& key) {
  return ">2\r\n$10\r\ninvalidate\r\n*1\r\n" + bulk(key);
}

std::string redirected(const std::string& key) {
  return "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n" + bulk(key);
}

// The messages that arrive until `n` came (or a read times out).
std::multiset<std::string> readMessages(RespConnection& c, std::size_t n) {
  std::multiset<std::string> got;
  while (got.size() < n) {
    auto m = c.readReply(std::chrono::seconds(5));
    if (!m) break;
    got.insert(*m);
  }
  return got;
}

// The next message that is not the null (a reload's "drop everything",
// which a redirect target may get twice while it is being located).
std::optional<std::string> nextBesidesNulls(RespConnection& c) {
  for (;;) {
    auto m = c.readReply(std::chrono::seconds(5));
    if (!m || (m->find("_\r\n") == std::string::npos && m->find("$-1\r\n") == std::string::npos)) return m;
  }
}

std::string clientId(RespConnection& c) {
  const std::string reply = c.command({"CLIENT", "ID"});
  return reply.substr(1, reply.size() - 3);
}

// Readers on many connections (so, both workers), each reading keys of
// both workers; writers on other connections: every reader gets exactly
// one invalidation per key it read, and nothing for keys it did not.
TEST(Tracking, AReadThroughOneWorkerIsInvalidatedByAWriteThroughAnother) {
  KeyloopServer keyloop("workers: 2\n");
  std::vector<std::string> keys = keysOn(0, 2, "a", 4);
  for (const std::string& k : keysOn(1, 2, "b", 4)) keys.push_back(k);
  std::vector<std::unique_ptr<RespConnection>> readers;
  RespConnection setup(keyloop.port);
  for (const std::string& k : keys) ASSERT_EQ(setup.command({"SET", k, "1"}), "+OK\r\n");
  for (int r = 0; r < 6; ++r) {
    readers.push_back(std::make_unique<RespConnection>(keyloop.port));
    ASSERT_EQ(readers.back()->command({"HELLO", "3"}).substr(0, 2), "%7");
    ASSERT_EQ(readers.back()->command({"CLIENT", "TRACKING", "on"}), "+OK\r\n");
    // Reader r reads every key but its own "untouched" one.
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (i % 6 != static_cast<std::size_t>(r)) {
        ASSERT_EQ(readers.back()->command({"GET", keys[i]}), bulk("1"));
      }
    }
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    RespConnection writer(keyloop.port);  // a new connection: either worker
    ASSERT_EQ(writer.command({"SET", keys[i], "2"}), "+OK\r\n");
    ASSERT_EQ(writer.command({"SET", keys[i], "3"}), "+OK\r\n") << "a second write: nobody reads it again";
  }
  for (std::size_t r = 0; r < readers.size(); ++r) {
    std::multiset<std::string> expected;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (i % 6 != r) expected.insert(push(keys[i]));
    }
    EXPECT_EQ(readMessages(*readers[r], expected.size()), expected) << "reader " << r;
    EXPECT_EQ(readers[r]->command({"PING"}), "+PONG\r\n") << "reader " << r << " got more than its keys";
  }
  RespConnection info(keyloop.port);
  EXPECT_NE(info.command({"INFO", "clients"}).find("tracking_clients:6\r\n"), std::string::npos);
}

// RESP2 clients redirect to subscribers wherever each talks: every
// invalidation reaches the subscriber on __redis__:invalidate, and once a
// subscriber is gone, a RESP3 tracking client is told its redirect broke.
TEST(Tracking, RedirectionReachesASubscriberOnAnyWorker) {
  KeyloopServer keyloop("workers: 2\n");
  const std::vector<std::string> keys = {keysOn(0, 2, "r", 1)[0], keysOn(1, 2, "s", 1)[0]};
  std::vector<std::unique_ptr<RespConnection>> subscribers, trackers;
  std::vector<std::string> ids;
  RespConnection writer(keyloop.port);
  for (int i = 0; i < 6; ++i) {
    subscribers.push_back(std::make_unique<RespConnection>(keyloop.port));
    const std::string id = ids.emplace_back(clientId(*subscribers.back()));
    ASSERT_EQ(subscribers.back()->command({"SUBSCRIBE", "__redis__:invalidate"}).substr(0, 4), "*3\r\n");
    trackers.push_back(std::make_unique<RespConnection>(keyloop.port));
    ASSERT_EQ(trackers.back()->command({"CLIENT", "TRACKING", "on", "REDIRECT", id}), "+OK\r\n");
    EXPECT_EQ(trackers.back()->command({"CLIENT", "GETREDIR"}), ":" + id + "\r\n");
    for (const std::string& k : keys) ASSERT_EQ(trackers.back()->command({"GET", k}), "$-1\r\n");
  }
  for (const std::string& k : keys) ASSERT_EQ(writer.command({"SET", k, "x"}), "+OK\r\n");
  for (std::size_t i = 0; i < subscribers.size(); ++i) {
    EXPECT_EQ(readMessages(*subscribers[i], 2), (std::multiset<std::string>{redirected(keys[0]), redirected(keys[1])}))
        << "subscriber " << i;
  }
  // A RESP3 tracker whose target goes: the next invalidation says so.
  RespConnection tracker(keyloop.port);
  ASSERT_EQ(tracker.command({"HELLO", "3"}).substr(0, 2), "%7");
  for (std::size_t i = 0; i < subscribers.size(); ++i) {
    const std::string& id = ids[i];
    ASSERT_EQ(tracker.command({"CLIENT", "TRACKING", "off"}), "+OK\r\n");
    ASSERT_EQ(tracker.command({"CLIENT", "TRACKING", "on", "REDIRECT", id}), "+OK\r\n");
    ASSERT_EQ(tracker.command({"GET", keys[i % 2]}).substr(0, 1), "$");
    subscribers[i].reset();
    ASSERT_TRUE(waitUntil([&] { return writer.command({"CLIENT", "KILL", "ID", id}) == ":0\r\n"; }));
    ASSERT_EQ(writer.command({"SET", keys[i % 2], "y" + std::to_string(i)}), "+OK\r\n");
    EXPECT_EQ(tracker.readReply(), ">2\r\n$21\r\ntracking-redir-broken\r\n:" + id + "\r\n") << "subscriber " << i;
    EXPECT_NE(tracker.command({"CLIENT", "TRACKINGINFO"}).find("broken_redirect"), std::string::npos);
  }
  RespConnection unknown(keyloop.port);
  EXPECT_EQ(unknown.command({"CLIENT", "TRACKING", "on", "REDIRECT", "999999"}),
            "-ERR The client ID you want redirect to does not exist\r\n");
}

// Writes that are not a client's own command reach readers too: a script
// writing a key of another worker, expiry, FLUSHALL (the null: every key).
TEST(Tracking, ScriptsExpiryAndFlushesInvalidate) {
  KeyloopServer keyloop("workers: 2\n");
  const std::string here = keysOn(0, 2, "h", 1)[0], there = keysOn(1, 2, "t", 1)[0];
  RespConnection reader(keyloop.port), writer(keyloop.port);
  ASSERT_EQ(reader.command({"HELLO", "3"}).substr(0, 2), "%7");
  ASSERT_EQ(reader.command({"CLIENT", "TRACKING", "on"}), "+OK\r\n");
  ASSERT_EQ(reader.command({"MGET", here, there}), "*2\r\n_\r\n_\r\n");
  // A script that builds its key names (it reaches the other worker itself).
  ASSERT_EQ(writer.command({"EVAL", "redis.call('set', ARGV[1], 1) redis.call('set', ARGV[2], 1)", "0", here, there}),
            "$-1\r\n");
  EXPECT_EQ(readMessages(reader, 2), (std::multiset<std::string>{push(here), push(there)}));
  ASSERT_EQ(writer.command({"PEXPIRE", here, "300"}), ":1\r\n");
  ASSERT_EQ(writer.command({"PEXPIRE", there, "300"}), ":1\r\n");
  ASSERT_EQ(reader.command({"MGET", here, there}), "*2\r\n" + bulk("1") + bulk("1"));
  // The active expire cycle deletes both (no client touches them).
  EXPECT_EQ(readMessages(reader, 2), (std::multiset<std::string>{push(here), push(there)}));
  ASSERT_EQ(reader.command({"GET", here}), "_\r\n");
  ASSERT_EQ(writer.command({"FLUSHALL"}), "+OK\r\n");
  EXPECT_EQ(reader.readReply(), ">2\r\n$10\r\ninvalidate\r\n_\r\n");
  EXPECT_EQ(reader.command({"PING"}), "+PONG\r\n") << "one null per flush, not one per worker";
}

// A reload to another worker count hands the tracking clients over with
// their mode and id: each is told to drop its whole cache (the new owners
// do not know what it read), and what it reads afterwards is tracked again,
// its redirect target found where it went.
TEST(Tracking, AReloadKeepsTrackingAndTheRedirectTarget) {
  ReloadableServer k("tracking-reload", "workers: 2\n");
  RespConnection resp3(k.server.port), resp2(k.server.port), subscriber(k.server.port), writer(k.server.port);
  const std::string subscriberId = clientId(subscriber);
  ASSERT_EQ(subscriber.command({"SUBSCRIBE", "__redis__:invalidate"}).substr(0, 4), "*3\r\n");
  ASSERT_EQ(resp3.command({"HELLO", "3"}).substr(0, 2), "%7");
  ASSERT_EQ(resp3.command({"CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "b:"}), "+OK\r\n");
  ASSERT_EQ(resp2.command({"CLIENT", "TRACKING", "on", "REDIRECT", subscriberId}), "+OK\r\n");
  const std::string resp3Id = clientId(resp3);
  const CommandResult reloaded = k.reloadWorkers(3);
  ASSERT_EQ(reloaded.exitCode, 0) << reloaded.output;
  ASSERT_TRUE(k.settlesTo(3));
  EXPECT_EQ(resp3.readReply(), ">2\r\n$10\r\ninvalidate\r\n_\r\n");
  EXPECT_EQ(subscriber.readReply(), "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n");
  EXPECT_EQ(clientId(resp3), resp3Id) << "a handed-over connection keeps its id";
  EXPECT_EQ(resp2.command({"CLIENT", "GETREDIR"}), ":" + subscriberId + "\r\n");
  for (const std::string& key : keysOn(2, 3, "k", 2)) ASSERT_EQ(resp2.command({"GET", key}), "$-1\r\n");
  for (const std::string& key : keysOn(2, 3, "k", 2)) {
    ASSERT_EQ(writer.command({"SET", key, "1"}), "+OK\r\n");
    EXPECT_EQ(nextBesidesNulls(subscriber), redirected(key));
  }
  ASSERT_EQ(writer.command({"SET", "b:1", "1"}), "+OK\r\n");
  EXPECT_EQ(nextBesidesNulls(resp3), push("b:1")) << "its BCAST prefix holds on every new worker";
}

// node-redis 5's client-side cache (RESP3) over both workers: a second read
// is served from the cache, and after writes from another connection no
// read returns a stale value once the invalidations are in.
TEST(Tracking, NodeRedisClientSideCacheStaysCoherent) {
  KeyloopServer keyloop("workers: 2\n");
  const std::string script = sourceDir() + "/tests/clients/tracking_client.js";
  const CommandResult node =
      runCommand("node " + script + " " + nodeClientModules() + " " + std::to_string(keyloop.port) + " 2>&1", 60);
  ASSERT_EQ(node.exitCode, 0) << node.output;
  EXPECT_NE(node.output.find("\"hits\":40,"), std::string::npos) << node.output;
  EXPECT_NE(node.output.find("\"stale\":[]"), std::string::npos) << node.output;
}

}  // namespace
}  // namespace keyloop::test
