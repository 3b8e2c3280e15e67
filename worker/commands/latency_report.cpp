#include "worker/commands/latency_report.h"

#include <algorithm>
#include <cstdio>

namespace keyloop::commands {

namespace {

constexpr int kGraphColumns = 80;
constexpr int kGraphRows = 4;
constexpr std::string_view kFill = "_o#";  // a column's top character, lowest first

struct Point {
  double value;
  std::string label;
};

// "12s", "3m", "2h", "1d": how long ago a sample was.
std::string agoLabel(std::int64_t seconds) {
  char text[32];
  if (seconds < 60) std::snprintf(text, sizeof text, "%llds", static_cast<long long>(seconds));
  else if (seconds < 3600) std::snprintf(text, sizeof text, "%lldm", static_cast<long long>(seconds / 60));
  else if (seconds < 86400) std::snprintf(text, sizeof text, "%lldh", static_cast<long long>(seconds / 3600));
  else std::snprintf(text, sizeof text, "%lldd", static_cast<long long>(seconds / 86400));
  return text;
}

// One band of at most kGraphColumns points: kGraphRows rows of filled
// columns, a blank line, then each point's label written downwards.
void drawBand(std::string& out, const std::vector<Point>& points, std::size_t from, std::size_t count, double low,
              double high) {
  const double range = high - low == 0 ? 1 : high - low;
  const int steps = static_cast<int>(kFill.size()) * kGraphRows;
  std::size_t longestLabel = 0;
  for (std::size_t j = 0; j < count; ++j) longestLabel = std::max(longestLabel, points[from + j].label.size());
  const std::size_t lines = kGraphRows + (longestLabel > 0 ? 1 + longestLabel : 0);
  for (std::size_t row = 0; row < lines; ++row) {
    std::string line(count, ' ');
    for (std::size_t j = 0; j < count; ++j) {
      const Point& p = points[from + j];
      if (row < kGraphRows) {
        const int step = std::clamp(static_cast<int>((p.value - low) * steps / range), 0, steps - 1);
        const int at = step - (kGraphRows - static_cast<int>(row) - 1) * static_cast<int>(kFill.size());
        if (at >= 0 && at < static_cast<int>(kFill.size())) line[j] = kFill[static_cast<std::size_t>(at)];
        else if (at >= static_cast<int>(kFill.size())) line[j] = '|';
      } else if (row > kGraphRows && row - kGraphRows - 1 < p.label.size()) {
        line[j] = p.label[row - kGraphRows - 1];
      }
    }
    out += line + "\n";
  }
}

struct EventFigures {
  std::uint64_t samples = 0, average = 0, deviation = 0;
  std::int64_t period = 0;
};

// Redis's analyzeLatencyForEvent: count, mean, mean absolute deviation,
// and the seconds since the oldest sample.
EventFigures figuresOf(const metrics::MergedSeries& series, std::int64_t now) {
  EventFigures f;
  std::uint64_t sum = 0;
  std::int64_t oldest = 0;
  for (const auto& [second, ms] : series.samples) {
    ++f.samples;
    sum += ms;
    if (oldest == 0 || second < oldest) oldest = second;
  }
  if (f.samples == 0) return f;
  f.average = sum / f.samples;
  f.period = std::max<std::int64_t>(1, now - oldest);
  std::uint64_t deviations = 0;
  for (const auto& [second, ms] : series.samples) deviations += ms > f.average ? ms - f.average : f.average - ms;
  f.deviation = deviations / f.samples;
  return f;
}

}  // namespace

std::string latencyGraph(std::string_view event, const metrics::MergedSeries& series, std::int64_t nowSeconds) {
  std::vector<Point> points;
  double low = 0, high = 0;
  for (const auto& [second, ms] : series.samples) {
    const double v = static_cast<double>(ms);
    low = points.empty() ? v : std::min(low, v);
    high = points.empty() ? v : std::max(high, v);
    points.push_back({v, agoLabel(nowSeconds - second)});
  }
  char head[256];
  std::snprintf(head, sizeof head, "%.*s - high %lu ms, low %lu ms (all time high %lu ms)\n",
                static_cast<int>(event.size()), event.data(), static_cast<unsigned long>(high),
                static_cast<unsigned long>(low), static_cast<unsigned long>(series.max));
  std::string out = head + std::string(kGraphColumns, '-') + "\n";
  for (std::size_t from = 0; from < points.size(); from += kGraphColumns) {
    if (from != 0) out += "\n";
    drawBand(out, points, from, std::min<std::size_t>(kGraphColumns, points.size() - from), low, high);
  }
  return out;
}

std::string latencyDoctor(const LatencyEvents& events, const Config& config, std::int64_t nowSeconds) {
  const IntrospectionConfig& settings = config.introspection;
  if (settings.latencyMonitorThresholdMs == 0) {
    return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use "
           "\"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep "
           "space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n";
  }
  std::string report;
  bool slowlogOff = false, slowlogTuning = false, slowlogInspect = false, largeObjects = false, scheduler = false,
       relaxFsync = false, hz = false, massEviction = false;
  int advices = 0, number = 0;
  for (const auto& [event, series] : events) {
    if (series.empty()) continue;
    if (++number == 1) {
      report += "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n";
    }
    const EventFigures f = figuresOf(series, nowSeconds);
    char line[512];
    std::snprintf(line, sizeof line,
                  "%d. %.*s: %d latency spikes (average %lums, mean deviation %lums, period %.2f sec). Worst all time "
                  "event %lums.",
                  number, static_cast<int>(event.size()), event.data(), static_cast<int>(f.samples),
                  static_cast<unsigned long>(f.average), static_cast<unsigned long>(f.deviation),
                  static_cast<double>(f.period) / static_cast<double>(f.samples), static_cast<unsigned long>(series.max));
    report += line;
    report += "\n";
    if (event == "command") {
      if (settings.slowlogLogSlowerThanMicros < 0) {
        slowlogOff = true, ++advices;
      } else if (static_cast<std::uint64_t>(settings.slowlogLogSlowerThanMicros / 1000) > settings.latencyMonitorThresholdMs) {
        slowlogTuning = true, ++advices;
      }
      slowlogInspect = largeObjects = true, advices += 2;
    } else if (event == "fast-command") {
      scheduler = true, ++advices;
    } else if (event == "aof-fsync-always") {
      relaxFsync = true, ++advices;
    } else if (event == "expire-cycle") {
      hz = largeObjects = true, advices += 2;
    } else if (event == "eviction-cycle") {
      massEviction = true, ++advices;
    }
  }
  if (number == 0 && advices == 0) {
    return report + "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest "
                    "bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n";
  }
  report += "\nI have a few advices for you:\n\n";
  const std::string threshold = std::to_string(settings.latencyMonitorThresholdMs * 1000);
  if (slowlogOff) {
    report += "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis "
              "feature using the command 'CONFIG SET slowlog-log-slower-than " + threshold + "'. If the Slow log is "
              "disabled Redis is not able to log slow commands execution for you.\n";
  }
  if (slowlogTuning) {
    report += "- Your current Slow Log configuration only logs events that are slower than your configured latency "
              "monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than " + threshold + "'.\n";
  }
  if (slowlogInspect) {
    report += "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. "
              "Please check https://redis.io/commands/slowlog for more information.\n";
  }
  if (scheduler) {
    report += "- The system is slow to execute Redis code paths not containing system calls. This usually means the "
              "system does not provide Redis CPU time to run for long periods. You should try to:\n"
              "  1) Lower the system load.\n"
              "  2) Use a computer / VM just for Redis if you are running other software in the same system.\n"
              "  3) Check if you have a \"noisy neighbour\" problem.\n"
              "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n"
              "  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using "
              "Jemalloc. However this may create fragmentation problems.\n";
  }
  if (relaxFsync && config.persistence.aofFsync == "always") {
    report += "- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if "
              "possible try to relax the fsync policy to 'onesec'.\n";
  }
  if (hz && config.expireHz < 100) {
    report += "- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration "
              "parameter to 100 using 'CONFIG SET hz 100'.\n";
  }
  if (largeObjects) {
    report += "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If "
              "you have very large objects that are often deleted, expired, or evicted, try to fragment those objects "
              "into multiple smaller objects.\n";
  }
  if (massEviction) {
    report += "- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or "
              "sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), "
              "may create sudden memory pressure forcing the server to block trying to evict keys. \n";
  }
  return report;
}

}  // namespace keyloop::commands
