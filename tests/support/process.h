// Test support: start real processes (keyloop, redis-server) and stop them
// by pid, talk raw RESP to them over loopback.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/loop/unique_fd.h"
#include "tests/support/command.h"

namespace keyloop::test {

// A child process, stopped (SIGTERM, then SIGKILL) and reaped on destruction.
class Process {
 public:
  Process(const std::string& program, const std::vector<std::string>& args,
          const std::string& logPath = "/dev/null");
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `signo` and waits up to `timeout` for the exit; returns the wait status.
  std::optional<int> stop(int signo, std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// A process's command line as `ps` shows it (its title, for keyloop).
std::string commandLineOf(pid_t pid);
// Live (not zombie) children of `parent`, with their command lines.
std::map<pid_t, std::string> childrenOf(pid_t parent);
// keyloop's serving workers by slot ("keyloop: worker process N", not the
// retiring ones of a reload), once `workers` of them run under `master`
// (empty after 5 s otherwise).
std::map<int, pid_t> workerPidsBySlot(pid_t master, int workers);

// A TCP port on 127.0.0.1 that was free a moment ago (from 20000-31999:
// below the kernel's ephemeral range, which other tests' clients and
// port-0 listeners draw from at any moment).
std::uint16_t freePort();
// `count` consecutive such ports (cluster.port + N), from 10000-19999, where
// freePort() never looks: only another range could want them.
std::uint16_t freePortRange(int count);
// A plain TCP connection to 127.0.0.1:port (invalid if refused).
UniqueFd connectTo(std::uint16_t port);
// Waits until something accepts on 127.0.0.1:port.
bool waitForPort(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Paths given by CMake.
std::string keyloopBinary();
std::string sourceDir();

// Writes a keyloop config, `dir`/keyloop.yaml, listening on `port` plus
// `extra` YAML (metrics on port 0 unless `extra` has a metrics section);
// returns its path.
std::string writeConfig(const std::string& dir, std::uint16_t port, const std::string& extra = "");
// What every test config gets unless `body` says otherwise: metrics on
// port 0, and persistence in `configPath`.data with no save rules.
std::string testDefaults(const std::string& configPath, const std::string& body);

// keyloop with its metrics on port 0: the port it got is in its log
// (nothing else can take it between a choice and the bind); 0 if it never
// appears.
std::uint16_t metricsPortFromLog(const std::string& logPath);

// A new directory under /tmp, removed with what it holds on destruction,
// unless the running test has failed (its logs are then what to read).
struct TempDir {
  explicit TempDir(const char* prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path;
};

// keyloop on a free port with a temporary config; its config, log and
// data live in a directory of its own.
struct KeyloopServer {
  explicit KeyloopServer(const std::string& extraConfig = "");
  TempDir dir;  // outlives the process (members go in reverse order)
  std::uint16_t port;
  std::string configPath;
  Process process;
};

// keyloop with a pidfile, whose config the test rewrites and reloads.
struct ReloadableServer {
  ReloadableServer(const std::string& tag, const std::string& settings);
  // Writes `settings` under the original listen entry (plus `extraListen`
  // entries) and reloads; returns `keyloop -s reload`'s result.
  CommandResult reload(const std::string& settings, const std::string& extraListen = "");
  // Only writes the config (the test sends SIGHUP itself).
  void rewrite(const std::string& settings, const std::string& extraListen = "");
  CommandResult reloadWorkers(int workers, const std::string& more = "");
  // Waits until exactly `workers` worker processes run (the retiring ones gone).
  bool settlesTo(int workers, std::chrono::milliseconds timeout = std::chrono::seconds(15));

  std::string pidfile;
  KeyloopServer server;
};

// redis-server on a free port, no persistence, 16 databases (as keyloop),
// keeping its files in a directory of its own (it would load a dump.rdb
// from wherever it starts).
struct RedisServer {
  // `extra`: more redis-server options (later ones win).
  explicit RedisServer(const std::vector<std::string>& extra = {});
  std::uint16_t port;
  TempDir dir;  // outlives the process (members go in reverse order)
  Process process;
};

}  // namespace keyloop::test
