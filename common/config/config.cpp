#include "common/config/config.h"

#include "common/config/notify_flags.h"

#include <climits>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <iterator>
#include <sstream>

namespace keyloop {

namespace {

// Internal only: parseConfig() turns it into a failed ConfigResult.
struct Invalid {
  std::string message;
};

class Reader {
 public:
  explicit Reader(std::string name) : name_(std::move(name)) {}

  [[noreturn]] void fail(const YAML::Node& node, const std::string& what) const {
    const YAML::Mark m = node.Mark();
    throw Invalid{name_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) +
                  ": " + what};
  }

  void requireMap(const YAML::Node& node, const std::string& what) const {
    if (!node.IsMap()) fail(node, "'" + what + "' must be a mapping");
  }

  // Rejects keys that are not in `allowed`, suggesting the closest one.
  void checkKeys(const YAML::Node& map, std::initializer_list<std::string_view> allowed,
                 const std::string& section) const {
    std::vector<std::string> seen;
    for (const auto& item : map) {
      const std::string key = item.first.as<std::string>();
      // yaml-cpp keeps both copies of a repeated key and lookups find only
      // the first: the second would be ignored without a word.
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        fail(item.first, "duplicate key '" + key + "'" + (section.empty() ? "" : " in '" + section + "'"));
      }
      seen.push_back(key);
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string message = "unknown key '" + key + "'";
      if (!section.empty()) message += " in '" + section + "'";
      if (auto suggestion = closest(key, allowed); !suggestion.empty()) {
        message += " (did you mean '" + suggestion + "'?)";
      }
      fail(item.first, message);
    }
  }

  std::string scalar(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) fail(node, "'" + key + "' must be a single value");
    return node.Scalar();
  }

  long long integer(const YAML::Node& node, const std::string& key, long long min, long long max) const {
    const std::string text = scalar(node, key);
    long long value = 0;
    std::size_t used = 0;
    try {
      value = std::stoll(text, &used);
    } catch (...) {
      used = 0;
    }
    if (used == 0 || used != text.size() || value < min || value > max) {
      fail(node, "'" + key + "' must be an integer from " + std::to_string(min) + " to " +
                     std::to_string(max) + ", got '" + text + "'");
    }
    return value;
  }

  std::uint64_t size(const YAML::Node& node, const std::string& key, std::uint64_t min,
                     std::uint64_t max) const {
    const std::string text = scalar(node, key);
    auto value = parseSize(text);
    if (!value) fail(node, "'" + key + "' must be a size like 512mb, got '" + text + "'");
    if (*value < min || *value > max) {
      fail(node, "'" + key + "' must be between " + std::to_string(min) + " and " +
                     std::to_string(max) + " bytes, got '" + text + "'");
    }
    return *value;
  }

  std::uint64_t durationMs(const YAML::Node& node, const std::string& key, std::uint64_t maxMs) const {
    const std::string text = scalar(node, key);
    auto value = parseDurationMs(text);
    if (!value) fail(node, "'" + key + "' must be a duration like 30s or 250ms, got '" + text + "'");
    if (*value > maxMs) fail(node, "'" + key + "' is too long: " + text);
    return *value;
  }

  // yes | no (true | false too: YAML's own booleans).
  bool boolean(const YAML::Node& node, const std::string& key) const {
    const std::string v = oneOf(node, key, {"yes", "no", "true", "false"});
    return v == "yes" || v == "true";
  }

  std::string oneOf(const YAML::Node& node, const std::string& key,
                    std::initializer_list<std::string_view> choices) const {
    const std::string text = scalar(node, key);
    if (std::find(choices.begin(), choices.end(), text) != choices.end()) return text;
    std::string list;
    for (std::string_view c : choices) list += (list.empty() ? "" : ", ") + std::string(c);
    fail(node, "'" + key + "' must be one of " + list + ", got '" + text + "'");
  }

 private:
  static std::size_t distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= b.size(); ++j) {
        const std::size_t above = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
        diagonal = above;
      }
    }
    return row[b.size()];
  }

  static std::string closest(std::string_view key, std::initializer_list<std::string_view> allowed) {
    std::string best;
    std::size_t bestDistance = std::max<std::size_t>(2, key.size() / 3) + 1;
    for (std::string_view candidate : allowed) {
      const std::size_t d = distance(key, candidate);
      if (d < bestDistance) {
        bestDistance = d;
        best = candidate;
      }
    }
    return best;
  }

  std::string name_;
};

