#include "master/metrics_exporter.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <dirent.h>
#include <deque>
#include <limits>
#include <map>
#include <fstream>
#include <sstream>


namespace keyloop {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

// A deque: the families are filled through references while more are added.
using Families = std::deque<MetricFamily>;

MetricFamily& family(Families& all, std::string name, std::string help, MetricType type) {
  all.push_back(MetricFamily{std::move(name), std::move(help), type, {}});
  return all.back();
}

void add(MetricFamily& f, Labels labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter) m.counter.value = value;
  else m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

// A slot's histogram: the sum over both banks (SharedMetrics).
void addHistogram(MetricFamily& f, Labels labels, const metrics::SharedMetrics& shared, int slot,
                  metrics::SharedHistogram metrics::WorkerMetrics::*member) {
  ClientMetric m;
  m.label = std::move(labels);
  const auto& bounds = LatencyHistogram::kBounds;
  std::vector<std::uint64_t> buckets(bounds.size(), 0);
  double sum = 0;
  for (int bank = 0; bank < metrics::kBanks; ++bank) {
    const metrics::SharedHistogram& h = shared.at(bank, slot).*member;
    // The count first: the writer bumps it last, so the buckets read after
    // it add up to at least that many (cumulative counts stay consistent).
    m.histogram.sample_count += h.count.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < bounds.size(); ++i) buckets[i] += h.buckets[i].load(std::memory_order_relaxed);
    sum += static_cast<double>(h.sumNanos.load(std::memory_order_relaxed)) * 1e-9;
  }
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    cumulative += buckets[i];
    m.histogram.bucket.push_back({std::min(cumulative, m.histogram.sample_count), bounds[i]});
  }
  m.histogram.bucket.push_back({m.histogram.sample_count, std::numeric_limits<double>::infinity()});
  m.histogram.sample_sum = sum;
  f.metric.push_back(std::move(m));
}

// Per command, every worker's runs by duration (latency_tracking.h): the
// buckets end where Redis's LATENCY HISTOGRAM steps end.
void addCommandDurations(MetricFamily& f, const metrics::SharedMetrics& shared, int slots,
                         std::span<const std::string> names) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) continue;
    metrics::LatencyCounts counts;
    for (int bank = 0; bank < metrics::kBanks; ++bank) {
      for (int s = 0; s < slots; ++s) counts.add(shared.at(bank, s).commandLatency[i]);
    }
    if (counts.calls() == 0) continue;
    ClientMetric m;
    m.label = {{"command", std::string(names[i])}};
    m.histogram.sample_count = counts.calls();
    m.histogram.sample_sum = static_cast<double>(counts.sumMicros) * 1e-6;
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b + 1 < counts.buckets.size(); ++b) {
      cumulative += counts.buckets[b];
      m.histogram.bucket.push_back({cumulative, static_cast<double>(metrics::commandLatencyBoundNanos(b)) * 1e-9});
    }
    m.histogram.bucket.push_back({m.histogram.sample_count, std::numeric_limits<double>::infinity()});
    f.metric.push_back(std::move(m));
  }
}

// TcpExt counters from /proc/net/netstat (a header line, then a values line).
std::map<std::string, double> tcpExtCounters() {
  std::ifstream in("/proc/net/netstat");
  std::string names, values;
  while (std::getline(in, names) && std::getline(in, values)) {
    if (names.rfind("TcpExt:", 0) != 0) continue;
    std::istringstream n(names), v(values);
    std::map<std::string, double> out;
    std::string name, value;
    while (n >> name && v >> value) out[name] = std::atof(value.c_str());
    return out;
  }
  return {};
}

struct ProcessStats {
  double cpuSeconds = 0, residentBytes = 0, openFds = 0;
  bool found = false;
};

ProcessStats processStats(pid_t pid) {
  ProcessStats s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return s;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return s;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  std::vector<std::string> f;
  while (fields >> field) f.push_back(field);
  if (f.size() < 22) return s;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  s.cpuSeconds = (std::atof(f[11].c_str()) + std::atof(f[12].c_str())) / tick;  // utime + stime
  s.residentBytes = std::atof(f[21].c_str()) * page;                            // rss in pages
  if (DIR* fds = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (dirent* e = ::readdir(fds)) {
      if (e->d_name[0] != '.') ++s.openFds;
    }
    ::closedir(fds);
  }
  s.found = true;
  return s;
}

}  // namespace

