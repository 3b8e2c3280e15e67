#include "worker/routing/cluster.h"

#include "common/ring/ring.h"

namespace keyloop {

std::string ClusterNodes::address() const {
  if (!config_.cluster.announce.empty()) return config_.cluster.announce;
  return config_.listen.empty() ? std::string("127.0.0.1") : config_.listen.front().address;
}

std::string ClusterNodes::idOf(int node) const {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a over what names the node
  for (unsigned char c : config_.path + ":" + std::to_string(config_.cluster.port) + ":" + std::to_string(node)) {
    h = (h ^ c) * 1099511628211ULL;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int word = 0; id.size() < 40; ++word) {
    std::uint64_t bits = ring::mix(h + static_cast<std::uint64_t>(word));
    for (int i = 0; i < 16 && id.size() < 40; ++i, bits >>= 4) id += kHex[bits & 15];
  }
  return id;
}

}  // namespace keyloop