void readListen(const Reader& r, const YAML::Node& node, Config& c) {
  if (!node.IsSequence() || node.size() == 0) r.fail(node, "'listen' must be a non-empty list");
  c.listen.clear();
  for (const YAML::Node& item : node) {
    r.requireMap(item, "listen entry");
    r.checkKeys(item, {"address", "port", "backlog"}, "listen");
    ListenConfig l;
    if (item["address"]) l.address = r.scalar(item["address"], "address");
    if (item["port"]) l.port = static_cast<std::uint16_t>(r.integer(item["port"], "port", 0, 65535));
    if (item["backlog"]) l.backlog = static_cast<int>(r.integer(item["backlog"], "backlog", 1, 65535));
    c.listen.push_back(l);
  }
}

void readLimits(const Reader& r, const YAML::Node& node, Config& c) {
  r.requireMap(node, "limits");
  r.checkKeys(node, {"maxclients", "proto_max_bulk_len", "client_query_buffer_limit",
                     "client_output_buffer_limit", "pubsub_output_buffer_limit", "timeout", "tracking_table_max_keys"},
              "limits");
  constexpr std::uint64_t kMaxSize = 1ull << 40;
  if (node["maxclients"]) c.maxClients = static_cast<std::size_t>(r.integer(node["maxclients"], "maxclients", 1, 1000000));
  if (node["proto_max_bulk_len"]) c.protoMaxBulkLen = r.size(node["proto_max_bulk_len"], "proto_max_bulk_len", 1024 * 1024, kMaxSize);
  if (node["client_query_buffer_limit"]) c.clientQueryBufferLimit = r.size(node["client_query_buffer_limit"], "client_query_buffer_limit", 1024 * 1024, kMaxSize);
  if (node["client_output_buffer_limit"]) c.clientOutputBufferLimit = r.size(node["client_output_buffer_limit"], "client_output_buffer_limit", 64 * 1024, kMaxSize);
  if (node["tracking_table_max_keys"]) {
    c.trackingTableMaxKeys = static_cast<std::size_t>(r.integer(node["tracking_table_max_keys"], "tracking_table_max_keys", 0, LONG_MAX));
  }
  if (node["timeout"]) c.idleTimeoutSeconds = r.durationMs(node["timeout"], "timeout", 365ull * 86400 * 1000) / 1000;
  if (const YAML::Node& pubsub = node["pubsub_output_buffer_limit"]) {
    // Redis's "<hard> <soft> <soft seconds>" (client-output-buffer-limit pubsub).
    std::istringstream in(r.scalar(pubsub, "pubsub_output_buffer_limit"));
    std::string hard, soft, seconds, extra;
    in >> hard >> soft >> seconds >> extra;
    const auto h = parseSize(hard), s = parseSize(soft);
    char* end = nullptr;
    const unsigned long secs = seconds.empty() ? 0 : std::strtoul(seconds.c_str(), &end, 10);
    if (!h || !s || seconds.empty() || *end != '\0' || !extra.empty() || secs > 86400) {
      r.fail(pubsub, "'pubsub_output_buffer_limit' takes '<hard> <soft> <seconds>' like '32mb 8mb 60'");
    }
    c.pubsubOutputLimit = OutputLimit{static_cast<std::size_t>(*h), static_cast<std::size_t>(*s), static_cast<unsigned>(secs)};
  }
}

void readExpiry(const Reader& r, const YAML::Node& node, Config& c) {
  r.requireMap(node, "expiry");
  r.checkKeys(node, {"hz", "cycle_budget"}, "expiry");
  if (node["hz"]) c.expireHz = static_cast<int>(r.integer(node["hz"], "hz", 1, 500));
  if (node["cycle_budget"]) c.expireBudgetMicros = r.durationMs(node["cycle_budget"], "cycle_budget", 100) * 1000;
}

