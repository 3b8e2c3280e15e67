// keyloop: the command line. Parses options (Boost.Program_options), loads
// the config, and hands over to the Master (master.h), which forks the
// workers and runs until SIGTERM/SIGINT (fast) or SIGQUIT (graceful); or,
// with -s, signals the running master (control.h).
#include <sys/resource.h>
#include <sys/stat.h>

#include <boost/program_options.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <system_error>

#include "common/config/config.h"
#include "common/config/version.h"
#include "common/log/log.h"
#include "common/loop/handles.h"
#include "master/control.h"
#include "master/master.h"
#include "master/process_title.h"

namespace po = boost::program_options;
using namespace keyloop;

namespace {

constexpr const char* kDefaultConfig = "conf/keyloop.yaml";

struct Options {
  std::string configPath = kDefaultConfig;
  bool testOnly = false;
  std::string signal;  // -s reload|stop|quit
};

// Returns an exit code when the process should stop here.
std::optional<int> parseOptions(int argc, char** argv, Options& options) {
  po::options_description visible("Options");
  visible.add_options()
      ("help,h", "print this help and exit")
      ("version,v", "print the version and exit")
      ("config,c", po::value<std::string>(&options.configPath)->value_name("FILE"),
       "configuration file (default: conf/keyloop.yaml)")
      ("test,t", "test the configuration file and exit")
      ("signal,s", po::value<std::string>(&options.signal)->value_name("ACTION"),
       "tell the running master (found by the config's pidfile) to reload, stop or quit, and wait for the outcome");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(visible).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "keyloop: " << e.what() << "\n" << "Try 'keyloop --help'.\n";
    return 1;
  }
  if (vm.count("help")) {
    std::cout << "Usage: keyloop [-c FILE] [-t | -s reload|stop|quit]\n\n" << visible;
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "keyloop " << kKeyloopVersion << " (Redis " << kRedisCompatibleVersion
              << " compatible)\n";
    return 0;
  }
  options.testOnly = vm.count("test") > 0;
  return std::nullopt;
}

// Like Redis: make room for maxclients descriptors (plus a few of our own)
// up to the hard limit, and say so when the hard limit is lower.
void raiseDescriptorLimit(std::size_t maxClients, Log& log) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t wanted = static_cast<rlim_t>(maxClients) + 32;
  if (limit.rlim_cur >= wanted) return;
  limit.rlim_cur = std::min(wanted, limit.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < wanted) {
    log.warning("maxclients %zu needs %llu open files, but the hard limit is %llu", maxClients,
                static_cast<unsigned long long>(wanted), static_cast<unsigned long long>(limit.rlim_max));
  }
}

}  // namespace

int main(int argc, char** argv) {
  initProcessTitle(argc, argv);
  Options options;
  if (auto exit = parseOptions(argc, argv, options)) return *exit;

  ConfigResult loaded = loadConfig(options.configPath);
  if (!options.signal.empty()) {
    // An invalid file is the master's to report (it keeps serving): still signal it.
    return controlMaster(options.configPath, loaded, options.signal);
  }
  if (!loaded) {
    std::cerr << "keyloop: " << loaded.error() << "\n";
    if (options.testOnly) std::cerr << "keyloop: configuration file " << options.configPath << " test failed\n";
    return 1;
  }
  Config config = std::move(loaded).value();
  if (options.testOnly) {
    std::cout << "keyloop: configuration file " << options.configPath << " test is successful\n";
    return 0;
  }

  Log log;
  if (Status logging = log.configure(config.logLevel, config.logFile); !logging) {
    std::cerr << "keyloop: " << logging.error() << "\n";
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);
  raiseDescriptorLimit(config.maxClients, log);

  // The loop's own epoll and signalfd are asked for once, here at start; a
  // kernel that refuses them ends the start with a clear line, not abort().
  // Everything after that reports failures as values (master.h).
  try {
    Master master(std::move(config), log);
    return master.run();
  } catch (const std::system_error& e) {
    log.warning("cannot start: %s", e.what());
    return 1;
  }
}
