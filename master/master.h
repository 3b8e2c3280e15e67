// Master: holds the serving generation of workers (generation.h) and,
// during a reload, the retiring one; forks one worker per slot, restarts a
// worker that dies (at once, then with exponential backoff while it keeps
// dying), and turns signals into actions from its own loop (signalfd: no
// work in handlers):
//   SIGTERM, SIGINT  fast shutdown: workers get SIGTERM, master exits last
//   SIGQUIT          graceful: workers drain (see common/ipc/worker_start.h)
//   SIGHUP           reload the config file (reload.cpp)
//   SIGCHLD          reap and restart
// Workers die with the master (PR_SET_PDEATHSIG, SIGKILL): no orphans.
//
// Nothing but a signal that asks for it ends the master: every step that
// can fail (a generation that cannot be built, a fork, a control socket)
// is an error value on the path that made it. A reload that fails leaves
// the serving generation as it was; a restart that fails retries with its
// backoff.
//
// Each reload step moves on the message that ends the previous one
// (ipc/messages.h: Serving, ConfigApplied, HandedOver, a retiring worker's
// exit), never on a polling timer; timers only bound how long a step may
// take. The step is named in ReloadStep, and logged.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/ipc/messages.h"
#include "common/ipc/shared_text.h"
#include "common/log/log.h"
#include "common/loop/handles.h"
#include "common/metrics/shared_metrics.h"
#include "master/generation.h"
#include "master/metrics_exporter.h"
#include "master/metrics_http.h"
#include "master/snapshots.h"
#include "common/aof/manifest.h"
#include "common/result/result.h"

namespace keyloop {

// "1 worker", "2 workers": status lines people read.
std::string counted(std::size_t n, const std::string& noun);
// mkdir -p; the reason if it cannot.
Status makeDirectory(const std::string& path);

class Master {
 public:
  Master(Config config, Log& log);
  ~Master();

  // Returns the process exit code.
  int run();

  // Where a reload is (for logs and the status line).
  enum class ReloadStep {
    Idle,
    ApplyingSettings,  // running workers take new settings; waits for each one's ConfigApplied
    FinishingPrevious,  // an older retiring generation must be gone first; waits for its exits
    HandingOver,        // generation g+1 runs; waits for its Serving and every retiree's HandedOver
  };
  static const char* nameOf(ReloadStep step);

 private:
  // ---- lifecycle (master.cpp) ----
  // Forks worker `slot` of `generation`; false (and why, in `error`) if
  // the fork or its control socket failed.
  Status forkWorker(Generation& generation, int slot, int handOvers);
  // A serving worker's (re)start: a failure retries with the backoff.
  void spawn(int slot);
  [[noreturn]] void becomeWorker(Generation& generation, int slot, int handOvers);
  void watchControl(Generation& generation, int slot);
  void readControl(Generation& generation, int slot);
  void onMessage(Generation& generation, int slot, ipc::ControlMessage& message, std::vector<UniqueFd>& fds);
  void onSignal(int signo);
  void reapChildren();
  void workerDied(int slot, int status);
  void scheduleRestart(int slot);
  void signalWorkers(int signo, bool retiringToo = true);
  bool anyWorkerAlive() const;
  void checkReady();
  std::string statusLine() const;
  // Opens `config`'s metrics listener (or closes it if disabled).
  Status startMetrics(const Config& config);
  MasterView metricsView() const;
  int metricsIndex(const Generation& generation, int slot) const {
    return metrics::SharedMetrics::indexOf(generation.bank(), slot);
  }
  // Runs `step` with the reserve descriptor given back: what the master
  // must still do when every other descriptor is taken (read the config,
  // answer a reload) gets one.
  template <typename Step>
  auto withReserve(Step step) {
    reserve_.reset();
    struct Retake {
      UniqueFd& reserve;
      ~Retake() { reserve = openReserve(); }
    } retake{reserve_};
    return step();
  }
  static UniqueFd openReserve();

  // ---- snapshots (saving.cpp) ----
  // A worker's message about snapshots; false if it is not one.
  bool onSnapshotMessage(int slot, const ipc::ControlMessage& message);
  // Starts a snapshot of the serving workers; the reason if it cannot.
  Status startSnapshot(bool final);
  void onSaveAsked(int slot, const ipc::SaveAsked& asked);
  void answerSave(int slot, std::uint64_t token, const std::string& reply);
  void checkSaveRules();
  // SIGTERM, SIGINT, SHUTDOWN, and SIGQUIT once drained: saves first when
  // `save`, then stops the workers. A failed save keeps the server up
  // (as Redis does) unless `force`; then(error) tells the outcome.
  void stopAfterSaving(bool save, bool force, std::function<void(const Status& saved)> then);
  void stopWorkers();
  bool saveOnExit() const { return !config().persistence.save.empty(); }
  // Sends a control message to a serving worker; false if it is not running.
  bool sendToWorker(int slot, const ipc::ControlMessage& message);