void readEncoding(const Reader& r, const YAML::Node& node, Config& c) {
  r.requireMap(node, "encoding");
  r.checkKeys(node, {"hash_max_listpack_entries", "hash_max_listpack_value", "set_max_intset_entries",
                     "set_max_listpack_entries", "set_max_listpack_value", "hll_sparse_max_bytes",
                     "list_max_listpack_size", "zset_max_listpack_entries", "zset_max_listpack_value",
                     "stream_node_max_bytes", "stream_node_max_entries"}, "encoding");
  EncodingConfig& e = c.encoding;
  constexpr long long kMost = 1ll << 31;
  auto read = [&](const char* key, std::size_t& to) {
    if (node[key]) to = static_cast<std::size_t>(r.integer(node[key], key, 0, kMost));
  };
  read("hash_max_listpack_entries", e.hashMaxListpackEntries);
  read("hash_max_listpack_value", e.hashMaxListpackValue);
  read("set_max_intset_entries", e.setMaxIntsetEntries);
  read("set_max_listpack_entries", e.setMaxListpackEntries);
  read("set_max_listpack_value", e.setMaxListpackValue);
  read("hll_sparse_max_bytes", e.hllSparseMaxBytes);
  read("zset_max_listpack_entries", e.zsetMaxListpackEntries);
  read("zset_max_listpack_value", e.zsetMaxListpackValue);
  read("stream_node_max_bytes", e.streamNodeMaxBytes);
  read("stream_node_max_entries", e.streamNodeMaxEntries);
  if (node["list_max_listpack_size"]) {
    e.listMaxListpackSize = r.integer(node["list_max_listpack_size"], "list_max_listpack_size", INT_MIN, INT_MAX);
  }
}

void readLog(const Reader& r, const YAML::Node& node, Config& c) {
  r.requireMap(node, "log");
  r.checkKeys(node, {"level", "file"}, "log");
  if (node["level"]) c.logLevel = r.oneOf(node["level"], "level", {"debug", "verbose", "notice", "warning"});
  if (node["file"]) c.logFile = r.scalar(node["file"], "file");
}

void readMetrics(const Reader& r, const YAML::Node& node, Config& c) {
  r.requireMap(node, "metrics");
  r.checkKeys(node, {"enabled", "address", "port"}, "metrics");
  if (node["enabled"]) {
    c.metricsEnabled = r.boolean(node["enabled"], "enabled");
  }
  if (node["address"]) c.metricsListen.address = r.scalar(node["address"], "address");
  if (node["port"]) c.metricsListen.port = static_cast<std::uint16_t>(r.integer(node["port"], "port", 0, 65535));
}

void readCluster(const Reader& r, const YAML::Node& node, Config& c) {
  r.requireMap(node, "cluster");
  r.checkKeys(node, {"enabled", "port", "announce"}, "cluster");
  if (node["enabled"]) {
    c.cluster.enabled = r.boolean(node["enabled"], "enabled");
  }
  if (node["port"]) c.cluster.port = static_cast<std::uint16_t>(r.integer(node["port"], "port", 1, 65535));
  if (node["announce"]) c.cluster.announce = r.scalar(node["announce"], "announce");
}

