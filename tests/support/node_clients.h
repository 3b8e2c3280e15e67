// The Node.js clients the tests drive (ioredis, node-redis), installed
// from the npm registry once per build tree (tests/cluster/install-node-clients).
#pragma once

#include <string>

namespace keyloop::test {

// Their node_modules folder; a failed install fails the calling test.
std::string nodeClientModules();

}  // namespace keyloop::test
