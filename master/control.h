// Control of a running master from the command line, like `nginx -s`:
// `keyloop -s reload|stop|quit -c FILE` finds the master through the
// pidfile FILE names, signals it (HUP, TERM, QUIT) and waits for the
// outcome, so that systemd's ExecReload= and scripts learn whether it
// worked:
//   reload  waits for the master's answer in the reload status file
//           (`<pidfile>.reload`, one line: "<n> ok <text>" or
//           "<n> error <text>") and exits 0 or 1 with that text;
//   stop    SIGTERM, waits until the master is gone;
//   quit    SIGQUIT (graceful), waits until the master is gone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/config/config.h"

namespace keyloop {

// Returns the exit code; messages go to stdout / stderr. `loaded` is the
// file as loaded: if it does not validate, only its pidfile is read and the
// master reports what is wrong (if not even that can be read, this does).
int controlMaster(const std::string& configPath, const ConfigResult& loaded, const std::string& action);

struct ReloadStatus {
  std::uint64_t sequence = 0;  // how many reloads the master has answered
  bool ok = false;
  std::string text;
};

// The master's side: record the outcome of reload number `sequence`.
void writeReloadStatus(const std::string& pidFile, const ReloadStatus& status);
// Where the outcome is kept, next to the pidfile (the master removes it on exit).
std::string reloadStatusPath(const std::string& pidFile);
std::optional<ReloadStatus> readReloadStatus(const std::string& pidFile);

}  // namespace keyloop
