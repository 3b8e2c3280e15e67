// The grammar-driven differential fuzzer's short run (tests/fuzz/): random
// calls of every command both servers know, built from redis-server's
// COMMAND DOCS, with 1 and 4 workers, over RESP2 and RESP3, alone, inside
// MULTI and inside scripts. Fixed seeds: the same calls every run, so a
// failure replays. The long run is loadtest/fuzz (docs/robustness.md).
#include <gtest/gtest.h>

#include <iostream>

#include "tests/fuzz/differential_fuzz.h"

namespace keyloop::test {
namespace {

struct FuzzRun {
  const char* name;
  int workers, protocol;
  fuzz::Mode mode;
  std::uint64_t seed;
};

void PrintTo(const FuzzRun& run, std::ostream* out) { *out << run.name << ", seed " << run.seed; }

class GrammarFuzz : public ::testing::TestWithParam<FuzzRun> {};

TEST_P(GrammarFuzz, KeyloopAnswersAsRedisServerAndLosesNoWorker) {
  const FuzzRun& run = GetParam();
  fuzz::FuzzOptions options;
  options.workers = run.workers;
  options.protocol = run.protocol;
  options.mode = run.mode;
  options.seed = run.seed;
  options.calls = 6000;
  const fuzz::FuzzReport report = fuzz::runDifferentialFuzz(options);
  std::cout << report.summary() << std::endl;
  for (const std::string& trouble : report.redisTrouble) std::cout << "  (not compared) " << trouble << std::endl;
  EXPECT_GE(report.sent, options.calls);
  EXPECT_GT(report.comparedBytes, report.sent / 2) << "most calls must be compared byte for byte";
  for (const std::string& failure : report.failures) ADD_FAILURE() << failure;
}

INSTANTIATE_TEST_SUITE_P(Short, GrammarFuzz,
                         ::testing::Values(FuzzRun{"OneWorkerResp2", 1, 2, fuzz::Mode::Plain, 1},
                                           FuzzRun{"FourWorkersResp3", 4, 3, fuzz::Mode::Plain, 2},
                                           FuzzRun{"FourWorkersInMulti", 4, 2, fuzz::Mode::Multi, 3},
                                           FuzzRun{"TwoWorkersInScripts", 2, 3, fuzz::Mode::Script, 4},
                                           FuzzRun{"OneWorkerInScripts", 1, 3, fuzz::Mode::Script, 55}),
                         [](const ::testing::TestParamInfo<FuzzRun>& info) { return info.param.name; });

}  // namespace
}  // namespace keyloop::test
