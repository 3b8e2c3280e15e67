// Generation::open builds one config's runtime whole or not at all: a kept
// address reuses the old generation's sockets, new slots get sockets of
// their own, and a refusal on the way (EMFILE, a port taken) is an error
// value that leaves no descriptor behind.
#include "master/generation.h"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

namespace keyloop {
namespace {

Config configWith(int workers, std::uint16_t port) {
  Config c;
  c.workers = workers;
  ListenConfig l;
  l.address = "127.0.0.1";
  l.port = port;
  c.listen = {l};
  return c;
}

std::size_t openDescriptors() {
  std::size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (::readdir(d) != nullptr) ++n;
  ::closedir(d);
  return n;
}

std::unique_ptr<Generation> opened(Generation::Opened made) {
  if (!made) ADD_FAILURE() << made.error();
  return made.ok()
             ? std::move(*made)
             : nullptr;
}

ino_t inodeOf(int fd) {
  struct stat st{};
  ::fstat(fd, &st);
  return st.st_ino;
}

TEST(Generation, HasEverythingItsWorkersNeed) {
  auto g = opened(Generation::open(configWith(3, 0), nullptr));
  ASSERT_TRUE(g);
  EXPECT_EQ(g->workers(), 3);
  EXPECT_EQ(g->bank(), 0);
  EXPECT_EQ(g->guests(), 0);
  ASSERT_EQ(g->listening().size(), 1u);
  EXPECT_NE(g->listening()[0].port, 0) << "port 0 is resolved once, for every slot";
  for (int slot = 0; slot < 3; ++slot) {
    ASSERT_EQ(g->listeners()[static_cast<std::size_t>(slot)].size(), 1u);
    EXPECT_EQ(g->listeners()[static_cast<std::size_t>(slot)][0].port, g->listening()[0].port);
    EXPECT_TRUE(g->slot(slot).control) << slot;
    EXPECT_TRUE(g->slot(slot).workerEnd) << slot;
    for (int peer = 0; peer < 3; ++peer) {
      EXPECT_EQ(g->channel(slot, peer) != nullptr, slot != peer) << slot << "->" << peer;
    }
  }
}

TEST(Generation, AKeptAddressKeepsItsSocketsAndNewSlotsGetTheirOwn) {
  auto first = opened(Generation::open(configWith(2, 0), nullptr));
  ASSERT_TRUE(first);
  const std::uint16_t port = first->listening()[0].port;
  Config next = configWith(3, 0);  // the same entry as configured
  auto second = opened(Generation::open(next, first.get()));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->bank(), 1) << "the other bank: the retiring generation keeps writing its own";
  EXPECT_EQ(second->guests(), 2);
  EXPECT_EQ(second->listening()[0].port, port);
  for (int slot = 0; slot < 2; ++slot) {
    const int before = first->listeners()[static_cast<std::size_t>(slot)][0].fd.get();
    const int after = second->listeners()[static_cast<std::size_t>(slot)][0].fd.get();
    EXPECT_NE(before, after) << "a descriptor of its own";
    EXPECT_EQ(inodeOf(before), inodeOf(after)) << "slot " << slot << ": the same socket, so its queue carries over";
  }
  EXPECT_NE(inodeOf(second->listeners()[2][0].fd.get()), inodeOf(first->listeners()[0][0].fd.get()));
  for (int old = 0; old < 2; ++old) {
    for (int fresh = 0; fresh < 3; ++fresh) {
      EXPECT_NE(second->guestChannel(old, fresh, true), nullptr);
      EXPECT_NE(second->guestChannel(old, fresh, false), nullptr);
    }
  }
}

TEST(Generation, OutOfDescriptorsItFailsAndLeavesNothingOpen) {
  auto first = opened(Generation::open(configWith(2, 0), nullptr));
  ASSERT_TRUE(first);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  // Room for some of what four workers need, not all of it: the build
  // fails somewhere in the middle.
  for (int room : {1, 5, 20}) {
    const std::size_t before = openDescriptors();
    rlimit low = saved;
    low.rlim_cur = before + static_cast<rlim_t>(room);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    Generation::Opened made = Generation::open(configWith(4, 0), first.get());
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
    ASSERT_TRUE(!made.ok()) << "room " << room;
    EXPECT_NE(made.error().find("Too many open files"), std::string::npos) << made.error();
    EXPECT_EQ(openDescriptors(), before) << "room " << room << ": the failed build left descriptors open";
  }
  EXPECT_TRUE(opened(Generation::open(configWith(4, 0), first.get()))) << "fine again with room";
}

TEST(Generation, ATakenPortIsAnErrorNamingTheAddress) {
  auto holder = opened(Generation::open(configWith(1, 0), nullptr));
  ASSERT_TRUE(holder);
  const std::uint16_t taken = holder->listening()[0].port;
  Generation::Opened made = Generation::open(configWith(2, taken), nullptr);
  ASSERT_TRUE(!made.ok());
  EXPECT_NE(made.error().find("127.0.0.1:" + std::to_string(taken)), std::string::npos)
      << made.error();
}

// Three consecutive free ports, from 9200-9899: below every range the
// other tests draw ports from (10000 and up), so nothing else wants them.
std::uint16_t freeTriple() {
  for (std::uint16_t base = 9200; base < 9900; base = static_cast<std::uint16_t>(base + 3)) {
    bool free = true;
    for (int i = 0; i < 3 && free; ++i) {
      UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<std::uint16_t>(base + i));
      free = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }
    if (free) return base;
  }
  return 0;
}

