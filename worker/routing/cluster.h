// ClusterNodes: keyloop as a Redis Cluster (cluster.enabled): node N is
// worker N, serving on cluster.port + N, owning the ring's slot ranges of
// worker N (common/ring). What CLUSTER SLOTS / SHARDS / NODES report and
// what -MOVED points at comes from here, so all of them agree.
//
// Node ids are 40 hex digits derived from the config file's path, the
// cluster port and the node's index: the same on every start and reload
// of one configuration, different for another server on the same machine.
#pragma once

#include <cstdint>
#include <string>

#include "common/config/config.h"

namespace keyloop {

class ClusterNodes {
 public:
  explicit ClusterNodes(const Config& config) : config_(config) {}

  // The address clients are sent to: cluster.announce, or the first listen address.
  std::string address() const;
  std::uint16_t portOf(int node) const { return static_cast<std::uint16_t>(config_.cluster.port + node); }
  std::string idOf(int node) const;

 private:
  const Config& config_;
};

}  // namespace keyloop