void readPersistence(const Reader& r, const YAML::Node& node, Config& c) {
  r.requireMap(node, "persistence");
  r.checkKeys(node, {"dir", "snapshot", "aof"}, "persistence");
  if (const YAML::Node& aof = node["aof"]) {
    r.requireMap(aof, "aof");
    r.checkKeys(aof, {"enabled", "fsync", "dir", "file", "auto_rewrite_percentage", "auto_rewrite_min_size", "load_truncated"}, "aof");
    PersistenceConfig& p = c.persistence;
    if (aof["enabled"]) p.aofEnabled = r.boolean(aof["enabled"], "enabled");
    if (aof["fsync"]) p.aofFsync = r.oneOf(aof["fsync"], "fsync", {"always", "everysec", "no"});
    for (auto [key, field] : {std::pair{"dir", &p.aofDir}, std::pair{"file", &p.aofFile}}) {
      if (!aof[key]) continue;
      *field = r.scalar(aof[key], key);
      if (field->empty() || field->find('/') != std::string::npos) {
        r.fail(aof[key], std::string("'") + key + "' is a name inside 'persistence.dir' (no '/'), as Redis's append" +
                             (field == &p.aofDir ? "dirname" : "filename"));
      }
    }
    if (aof["auto_rewrite_percentage"]) {
      p.autoRewritePercentage = static_cast<int>(r.integer(aof["auto_rewrite_percentage"], "auto_rewrite_percentage", 0, 1 << 30));
    }
    if (aof["auto_rewrite_min_size"]) {
      p.autoRewriteMinSize = r.size(aof["auto_rewrite_min_size"], "auto_rewrite_min_size", 0, std::numeric_limits<std::int64_t>::max());
    }
    if (aof["load_truncated"]) p.aofLoadTruncated = r.boolean(aof["load_truncated"], "load_truncated");
  }
  if (node["dir"]) {
    c.persistence.dir = r.scalar(node["dir"], "dir");
    if (c.persistence.dir.empty()) r.fail(node["dir"], "'dir' must name a directory");
  }
  if (const YAML::Node& snapshot = node["snapshot"]) {
    r.requireMap(snapshot, "snapshot");
    r.checkKeys(snapshot, {"file", "save", "stop_writes_on_error"}, "snapshot");
    if (snapshot["file"]) {
      const std::string file = r.scalar(snapshot["file"], "file");
      if (file.empty() || file.find('/') != std::string::npos) {
        r.fail(snapshot["file"], "'file' is a file name inside 'dir' (no '/'), as Redis's dbfilename");
      }
      c.persistence.snapshotFile = file;
    }
    if (snapshot["save"]) {
      const auto rules = parseSaveRules(r.scalar(snapshot["save"], "save"));
      if (!rules) r.fail(snapshot["save"], "'save' takes pairs of seconds and changes (\"3600 1 300 100\"), or \"\" for none");
      c.persistence.save = *rules;
    }
    if (snapshot["stop_writes_on_error"]) {
      c.persistence.stopWritesOnError = r.boolean(snapshot["stop_writes_on_error"], "stop_writes_on_error");
    }
  }
}

void readMaxmemory(const Reader& r, const YAML::Node& node, Config& c) {
  r.requireMap(node, "maxmemory");
  r.checkKeys(node, {"limit", "policy", "samples", "lfu_log_factor", "lfu_decay_time"}, "maxmemory");
  MemoryLimitConfig& m = c.maxmemory;
  if (node["limit"]) m.limit = r.size(node["limit"], "limit", 0, std::numeric_limits<std::int64_t>::max());
  if (node["policy"]) {
    const std::string name = r.scalar(node["policy"], "policy");
    const auto policy = parseEvictionPolicy(name);
    if (!policy) {
      std::string names;
      for (const char* n : kEvictionPolicyNames) names += (names.empty() ? "" : ", ") + std::string(n);
      r.fail(node["policy"], "'policy' must be one of " + names + ", got '" + name + "'");
    }
    m.policy = *policy;
  }
  if (node["samples"]) m.samples = static_cast<int>(r.integer(node["samples"], "samples", 1, 64));
  if (node["lfu_log_factor"]) m.lfuLogFactor = static_cast<int>(r.integer(node["lfu_log_factor"], "lfu_log_factor", 0, 1000000));
  if (node["lfu_decay_time"]) {
    m.lfuDecayMinutes = static_cast<int>(r.integer(node["lfu_decay_time"], "lfu_decay_time", 0, 1000000));
  }
}

void readIntrospection(const Reader& r, const YAML::Node& node, IntrospectionConfig& i) {
  r.requireMap(node, "introspection");
  r.checkKeys(node, {"slowlog_log_slower_than", "slowlog_max_len", "latency_monitor_threshold", "latency_tracking",
                     "latency_tracking_info_percentiles"}, "introspection");
  if (node["slowlog_log_slower_than"]) {
    i.slowlogLogSlowerThanMicros = r.integer(node["slowlog_log_slower_than"], "slowlog_log_slower_than", -1, LLONG_MAX);
  }
  if (node["slowlog_max_len"]) {
    i.slowlogMaxLen = static_cast<std::size_t>(r.integer(node["slowlog_max_len"], "slowlog_max_len", 0, LONG_MAX));
  }
  if (node["latency_monitor_threshold"]) {
    i.latencyMonitorThresholdMs = static_cast<std::uint64_t>(
        r.integer(node["latency_monitor_threshold"], "latency_monitor_threshold", 0, LLONG_MAX));
  }
  if (node["latency_tracking"]) i.latencyTracking = r.boolean(node["latency_tracking"], "latency_tracking");
  if (const YAML::Node& p = node["latency_tracking_info_percentiles"]) {
    const auto percentiles = parsePercentiles(r.scalar(p, "latency_tracking_info_percentiles"));
    if (!percentiles) r.fail(p, "'latency_tracking_info_percentiles' takes numbers from 0 to 100, like \"50 99 99.9\"");
    i.latencyTrackingInfoPercentiles = *percentiles;
  }
}