  // ---- the append-only log (rewrites.cpp) ----
  // Its directory and a manifest naming a file for each of `workers`
  // slots (before they are forked: at start, and at a reload while the
  // log is on, a new file for every slot); the reason if not.
  Status prepareLog(const PersistenceConfig& config, int workers);
  // BGREWRITEAOF and the automatic rewrite: every worker holds its writes
  // until none of them has a request out (HoldWrites / WritesHeld); then
  // the manifest gets a new file for each slot, and a snapshot writes the
  // new base while each worker appends to its new file from the moment
  // its part begins. Once the base is on disk the manifest names it and
  // the new files only, and the older files go. `begun` gets the outcome
  // of the start (empty: it began).
  using Begun = std::function<void(const Status& begun)>;
  Status startRewrite(Begun begun);
  // The log's manifest, read from disk if not yet known.
  void readManifestOnce(const PersistenceConfig& config);
  void onWritesHeld(int slot, const ipc::WritesHeld& held);
  // A rewrite still waiting for its hold ends: the holds end, begun(why).
  void abandonRewrite(const std::string& why);
  // The snapshot that writes base `seq` of the manifest `after` (the
  // workers move to `logFiles`, by slot, if any); rewriteDone follows.
  void writeBase(std::uint64_t seq, aof::Manifest after, std::vector<std::string> logFiles, Begun begun);
  void rewriteDone(const Status& written, const aof::Manifest& next);
  // Each second: appendonly turned on (a rewrite makes the log's first
  // files) or off, the log's size, a scheduled rewrite, the
  // auto-aof-rewrite rules.
  void checkLogRules();

  // ---- reload (reload.cpp) ----
  // SIGHUP: re-reads and validates the file. Invalid: nothing changes, the
  // error (file:line:column) is logged and answered. Valid: settings that
  // running workers can take (limits, requirepass, timeout, expiry, log
  // level, drain_timeout) go to them through shared memory and SIGHUP;
  // settings that need new workers (listen, workers, cpu_affinity,
  // thread_pool, log file, metrics on/off) start a new generation; the
  // metrics listener moves in the master; the pidfile needs a restart and
  // is refused by name.
  void reload();
  void applySettings(Config next, const std::string& text);
  void applyLogSettings();
  void checkSettingsApplied();
  // Builds generation g+1 (Generation::open), forks it, and only then
  // retires generation g: links its workers to the new ones and tells
  // them to hand their keys over. Any failure before that is the reload's
  // error and changes nothing.
  void startGeneration(Config next, std::string text);
  void retireServing(std::unique_ptr<Generation> next);
  void checkHandOver();
  void finishHandOver(bool complete);
  void retiringWorkerGone(int slot);
  // Destroys the retiring generation once its last worker is gone (and no
  // step waits on it), then starts a reload that waited for that.
  void dropRetiringIfGone();
  void answerReload(bool ok, const std::string& text);
  void enter(ReloadStep step);

  // The settings being served are the serving generation's (settings
  // reloads update it in place); startConfig_ builds the first one.
  const Config& config() const { return serving_->config(); }
  Config startConfig_;
  Log& log_;
  Loop loop_;
  SignalWatcher signals_;
  Timer forceStop_;
  pid_t masterPid_;
  UniqueFd reserve_;  // see withReserve
  std::unique_ptr<metrics::SharedMetrics> metrics_;  // one block per worker slot and bank
  std::unique_ptr<ipc::SharedText> configText_;      // what a settings reload hands to workers
  std::unique_ptr<Generation> serving_, retiring_;
  std::unique_ptr<MetricsHttp> metricsHttp_;

  ReloadStep step_ = ReloadStep::Idle;
  bool reloadAgain_ = false;  // a SIGHUP during a reload runs it again after
  Timer stepDeadline_;        // bounds ApplyingSettings and HandingOver
  std::uint64_t awaitedVersion_ = 0;
  std::string settingsAnswer_;
  TimePoint handOverStarted_{};
  struct PendingGeneration {
    Config config;
    std::string text;
  };
  std::optional<PendingGeneration> pending_;  // FinishingPrevious: what starts next
  bool dropQueued_ = false;                   // dropRetiringIfGone's deferred step is on its way
  std::vector<int> steerWhenHandedOver_;  // groups that grow: steered to every new slot at the end
  std::size_t nextAdopter_ = 0;           // round robin over the new workers

  std::uint64_t migratedKeys_ = 0;
  double lastReloadSeconds_ = 0;
  double lastPauseSeconds_ = 0;  // the longest a retiring worker held its clients in the last reload
  Timer statusTimer_;
  bool ready_ = false;
  std::uint64_t configGeneration_ = 1, reloadsOk_ = 0, reloadsFailed_ = 0;
  bool stopping_ = false;
  int exitCode_ = 0;

  std::unique_ptr<Snapshots> snapshots_;
  Timer saveRules_;
  bool finalSnapshot_ = false;  // the last one before exit has begun
  std::function<void()> afterReload_;  // a final snapshot that waits for the reload to end
  std::vector<bool> drained_;   // SIGQUIT: which serving workers are drained

  std::optional<aof::Manifest> logManifest_;  // the append-only log's files, as on disk
  bool logOn_ = false;  // the manifest names the files the workers append to
  struct Rewrite {
    std::uint64_t id = 0;
    std::vector<bool> held;  // by slot: WritesHeld came
    Begun begun;             // BGREWRITEAOF's answer
  };
  std::optional<Rewrite> rewrite_;  // between HoldWrites and the snapshot's start
  std::uint64_t nextRewriteId_ = 1;
  std::uint64_t logBaseSize_ = 0;   // the log's size after the last rewrite (auto-aof-rewrite-percentage)
};

}  // namespace keyloop