// Cluster mode: every slot gets its own socket on cluster.port + slot,
// after its listen entries; a reload that keeps the cluster port keeps the
// sockets of the slots both generations have, and opens the new slot's.
TEST(Generation, ClusterPortsAreOnePerSlotAndKeptAcrossAReload) {
  Config config = configWith(2, 0);
  config.cluster.enabled = true;
  const std::uint16_t base = freeTriple();
  ASSERT_NE(base, 0);
  config.cluster.port = base;
  auto first = opened(Generation::open(config, nullptr));
  ASSERT_TRUE(first);
  for (int slot = 0; slot < 2; ++slot) {
    ASSERT_TRUE(first->hasClusterSocket(slot));
    EXPECT_EQ(first->listeners()[static_cast<std::size_t>(slot)].back().port, base + slot);
  }
  Config grown = config;
  grown.workers = 3;
  auto second = opened(Generation::open(grown, first.get()));
  ASSERT_TRUE(second);
  for (int slot = 0; slot < 2; ++slot) {
    EXPECT_EQ(inodeOf(second->listeners()[static_cast<std::size_t>(slot)].back().fd.get()),
              inodeOf(first->listeners()[static_cast<std::size_t>(slot)].back().fd.get()));
  }
  EXPECT_EQ(second->listeners()[2].back().port, base + 2);
}

TEST(Generation, ClusterPortsThatCannotBeAreAnError) {
  const std::uint16_t base = freeTriple();
  ASSERT_NE(base, 0);
  Config overlap = configWith(2, static_cast<std::uint16_t>(base + 1));
  overlap.cluster.enabled = true;
  overlap.cluster.port = base;  // worker 1's port would be the listen port
  const auto made = Generation::open(overlap, nullptr);
  ASSERT_TRUE(!made.ok());
  EXPECT_EQ(made.error(), "cluster port " + std::to_string(base + 1) + " is also a listen port");
  Config past = configWith(3, 0);
  past.cluster.enabled = true;
  past.cluster.port = 65534;
  const auto beyond = Generation::open(past, nullptr);
  ASSERT_TRUE(!beyond.ok());
  EXPECT_EQ(beyond.error(), "cluster.port 65534 + 2 workers is past port 65535");
}

}  // namespace
}  // namespace keyloop