Config read(const Reader& r, const YAML::Node& root) {
  Config c;
  if (!root || root.IsNull()) return c;  // an empty file means all defaults
  r.requireMap(root, "the configuration");
  r.checkKeys(root, {"listen", "workers", "cpu_affinity", "thread_pool", "limits", "requirepass", "expiry",
                     "log", "pidfile", "shutdown", "metrics", "cluster", "encoding", "notify_keyspace_events",
                     "busy_reply_threshold", "enable_debug_command", "persistence", "maxmemory",
                     "introspection", "databases"}, "");
  if (root["maxmemory"]) readMaxmemory(r, root["maxmemory"], c);
  if (root["introspection"]) readIntrospection(r, root["introspection"], c.introspection);
  if (root["persistence"]) readPersistence(r, root["persistence"], c);
  if (root["listen"]) readListen(r, root["listen"], c);
  if (root["workers"]) {
    const YAML::Node& w = root["workers"];
    c.workers = r.scalar(w, "workers") == "auto" ? 0 : static_cast<int>(r.integer(w, "workers", 1, 1024));
  }
  if (root["databases"]) c.databases = static_cast<int>(r.integer(root["databases"], "databases", 1, 256));
  if (root["cpu_affinity"]) c.pinWorkers = r.oneOf(root["cpu_affinity"], "cpu_affinity", {"auto", "off"}) == "auto";
  if (root["shutdown"]) {
    const YAML::Node& shutdown = root["shutdown"];
    r.requireMap(shutdown, "shutdown");
    r.checkKeys(shutdown, {"drain_timeout"}, "shutdown");
    if (shutdown["drain_timeout"]) c.drainTimeoutMs = r.durationMs(shutdown["drain_timeout"], "drain_timeout", 3600000);
  }
  if (root["metrics"]) readMetrics(r, root["metrics"], c);
  if (root["cluster"]) readCluster(r, root["cluster"], c);
  if (root["thread_pool"]) c.threadPool = static_cast<int>(r.integer(root["thread_pool"], "thread_pool", 1, 256));
  if (root["limits"]) readLimits(r, root["limits"], c);
  if (root["requirepass"]) c.requirePass = r.scalar(root["requirepass"], "requirepass");
  if (root["expiry"]) readExpiry(r, root["expiry"], c);
  if (root["log"]) readLog(r, root["log"], c);
  if (root["encoding"]) readEncoding(r, root["encoding"], c);
  if (root["pidfile"]) c.pidFile = r.scalar(root["pidfile"], "pidfile");
  if (root["enable_debug_command"]) {
    c.enableDebugCommand = r.oneOf(root["enable_debug_command"], "enable_debug_command", {"no", "yes", "local"});
  }
  if (root["busy_reply_threshold"]) {
    c.busyReplyThresholdMs = static_cast<long long>(r.durationMs(root["busy_reply_threshold"], "busy_reply_threshold", 3600000));
  }
  if (const YAML::Node& events = root["notify_keyspace_events"]) {
    const auto flags = keyspace_events::parse(r.scalar(events, "notify_keyspace_events"));
    if (!flags) r.fail(events, "'notify_keyspace_events' takes the letters of Redis's notify-keyspace-events (Ag$lshzxeKEtmdn)");
    c.notifyKeyspaceEvents = *flags;
  }
  return c;
}

