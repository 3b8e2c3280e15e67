// The latency monitor's texts, worded and drawn as Redis's: LATENCY GRAPH's
// sparkline of one event and LATENCY DOCTOR's report with its advice.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config/config.h"
#include "common/metrics/latency_tracking.h"

namespace keyloop::commands {

using LatencyEvents = std::vector<std::pair<std::string_view, metrics::MergedSeries>>;

std::string latencyGraph(std::string_view event, const metrics::MergedSeries& series, std::int64_t nowSeconds);
std::string latencyDoctor(const LatencyEvents& events, const Config& config, std::int64_t nowSeconds);

}  // namespace keyloop::commands
