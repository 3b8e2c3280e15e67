#include "tests/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <dirent.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "common/loop/unique_fd.h"

namespace keyloop::test {

Process::Process(const std::string& program, const std::vector<std::string>& args,
                 const std::string& logPath) {
  std::vector<std::string> argv{program};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
    int log = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) {
      ::dup2(log, STDOUT_FILENO);
      ::dup2(log, STDERR_FILENO);
    }
    std::vector<char*> raw;
    for (std::string& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    ::execvp(raw[0], raw.data());
    ::_exit(127);
  }
}

Process::~Process() {
  if (running()) {
    if (!stop(SIGTERM, std::chrono::seconds(5))) stop(SIGKILL);
  }
}

bool Process::running() {
  if (pid_ <= 0 || status_) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    status_ = status;
    return false;
  }
  return true;
}

std::optional<int> Process::stop(int signo, std::chrono::milliseconds timeout) {
  if (!running()) return status_;
  ::kill(pid_, signo);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) return status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::nullopt;
}

std::string commandLineOf(pid_t pid) {
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
  std::string title;
  std::getline(cmdline, title, '\0');
  return title;
}

std::map<pid_t, std::string> childrenOf(pid_t parent) {
  std::map<pid_t, std::string> found;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return found;
  while (dirent* entry = ::readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(line.c_str() + close + 2, "%c %d", &state, &ppid) != 2 || ppid != parent || state == 'Z') continue;
    found[pid] = commandLineOf(pid);
  }
  ::closedir(proc);
  return found;
}

std::map<int, pid_t> workerPidsBySlot(pid_t master, int workers) {
  static constexpr std::string_view kTitle = "keyloop: worker process ";
  std::map<int, pid_t> bySlot;
  for (int attempt = 0; attempt < 500 && static_cast<int>(bySlot.size()) < workers; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    bySlot.clear();
    for (const auto& [pid, title] : childrenOf(master)) {
      if (title.rfind(kTitle, 0) == 0 && title.find("retiring") == std::string::npos) bySlot[std::atoi(title.c_str() + kTitle.size())] = pid;
    }
  }
  return static_cast<int>(bySlot.size()) == workers ? bySlot : std::map<int, pid_t>{};
}

namespace {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  return addr;
}

bool bindable(std::uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
  const sockaddr_in addr = loopback(port);
  return ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

// Spread over `span` ports from `first`; ports handed out in this process
// are not handed out again.
std::uint16_t candidate(int first, int span) {
  static std::atomic<int> offset{0};
  return static_cast<std::uint16_t>(first + (::getpid() * 7 + offset.fetch_add(1) * 13) % span);
}

}  // namespace

UniqueFd connectTo(std::uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
  const sockaddr_in addr = loopback(port);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) fd.reset();
  return fd;
}

std::uint16_t freePort() {
  for (int attempt = 0; attempt < 200; ++attempt) {
    const std::uint16_t port = candidate(20000, 12000);
    if (bindable(port)) return port;
  }
  throw std::runtime_error("no free port");
}

std::uint16_t freePortRange(int count) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    const std::uint16_t base = candidate(10000, 10000 - count);
    bool all = true;
    for (int i = 0; i < count && all; ++i) all = bindable(static_cast<std::uint16_t>(base + i));
    if (all) return base;
  }
  throw std::runtime_error("no free port range");
}

bool waitForPort(std::uint16_t port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (connectTo(port)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string keyloopBinary() { return KEYLOOP_BINARY; }
std::string sourceDir() { return KEYLOOP_SOURCE_DIR; }

std::string testDefaults(const std::string& configPath, const std::string& body) {
  std::string tail;
  // Tests run side by side: metrics on a free port unless a test says where.
  if (body.find("metrics:") == std::string::npos) tail += "metrics:\n  port: 0\n";
  // No snapshot unless a test asks: none lands in another test's way.
  if (body.find("persistence:") == std::string::npos) {
    tail += "persistence:\n  dir: " + configPath + ".data\n  snapshot:\n    save: \"\"\n";
  }
  return tail;
}

std::string writeConfig(const std::string& dir, std::uint16_t port, const std::string& extra) {
  const std::string path = dir + "/keyloop.yaml";
  std::ofstream out(path);
  out << "listen:\n  - address: 127.0.0.1\n    port: " << port << "\n" << extra << testDefaults(path, extra);
  return path;
}

std::uint16_t metricsPortFromLog(const std::string& logPath) {
  for (int attempt = 0; attempt < 500; ++attempt) {
    std::ifstream log(logPath);
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    const std::size_t at = text.find("Metrics on http://127.0.0.1:");
    if (at != std::string::npos) return static_cast<std::uint16_t>(std::atoi(text.c_str() + at + 28));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

KeyloopServer::KeyloopServer(const std::string& extraConfig)
    : dir("keyloop-test-"),
      port(freePort()),
      configPath(writeConfig(dir.path, port, extraConfig)),
      process(keyloopBinary(), {"-c", configPath}, configPath + ".log") {
  if (!waitForPort(port)) throw std::runtime_error("keyloop did not start; see " + configPath + ".log");
}

namespace {

std::string pidfileFor(const std::string& tag) {
  return (std::filesystem::temp_directory_path() /
          ("keyloop-test-" + tag + "-" + std::to_string(::getpid()) + ".pid")).string();
}

}  // namespace

ReloadableServer::ReloadableServer(const std::string& tag, const std::string& settings)
    : pidfile(pidfileFor(tag)), server("pidfile: " + pidfile + "\n" + settings) {}

void ReloadableServer::rewrite(const std::string& settings, const std::string& extraListen) {
  std::ofstream(server.configPath, std::ios::trunc)
      << "listen:\n  - address: 127.0.0.1\n    port: " << server.port << "\n" << extraListen
      << "pidfile: " << pidfile << "\n" << settings << testDefaults(server.configPath, settings);
}

CommandResult ReloadableServer::reload(const std::string& settings, const std::string& extraListen) {
  rewrite(settings, extraListen);
  return runCommand(keyloopBinary() + " -s reload -c " + server.configPath, 90);
}

CommandResult ReloadableServer::reloadWorkers(int workers, const std::string& more) {
  return reload("workers: " + std::to_string(workers) + "\n" + more);
}

bool ReloadableServer::settlesTo(int workers, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int running = 0;
    for (const auto& [pid, title] : childrenOf(server.process.pid())) {
      running += title.rfind("keyloop: worker process", 0) == 0;
    }
    if (running == workers) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TempDir::TempDir(const char* prefix) : path(std::string("/tmp/") + prefix + "XXXXXX") {
  if (::mkdtemp(path.data()) == nullptr) throw std::runtime_error("mkdtemp");
}

TempDir::~TempDir() {
  if (::testing::Test::HasFailure()) {
    std::cerr << "kept for the failed test: " << path << "\n";
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

namespace {

std::vector<std::string> joined(std::vector<std::string> first, const std::vector<std::string>& more) {
  first.insert(first.end(), more.begin(), more.end());
  return first;
}

}  // namespace

RedisServer::RedisServer(const std::vector<std::string>& extra)
    : port(freePort()),
      dir("keyloop-test-redis-"),
      process("redis-server", joined({"--port", std::to_string(port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", dir.path},
                                     extra)) {
  if (!waitForPort(port)) throw std::runtime_error("redis-server did not start");
}

}  // namespace keyloop::test