AcceptQueue acceptQueueOf(int listenFd) {
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(listenFd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return {};
  return {info.tcpi_unacked, info.tcpi_sacked};
}

// RDB snapshots (master/snapshots.h): Redis's INFO persistence as metrics.
void addSnapshotMetrics(Families& all, const metrics::SharedMetrics& shared) {
  const metrics::SnapshotStatus& s = shared.snapshots();
  add(family(all, "keyloop_last_save_timestamp_seconds", "When the last successful snapshot began (LASTSAVE).",
             MetricType::Gauge), {}, static_cast<double>(s.lastSaveUnix.load()));
  add(family(all, "keyloop_last_save_ok", "Whether the last snapshot succeeded (rdb_last_bgsave_status).",
             MetricType::Gauge), {}, s.lastOk.load() ? 1 : 0);
  add(family(all, "keyloop_last_save_duration_seconds", "How long the last snapshot took (whole seconds, -1: none yet).",
             MetricType::Gauge), {}, static_cast<double>(s.lastSeconds.load()));
  add(family(all, "keyloop_save_in_progress", "1 while a snapshot is being written.", MetricType::Gauge), {},
      s.currentStartMs.load() != 0 ? 1 : 0);
  auto& saves = family(all, "keyloop_saves_total", "Snapshots by outcome.", MetricType::Counter);
  add(saves, {{"result", "ok"}}, static_cast<double>(s.saves.load()));
  add(saves, {{"result", "error"}}, static_cast<double>(s.failures.load()));
  const std::uint64_t changes = shared.totalChanges(), atSave = s.changesAtLastSave.load();
  add(family(all, "keyloop_changes_since_last_save", "Writes since the last successful snapshot began.",
             MetricType::Gauge), {}, static_cast<double>(changes > atSave ? changes - atSave : 0));
}

// The append-only log (master/rewrites.cpp): size and rewrites.
void addLogMetrics(Families& all, const metrics::SharedMetrics& shared) {
  const metrics::AofStatus& a = shared.aof();
  add(family(all, "keyloop_aof_enabled", "Whether the append-only log is on (aof_enabled).", MetricType::Gauge), {},
      a.enabled.load() ? 1 : 0);
  add(family(all, "keyloop_aof_size_bytes", "The append-only log's size: its base and every incremental file.",
             MetricType::Gauge), {}, static_cast<double>(a.currentSize.load()));
  add(family(all, "keyloop_aof_rewrite_in_progress", "1 while the log is being rewritten.", MetricType::Gauge), {},
      a.rewriteStartMs.load() != 0 ? 1 : 0);
  add(family(all, "keyloop_aof_last_rewrite_ok", "Whether the last rewrite succeeded (aof_last_bgrewrite_status).",
             MetricType::Gauge), {}, a.lastRewriteOk.load() ? 1 : 0);
  add(family(all, "keyloop_aof_rewrites_total", "Successful rewrites of the log.", MetricType::Counter), {},
      static_cast<double>(a.rewrites.load()));
}

std::string renderMetrics(const MasterView& view) {
  Families all;
  auto worker = [](int slot) { return Labels{{"worker", std::to_string(slot)}}; };
  const int slots = view.workers ? std::min(view.slots, view.workers->size()) : 0;

  add(family(all, "keyloop_build_info", "keyloop's version (always 1).", MetricType::Gauge),
      {{"version", KEYLOOP_VERSION}}, 1);
  add(family(all, "keyloop_config_generation", "Configuration generation being served (1 at start, +1 per reload).",
             MetricType::Gauge), {}, static_cast<double>(view.configGeneration));
  auto& reloads = family(all, "keyloop_reloads_total", "Configuration reloads by outcome.", MetricType::Counter);
  add(reloads, {{"result", "ok"}}, static_cast<double>(view.reloadsOk));
  add(reloads, {{"result", "error"}}, static_cast<double>(view.reloadsFailed));
  add(family(all, "keyloop_reload_duration_seconds",
             "How long the last successful reload took, from the signal to the key hand-over's end.",
             MetricType::Gauge), {}, view.lastReloadSeconds);
  add(family(all, "keyloop_reload_pause_seconds",
             "In the last reload that started new workers, the longest a retiring worker held its clients' "
             "keyed commands (the copy itself runs while they are served).", MetricType::Gauge),
      {}, view.lastPauseSeconds);
  auto& step = family(all, "keyloop_reload_step",
                      "The reload step the master is in (1) and the others (0): idle, applying settings, "
                      "finishing the previous hand-over, handing over.", MetricType::Gauge);
  for (const auto& [name, current] : view.reloadSteps) add(step, {{"step", name}}, current ? 1 : 0);
  add(family(all, "keyloop_migrated_keys_total", "Keys handed from one generation of workers to the next.",
             MetricType::Counter), {}, static_cast<double>(view.migratedKeys));
  add(family(all, "keyloop_draining_connections",
             "Client connections still served by workers of a retiring generation.", MetricType::Gauge),
      {}, static_cast<double>(view.drainingConnections));

  addSnapshotMetrics(all, *view.workers);
  addLogMetrics(all, *view.workers);

  auto& queueLength = family(all, "keyloop_accept_queue_length",
                             "Connections waiting in a listening socket's accept queue.", MetricType::Gauge);
  auto& queueMax = family(all, "keyloop_accept_queue_max", "The accept queue's limit (listen backlog).",
                          MetricType::Gauge);
  for (const ListenerView& l : view.listeners) {
    const AcceptQueue q = acceptQueueOf(l.fd);
    Labels labels{{"listener", l.address}, {"worker", std::to_string(l.slot)}};
    add(queueLength, labels, q.length);
    add(queueMax, labels, q.max);
  }
  const auto tcp = tcpExtCounters();
  auto counterOf = [&](const char* name) {
    auto it = tcp.find(name);
    return it == tcp.end() ? 0.0 : it->second;
  };
  add(family(all, "keyloop_listen_overflows_total",
             "Times a full accept queue turned a connection away (host-wide TcpExt ListenOverflows).",
             MetricType::Counter), {}, counterOf("ListenOverflows"));
  add(family(all, "keyloop_listen_drops_total", "Connections dropped at listen (host-wide TcpExt ListenDrops).",
             MetricType::Counter), {}, counterOf("ListenDrops"));

  auto& restarts = family(all, "keyloop_worker_restarts_total", "Workers restarted after they died.",
                          MetricType::Counter);
  for (int s = 0; s < slots; ++s) {
    add(restarts, worker(s), s < static_cast<int>(view.workerRestarts.size()) ? view.workerRestarts[s] : 0);
  }

  auto& lag = family(all, "keyloop_event_loop_lag_seconds",
                     "How late a 10 ms timer fired on the worker's event loop.", MetricType::Histogram);
  auto& iteration = family(all, "keyloop_event_loop_iteration_seconds",
                           "Busy time of one event-loop iteration (without the wait for events).",
                           MetricType::Histogram);
  auto& connections = family(all, "keyloop_connections", "Open client connections.", MetricType::Gauge);
  auto& accepted = family(all, "keyloop_connections_accepted_total", "Client connections accepted.",
                          MetricType::Counter);
  auto& rejected = family(all, "keyloop_connections_rejected_total", "Client connections refused, by reason.",
                          MetricType::Counter);
  auto& commands = family(all, "keyloop_commands_total", "Commands processed, by command.", MetricType::Counter);
  auto& errors = family(all, "keyloop_command_errors_total", "Commands answered with an error.",
                        MetricType::Counter);
  auto& forwarded = family(all, "keyloop_forwarded_commands_total",
                           "Commands sent to the worker that owns their keys.", MetricType::Counter);
  auto& keys = family(all, "keyloop_keys", "Keys held by the worker.", MetricType::Gauge);
  auto& expired = family(all, "keyloop_expired_keys_total", "Keys removed because their TTL passed.",
                         MetricType::Counter);
  auto& memory = family(all, "keyloop_memory_used_bytes", "Heap bytes in use by the worker.", MetricType::Gauge);
  auto& evicted = family(all, "keyloop_evicted_keys_total", "Keys removed to stay under maxmemory.",
                         MetricType::Counter);
  auto& pubsubDisconnects = family(all, "keyloop_pubsub_disconnects_total",
                                   "Subscribers disconnected over client-output-buffer-limit pubsub.",
                                   MetricType::Counter);
  auto& aofBytes = family(all, "keyloop_aof_written_bytes_total", "Bytes the worker wrote to its file of the log.",
                          MetricType::Counter);
  auto& aofFsyncs = family(all, "keyloop_aof_fsyncs_total", "Fsyncs of the worker's file of the log.", MetricType::Counter);
  auto& aofErrors = family(all, "keyloop_aof_write_errors_total",
                           "Writes to the log that failed (ENOSPC...), counted once per failing stretch.", MetricType::Counter);
  auto& aofFailing = family(all, "keyloop_aof_write_failing",
                            "1 while the worker's writes to the log fail (writes get -MISCONF).", MetricType::Gauge);
  auto& aofFsync = family(all, "keyloop_aof_fsync_duration_seconds", "How long each fsync of the log took (on the pool).",
                          MetricType::Histogram);
  const auto names = metrics::countedCommandNames();
  for (int s = 0; s < slots; ++s) {
    // Both banks: the retiring generation's block and the serving one's.
    auto load = [&view, s](const std::atomic<std::uint64_t> metrics::WorkerMetrics::*member) {
      double total = 0;
      for (int bank = 0; bank < metrics::kBanks; ++bank) {
        total += static_cast<double>((view.workers->at(bank, s).*member).load(std::memory_order_relaxed));
      }
      return total;
    };
    addHistogram(lag, worker(s), *view.workers, s, &metrics::WorkerMetrics::lag);
    addHistogram(iteration, worker(s), *view.workers, s, &metrics::WorkerMetrics::iteration);
    addHistogram(aofFsync, worker(s), *view.workers, s, &metrics::WorkerMetrics::aofFsync);
    add(aofBytes, worker(s), load(&metrics::WorkerMetrics::aofBytes));
    add(aofFsyncs, worker(s), load(&metrics::WorkerMetrics::aofFsyncs));
    add(aofErrors, worker(s), load(&metrics::WorkerMetrics::aofWriteErrors));
    add(aofFailing, worker(s), load(&metrics::WorkerMetrics::aofWriteFailing));
    add(connections, worker(s), load(&metrics::WorkerMetrics::connections));
    add(accepted, worker(s), load(&metrics::WorkerMetrics::connectionsAccepted));
    add(rejected, {{"reason", "maxclients"}, {"worker", std::to_string(s)}}, load(&metrics::WorkerMetrics::rejectedMaxclients));
    for (std::size_t i = 0; i < names.size(); ++i) {
      double count = 0;
      for (int bank = 0; bank < metrics::kBanks; ++bank) {
        count += static_cast<double>(view.workers->at(bank, s).commands[i].load(std::memory_order_relaxed));
      }
      if (names[i].empty() || count == 0) continue;
      add(commands, {{"command", std::string(names[i])}, {"worker", std::to_string(s)}}, count);
    }
    add(errors, worker(s), load(&metrics::WorkerMetrics::commandErrors));
    add(forwarded, worker(s), load(&metrics::WorkerMetrics::forwarded));
    add(keys, worker(s), load(&metrics::WorkerMetrics::keys));
    add(expired, worker(s), load(&metrics::WorkerMetrics::expiredKeys));
    add(evicted, worker(s), load(&metrics::WorkerMetrics::evictedKeys));
    add(memory, worker(s), load(&metrics::WorkerMetrics::memoryUsedBytes));
    add(pubsubDisconnects, worker(s), load(&metrics::WorkerMetrics::pubsubDisconnects));
  }

  addCommandDurations(family(all, "keyloop_command_duration_seconds",
                             "How long each command ran, all workers together (Redis's latency tracking).",
                             MetricType::Histogram),
                      *view.workers, slots, metrics::trackedCommandNames());

  auto& cpu = family(all, "keyloop_process_cpu_seconds_total", "User and system CPU time of each keyloop process.",
                     MetricType::Counter);
  auto& rss = family(all, "keyloop_process_resident_memory_bytes", "Resident memory of each keyloop process.",
                     MetricType::Gauge);
  auto& fds = family(all, "keyloop_process_open_fds", "Open file descriptors of each keyloop process.",
                     MetricType::Gauge);
  std::vector<std::pair<std::string, pid_t>> processes{{"master", view.masterPid}};
  for (std::size_t s = 0; s < view.workerPids.size(); ++s) {
    if (view.workerPids[s] > 0) processes.emplace_back("worker" + std::to_string(s), view.workerPids[s]);
  }
  for (std::size_t s = 0; s < view.retiringPids.size(); ++s) {
    if (view.retiringPids[s] > 0) processes.emplace_back("retiring" + std::to_string(s), view.retiringPids[s]);
  }
  for (const auto& [name, pid] : processes) {
    const ProcessStats p = processStats(pid);
    if (!p.found) continue;
    add(cpu, {{"process", name}}, p.cpuSeconds);
    add(rss, {{"process", name}}, p.residentBytes);
    add(fds, {{"process", name}}, p.openFds);
  }
  return prometheus::TextSerializer().Serialize(std::vector<MetricFamily>(all.begin(), all.end()));
}

}  // namespace keyloop
