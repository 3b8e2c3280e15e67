#include "master/control.h"

#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

namespace keyloop {

namespace {

using Clock = std::chrono::steady_clock;

// A zombie counts as gone: it has exited and waits only to be reaped.
bool processExists(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

template <typename Done>
bool waitUntil(Done done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

}  // namespace

std::string reloadStatusPath(const std::string& pidFile) { return pidFile + ".reload"; }

void writeReloadStatus(const std::string& pidFile, const ReloadStatus& status) {
  if (pidFile.empty()) return;
  // Written whole, then renamed: a reader never sees half a line.
  const std::string temporary = reloadStatusPath(pidFile) + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << status.sequence << (status.ok ? " ok " : " error ") << status.text << "\n";
  }
  std::rename(temporary.c_str(), reloadStatusPath(pidFile).c_str());
}

std::optional<ReloadStatus> readReloadStatus(const std::string& pidFile) {
  std::ifstream in(reloadStatusPath(pidFile));
  ReloadStatus s;
  std::string outcome;
  if (!(in >> s.sequence >> outcome)) return std::nullopt;
  s.ok = outcome == "ok";
  std::getline(in >> std::ws, s.text);
  return s;
}

int controlMaster(const std::string& configPath, const ConfigResult& loaded, const std::string& action) {
  const Config* config = loaded ? &*loaded : nullptr;
  const int signo = action == "reload" ? SIGHUP : action == "stop" ? SIGTERM : action == "quit" ? SIGQUIT : 0;
  if (signo == 0) {
    std::cerr << "keyloop: -s takes reload, stop or quit, not '" << action << "'\n";
    return 1;
  }
  const std::string pidFile = config ? config->pidFile : pidFileOf(configPath).value_or("");
  if (pidFile.empty() && config == nullptr) {
    std::cerr << "keyloop: " << loaded.error() << "\n";
    return 1;
  }
  if (pidFile.empty()) {
    std::cerr << "keyloop: -s " << action << " finds the master through its pidfile, and " << configPath
              << " sets none ('pidfile:')\n";
    return 1;
  }
  pid_t pid = 0;
  if (!(std::ifstream(pidFile) >> pid) || pid <= 0) {
    std::cerr << "keyloop: could not read a pid from " << pidFile << " (is keyloop running?)\n";
    return 1;
  }
  if (!processExists(pid)) {
    std::cerr << "keyloop: no process " << pid << " (stale pidfile " << pidFile << ")\n";
    return 1;
  }
  const std::uint64_t before = readReloadStatus(pidFile).value_or(ReloadStatus{}).sequence;
  if (::kill(pid, signo) != 0) {
    std::cerr << "keyloop: could not signal " << pid << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  if (signo == SIGHUP) {
    std::optional<ReloadStatus> answer;
    const bool answered = waitUntil([&] {
      answer = readReloadStatus(pidFile);
      return answer && answer->sequence > before;
    }, std::chrono::seconds(60));
    if (!answered) {
      std::cerr << "keyloop: the master (pid " << pid << ") did not answer the reload within 60 s\n";
      return 1;
    }
    (answer->ok ? std::cout : std::cerr) << "keyloop: reload " << (answer->ok ? "done: " : "failed: ")
                                         << answer->text << "\n";
    return answer->ok ? 0 : 1;
  }
  const auto patience = std::chrono::milliseconds(config ? config->drainTimeoutMs : Config{}.drainTimeoutMs) +
                        std::chrono::seconds(10);
  if (!waitUntil([&] { return !processExists(pid); }, std::chrono::duration_cast<std::chrono::milliseconds>(patience))) {
    std::cerr << "keyloop: the master (pid " << pid << ") is still running after "
              << std::chrono::duration_cast<std::chrono::seconds>(patience).count() << " s\n";
    return 1;
  }
  return 0;
}

}  // namespace keyloop
