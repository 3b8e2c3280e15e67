// grammar_fuzz: the differential fuzzer's long run (loadtest/fuzz runs it
// with 1 and 4 workers, RESP2 and RESP3, alone, in MULTI and in scripts).
//   grammar_fuzz --workers N --resp 2|3 --mode plain|multi|script --seconds S [--seed N] [--check-state yes]
// Prints its counts and every failure; exits 1 if keyloop failed.
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <string>

#include "tests/fuzz/differential_fuzz.h"

int main(int argc, char** argv) {
  keyloop::fuzz::FuzzOptions options;
  options.seed = std::random_device{}();
  options.duration = std::chrono::seconds(60);
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--workers") options.workers = std::atoi(value.c_str());
    else if (flag == "--resp") options.protocol = std::atoi(value.c_str());
    else if (flag == "--seconds") options.duration = std::chrono::seconds(std::atoll(value.c_str()));
    else if (flag == "--seed") options.seed = std::strtoull(value.c_str(), nullptr, 10);
    else if (flag == "--check-state") options.checkState = value == "yes";
    else if (flag == "--mode" && value == "multi") options.mode = keyloop::fuzz::Mode::Multi;
    else if (flag == "--mode" && value == "script") options.mode = keyloop::fuzz::Mode::Script;
    else if (flag != "--mode" || value != "plain") {
      std::cerr << "usage: grammar_fuzz --workers N --resp 2|3 --mode plain|multi|script --seconds S [--seed N]\n";
      return 2;
    }
  }
  std::cout << "seed " << options.seed << ", " << options.workers << " workers, RESP" << options.protocol << std::endl;
  options.progress = &std::cout;
  const keyloop::fuzz::FuzzReport report = keyloop::fuzz::runDifferentialFuzz(options);
  for (const std::string& trouble : report.redisTrouble) std::cout << "not compared: " << trouble << "\n";
  for (const std::string& failure : report.failures) std::cout << "FAILURE: " << failure << "\n";
  std::cout << report.summary() << std::endl;
  // One markdown row for loadtest/fuzz's table.
  const char* mode = options.mode == keyloop::fuzz::Mode::Multi    ? "in MULTI"
                     : options.mode == keyloop::fuzz::Mode::Script ? "in scripts"
                                                                   : "alone";
  std::cout << "| " << options.workers << " | RESP" << options.protocol << " | " << mode << " | " << options.seed
            << " | " << report.sent << " | " << report.comparedBytes << " | " << report.comparedUnordered << " | "
            << report.comparedClass << " | " << report.knownLimits << " | " << report.redisHangs + report.redisCrashes
            << " | " << report.failures.size() << " |" << std::endl;
  return report.failures.empty() ? 0 : 1;
}