std::optional<std::uint64_t> parseNumberWithUnit(
    const std::string& text, std::initializer_list<std::pair<std::string_view, std::uint64_t>> units,
    std::uint64_t bare) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 15) return std::nullopt;
  const std::uint64_t number = std::stoull(text.substr(0, digits));
  std::string unit = text.substr(digits);
  for (char& ch : unit) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (unit.empty()) return number * bare;
  for (const auto& [name, factor] : units) {
    if (unit == name) return number * factor;
  }
  return std::nullopt;
}

}  // namespace

std::optional<EvictionPolicy> parseEvictionPolicy(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kEvictionPolicyNames); ++i) {
    if (name == kEvictionPolicyNames[i]) return static_cast<EvictionPolicy>(i);
  }
  return std::nullopt;
}

std::optional<std::vector<SaveRule>> parseSaveRules(const std::string& text) {
  std::istringstream words(text);
  std::vector<std::string> parts{std::istream_iterator<std::string>(words), std::istream_iterator<std::string>()};
  if (parts.size() % 2 != 0) return std::nullopt;
  std::vector<SaveRule> rules;
  for (std::size_t i = 0; i < parts.size(); i += 2) {
    SaveRule rule;
    for (auto [word, field] : {std::pair{&parts[i], &rule.seconds}, std::pair{&parts[i + 1], &rule.changes}}) {
      if (word->empty() || word->size() > 18 || word->find_first_not_of("0123456789") != std::string::npos) {
        return std::nullopt;
      }
      *field = std::stoull(*word);
    }
    rules.push_back(rule);
  }
  return rules;
}

std::optional<std::vector<double>> parsePercentiles(const std::string& text) {
  std::istringstream words(text);
  std::vector<double> out;
  for (std::string word; words >> word;) {
    char* end = nullptr;
    const double v = std::strtod(word.c_str(), &end);
    if (end != word.c_str() + word.size() || !(v >= 0.0 && v <= 100.0)) return std::nullopt;
    out.push_back(v);
  }
  return out;
}

std::string formatPercentiles(const std::vector<double>& percentiles) {
  // Redis prints them with %f and strips the trailing zeros ("99.9", "50").
  std::string out;
  for (double p : percentiles) {
    char text[64];
    std::snprintf(text, sizeof text, "%f", p);
    std::string t = text;
    while (!t.empty() && t.back() == '0') t.pop_back();
    if (!t.empty() && t.back() == '.') t.pop_back();
    out += (out.empty() ? "" : " ") + t;
  }
  return out;
}

std::string formatSaveRules(const std::vector<SaveRule>& rules) {
  std::string out;
  for (const SaveRule& rule : rules) {
    if (!out.empty()) out += ' ';
    out += std::to_string(rule.seconds) + " " + std::to_string(rule.changes);
  }
  return out;
}

std::optional<std::uint64_t> parseSize(const std::string& text) {
  constexpr std::uint64_t K = 1024;
  return parseNumberWithUnit(text, {{"b", 1}, {"k", K}, {"kb", K}, {"m", K * K}, {"mb", K * K},
                                    {"g", K * K * K}, {"gb", K * K * K}}, 1);
}

std::optional<std::uint64_t> parseDurationMs(const std::string& text) {
  return parseNumberWithUnit(text, {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}}, 1000);
}

ConfigResult parseConfig(const std::string& text, const std::string& name) {
  Reader reader(name);
  try {
    Config c = read(reader, YAML::Load(text));
    c.path = name;
    return c;
  } catch (const Invalid& e) {
    return fail(e.message);
  } catch (const YAML::Exception& e) {
    return fail(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                       std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

ConfigResult loadConfig(const std::string& path, std::string* text) {
  std::ifstream in(path);
  if (!in) return fail("could not open configuration file " + path + ": " + std::strerror(errno));
  std::stringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return fail("could not read configuration file " + path);
  if (text != nullptr) *text = contents.str();
  return parseConfig(contents.str(), path);
}

std::optional<std::string> pidFileOf(const std::string& path) {
  try {
    const YAML::Node root = YAML::LoadFile(path);
    if (root.IsMap() && root["pidfile"] && root["pidfile"].IsScalar()) return root["pidfile"].Scalar();
  } catch (const YAML::Exception&) {
  }
  return std::nullopt;
}

}  // namespace keyloop
