// Config: defaults, the shipped file, and errors that point at file:line:col.
#include "common/config/config.h"
#include "common/config/notify_flags.h"

#include <gtest/gtest.h>

namespace keyloop {
namespace {

std::string errorOf(const std::string& yaml) {
  ConfigResult r = parseConfig(yaml, "test.yaml");
  return r ? "" : r.error();
}

TEST(Config, ShippedDefaultFileLoadsWithTheDocumentedDefaults) {
  ConfigResult r = loadConfig(std::string(KEYLOOP_SOURCE_DIR) + "/conf/keyloop.yaml");
  ASSERT_TRUE(r.ok()) << r.error();
  const Config& c = r.value();
  const Config defaults;
  ASSERT_EQ(c.listen.size(), 1u);
  EXPECT_EQ(c.listen[0].port, 6379);
  EXPECT_EQ(c.listen[0].address, "127.0.0.1");
  EXPECT_EQ(c.listen[0].backlog, 511);
  EXPECT_EQ(c.workers, 0);
  EXPECT_EQ(c.protoMaxBulkLen, defaults.protoMaxBulkLen);
  EXPECT_EQ(c.clientQueryBufferLimit, defaults.clientQueryBufferLimit);
  EXPECT_EQ(c.maxClients, defaults.maxClients);
  EXPECT_EQ(c.expireBudgetMicros, 1000u);
  EXPECT_TRUE(c.metricsEnabled);
  EXPECT_EQ(c.metricsListen.port, 9121);
  EXPECT_EQ(c.cluster, ClusterConfig{});
  EXPECT_FALSE(c.cluster.enabled);
  EXPECT_EQ(c.cluster.port, 7000);
}

TEST(Config, ClusterSectionIsReadAndChecked) {
  ConfigResult r = parseConfig("cluster:\n  enabled: yes\n  port: 7100\n  announce: 10.0.0.5\n", "test.yaml");
  ASSERT_TRUE(r.ok()) << r.error();
  const ClusterConfig& cluster = r.value().cluster;
  EXPECT_TRUE(cluster.enabled);
  EXPECT_EQ(cluster.port, 7100);
  EXPECT_EQ(cluster.announce, "10.0.0.5");
  EXPECT_EQ(errorOf("cluster:\n  prot: 7000\n"), "test.yaml:2:3: unknown key 'prot' in 'cluster' (did you mean 'port'?)");
  EXPECT_EQ(errorOf("cluster:\n  enabled: maybe\n"),
            "test.yaml:2:12: 'enabled' must be one of yes, no, true, false, got 'maybe'");
  EXPECT_EQ(errorOf("cluster:\n  port: 70000\n"), "test.yaml:2:9: 'port' must be an integer from 1 to 65535, got '70000'");
}

TEST(Config, NotifyKeyspaceEventsTakesRedissLetters) {
  ConfigResult r = parseConfig("notify_keyspace_events: KEA\n", "test.yaml");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(keyspace_events::format(r.value().notifyKeyspaceEvents), "AKE");
  EXPECT_EQ(keyspace_events::format(*keyspace_events::parse("Kgn$")), "g$nK");
  EXPECT_FALSE(keyspace_events::parse("KQ").has_value());
  EXPECT_EQ(errorOf("notify_keyspace_events: Q\n"),
            "test.yaml:1:25: 'notify_keyspace_events' takes the letters of Redis's notify-keyspace-events (Ag$lshzxeKEtmdn)");
}

TEST(Config, PubsubOutputBufferLimitTakesRedissThreeValues) {
  ConfigResult r = parseConfig("limits:\n  pubsub_output_buffer_limit: 1mb 512kb 5\n", "test.yaml");
  ASSERT_TRUE(r.ok()) << r.error();
  const OutputLimit& limit = r.value().pubsubOutputLimit;
  EXPECT_EQ(limit.hard, 1024u * 1024);
  EXPECT_EQ(limit.soft, 512u * 1024);
  EXPECT_EQ(limit.softSeconds, 5u);
  EXPECT_EQ(errorOf("limits:\n  pubsub_output_buffer_limit: 1mb\n"),
            "test.yaml:2:31: 'pubsub_output_buffer_limit' takes '<hard> <soft> <seconds>' like '32mb 8mb 60'");
}

TEST(Config, PersistenceSectionTakesRedissSaveRules) {
  const Config defaults;
  EXPECT_EQ(formatSaveRules(defaults.persistence.save), "3600 1 300 100 60 10000");  // redis.conf's
  EXPECT_EQ(defaults.persistence.dir, ".");
  ConfigResult r = parseConfig("persistence:\n  dir: /var/lib/keyloop\n  snapshot:\n    file: db.rdb\n    save: \"900 1 60 5\"\n"
                               "    stop_writes_on_error: no\n", "test.yaml");
  ASSERT_TRUE(r.ok()) << r.error();
  const PersistenceConfig& p = r.value().persistence;
  EXPECT_EQ(p.dir, "/var/lib/keyloop");
  EXPECT_EQ(p.snapshotFile, "db.rdb");
  EXPECT_EQ(p.save, (std::vector<SaveRule>{{900, 1}, {60, 5}}));
  EXPECT_FALSE(p.stopWritesOnError);
  ConfigResult none = parseConfig("persistence:\n  snapshot:\n    save: \"\"\n", "test.yaml");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none.value().persistence.save.empty());
  EXPECT_EQ(errorOf("persistence:\n  snapshot:\n    save: \"900\"\n"),
            "test.yaml:3:11: 'save' takes pairs of seconds and changes (\"3600 1 300 100\"), or \"\" for none");
  EXPECT_EQ(errorOf("persistence:\n  snapshot:\n    file: sub/dump.rdb\n"),
            "test.yaml:3:11: 'file' is a file name inside 'dir' (no '/'), as Redis's dbfilename");
  ConfigResult aof = parseConfig(
      "persistence:\n  aof:\n    enabled: yes\n    fsync: always\n    dir: log\n    file: k.aof\n"
      "    auto_rewrite_percentage: 50\n    auto_rewrite_min_size: 1mb\n    load_truncated: no\n",
      "test.yaml");
  ASSERT_TRUE(aof.ok()) << aof.error();
  const PersistenceConfig& a = aof.value().persistence;
  EXPECT_TRUE(a.aofEnabled);
  EXPECT_EQ(a.aofFsync, "always");
  EXPECT_EQ(a.aofPath(), "./log");
  EXPECT_EQ(a.aofFile, "k.aof");
  EXPECT_EQ(a.autoRewritePercentage, 50);
  EXPECT_EQ(a.autoRewriteMinSize, 1u << 20);
  EXPECT_FALSE(a.aofLoadTruncated);
  EXPECT_EQ(errorOf("persistence:\n  aof:\n    dir: a/b\n"),
            "test.yaml:3:10: 'dir' is a name inside 'persistence.dir' (no '/'), as Redis's appenddirname");
  EXPECT_EQ(errorOf("persistence:\n  aof:\n    fsync: sometimes\n"),
            "test.yaml:3:12: 'fsync' must be one of always, everysec, no, got 'sometimes'");
  EXPECT_EQ(errorOf("persistence:\n  snapshots: {}\n"),
            "test.yaml:2:3: unknown key 'snapshots' in 'persistence' (did you mean 'snapshot'?)");
}

TEST(Config, MaxmemoryTakesRedissPolicies) {
  ConfigResult r = parseConfig("maxmemory:\n  limit: 4gb\n  policy: allkeys-lfu\n  samples: 10\n", "test.yaml");
  ASSERT_TRUE(r.ok()) << r.error();
  const MemoryLimitConfig& m = r.value().maxmemory;
  EXPECT_EQ(m.limit, 4ull << 30);
  EXPECT_EQ(m.policy, EvictionPolicy::AllKeysLfu);
  EXPECT_EQ(m.samples, 10);
  EXPECT_EQ(Config{}.maxmemory.policy, EvictionPolicy::NoEviction);
  EXPECT_EQ(errorOf("maxmemory:\n  policy: allkeys-lru2\n"),
            "test.yaml:2:11: 'policy' must be one of volatile-lru, volatile-lfu, volatile-random, volatile-ttl, "
            "allkeys-lru, allkeys-lfu, allkeys-random, noeviction, got 'allkeys-lru2'");
}

TEST(Config, EncodingSectionIsReadAndChecked) {
  ConfigResult r = parseConfig("encoding:\n  hash_max_listpack_entries: 4\n  set_max_intset_entries: 0\n", "test.yaml");
  ASSERT_TRUE(r.ok()) << r.error();
  const EncodingConfig& e = r.value().encoding;
  EXPECT_EQ(e.hashMaxListpackEntries, 4u);
  EXPECT_EQ(e.setMaxIntsetEntries, 0u);
  EXPECT_EQ(e.hashMaxListpackValue, 64u);  // redis.conf's defaults for the rest
  EXPECT_EQ(e.setMaxListpackEntries, 128u);
  EXPECT_EQ(errorOf("encoding:\n  hash_max_listpack_entrys: 4\n"),
            "test.yaml:2:3: unknown key 'hash_max_listpack_entrys' in 'encoding' (did you mean 'hash_max_listpack_entries'?)");
  EXPECT_EQ(errorOf("encoding:\n  set_max_listpack_value: -1\n"),
            "test.yaml:2:27: 'set_max_listpack_value' must be an integer from 0 to 2147483648, got '-1'");
}

TEST(Config, SizesAndDurationsTakeUnits) {
  EXPECT_EQ(parseSize("512mb"), 512ull << 20);
  EXPECT_EQ(parseSize("1GB"), 1ull << 30);
  EXPECT_EQ(parseSize("64k"), 64ull << 10);
  EXPECT_EQ(parseSize("100"), 100u);
  EXPECT_EQ(parseSize("12parsecs"), std::nullopt);
  EXPECT_EQ(parseSize("-1"), std::nullopt);
  EXPECT_EQ(parseDurationMs("30s"), 30000u);
  EXPECT_EQ(parseDurationMs("250ms"), 250u);
  EXPECT_EQ(parseDurationMs("2m"), 120000u);
  EXPECT_EQ(parseDurationMs("5"), 5000u);
  EXPECT_EQ(parseDurationMs("soon"), std::nullopt);
}

TEST(Config, ValuesAreRead) {
  ConfigResult r = parseConfig(
      "listen:\n  - address: ::1\n    port: 7000\nlimits:\n  maxclients: 5\n  timeout: 2m\n"
      "workers: 3\nexpiry:\n  hz: 20\ncpu_affinity: off\nshutdown:\n  drain_timeout: 1500ms\n"
      "metrics:\n  enabled: no\n  address: ::1\n  port: 9999\n",
      "t.yaml");
  ASSERT_TRUE(r.ok());
  const Config& c = r.value();
  EXPECT_EQ(c.listen[0].address, "::1");
  EXPECT_EQ(c.listen[0].port, 7000);
  EXPECT_EQ(c.maxClients, 5u);
  EXPECT_EQ(c.idleTimeoutSeconds, 120u);
  EXPECT_EQ(c.workers, 3);
  EXPECT_EQ(c.expireHz, 20);
  EXPECT_FALSE(c.pinWorkers);
  EXPECT_EQ(c.drainTimeoutMs, 1500u);
  EXPECT_FALSE(c.metricsEnabled);
  EXPECT_EQ(c.metricsListen.address, "::1");
  EXPECT_EQ(c.metricsListen.port, 9999);
}

TEST(Config, UnknownKeysAreRejectedWithDidYouMean) {
  EXPECT_EQ(errorOf("limits:\n  maxclient: 5\n"),
            "test.yaml:2:3: unknown key 'maxclient' in 'limits' (did you mean 'maxclients'?)");
  EXPECT_EQ(errorOf("listn: []\n"), "test.yaml:1:1: unknown key 'listn' (did you mean 'listen'?)");
  EXPECT_EQ(errorOf("frobnicate: 1\n"), "test.yaml:1:1: unknown key 'frobnicate'");
}

TEST(Config, WrongTypesAndRangesNameTheSpot) {
  EXPECT_EQ(errorOf("listen:\n  - port: 70000\n"),
            "test.yaml:2:11: 'port' must be an integer from 0 to 65535, got '70000'");
  EXPECT_EQ(errorOf("listen:\n  - port: http\n"),
            "test.yaml:2:11: 'port' must be an integer from 0 to 65535, got 'http'");
  EXPECT_EQ(errorOf("limits:\n  proto_max_bulk_len: lots\n"),
            "test.yaml:2:23: 'proto_max_bulk_len' must be a size like 512mb, got 'lots'");
  EXPECT_EQ(errorOf("log:\n  level: loud\n"),
            "test.yaml:2:10: 'level' must be one of debug, verbose, notice, warning, got 'loud'");
  EXPECT_EQ(errorOf("limits: 5\n"), "test.yaml:1:9: 'limits' must be a mapping");
  EXPECT_EQ(errorOf("workers: many\n"),
            "test.yaml:1:10: 'workers' must be an integer from 1 to 1024, got 'many'");
  EXPECT_EQ(errorOf("limits:\n  timeout: 1s\nlimits:\n  maxclients: 3\n"), "test.yaml:3:1: duplicate key 'limits'");
  EXPECT_EQ(errorOf("cpu_affinity: yes\n").rfind("test.yaml:1:15: 'cpu_affinity' must be one of auto, off", 0), 0u)
      << errorOf("cpu_affinity: yes\n");
  EXPECT_EQ(errorOf("shutdown:\n  drain_timeout: later\n").rfind("test.yaml:2:18: ", 0), 0u)
      << errorOf("shutdown:\n  drain_timeout: later\n");
}

TEST(Config, YamlSyntaxErrorsNameTheSpot) {
  const std::string e = errorOf("listen:\n  - port: [1, 2\n");
  EXPECT_EQ(e.rfind("test.yaml:", 0), 0u) << e;
  EXPECT_NE(e.find(':', 10), std::string::npos);
}

TEST(Config, MissingFileIsAOneLineError) {
  ConfigResult r = loadConfig("/nonexistent/keyloop.yaml");
  ASSERT_TRUE(!r.ok());
  EXPECT_EQ(r.error(),
            "could not open configuration file /nonexistent/keyloop.yaml: No such file or directory");
}

}  // namespace
}  // namespace keyloop
