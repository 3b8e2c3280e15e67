// The append-only log's pieces in-process: the manifest as Redis writes
// and reads it, and AofLog's batches (annotation, blocks, durability) read
// back from its file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/loop/loop.h"
#include "common/loop/thread_pool.h"
#include "worker/persistence/aof_log.h"
#include "common/aof/manifest.h"
#include "common/aof/log_file.h"
#include "worker/persistence/replay.h"

namespace keyloop {
namespace {

TEST(AofManifest, ParsesAndFormatsRedissLayout) {
  const std::string text =
      "file appendonly.aof.2.base.rdb seq 2 type b\n"
      "file appendonly.aof.3.incr.aof seq 3 type i worker 0\n"
      "file appendonly.aof.4.incr.aof seq 4 type i worker 1\n"
      "file appendonly.aof.5.incr.aof seq 5 type i worker 0\n";
  auto parsed = aof::parseManifest(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  const aof::Manifest& m = parsed.value();
  ASSERT_TRUE(m.base.has_value());
  EXPECT_EQ(m.base->name, "appendonly.aof.2.base.rdb");
  EXPECT_EQ(m.fileOf(0)->name, "appendonly.aof.5.incr.aof");  // the last line naming the slot
  EXPECT_EQ(m.fileOf(1)->seq, 4u);
  EXPECT_EQ(m.fileOf(2), nullptr);
  EXPECT_EQ(m.format(), text);
  // Redis's own manifest (no worker pairs; history lines) reads too.
  auto redis = aof::parseManifest("file appendonly.aof.1.base.rdb seq 1 type b\n"
                                  "file appendonly.aof.1.incr.aof seq 1 type h\n"
                                  "file appendonly.aof.2.incr.aof seq 2 type i\n");
  ASSERT_TRUE(redis.ok());
  EXPECT_EQ(redis.value().incremental.size(), 1u);
}

TEST(AofManifest, RefusesWhatRedisRefuses) {
  auto error = [](const std::string& text) {
    auto parsed = aof::parseManifest(text);
    return !parsed.ok() ? parsed.error() : std::string("parsed");
  };
  EXPECT_EQ(error(""), "Found an empty AOF manifest");
  EXPECT_EQ(error("file a seq 1\n"), "line 1: Invalid AOF manifest file format");
  EXPECT_EQ(error("file dir/a seq 1 type i\n"), "line 1: File can't be a path, just a filename");
  EXPECT_EQ(error("file a seq 1 type b\nfile b seq 2 type b\n"), "line 2: Found duplicate base file information");
  EXPECT_EQ(error("file a seq 2 type i\nfile b seq 2 type i\n"), "line 2: Found a non-monotonic sequence number");
  EXPECT_EQ(error("file a seq 1 type x\n"), "line 1: Unknown AOF file type");
}

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A log in a file of its own, on a loop with a pool.
struct LogInFile {
  explicit LogInFile(const std::string& tag)
      : path((std::filesystem::temp_directory_path() / (tag + "-" + std::to_string(::getpid()))).string()) {
    std::filesystem::remove(path);
  }
  ~LogInFile() {
    aof.close();
    std::filesystem::remove(path);
  }
  std::string path;
  Loop loop;
  ThreadPool pool{loop, 1};
  Log log;
  AofLog aof{loop, pool, log};
};

TEST(AofLog, WritesAnnotatedBatchesWithBlocksWhole) {
  LogInFile f("aof-log");
  AofLog& aof = f.aof;
  const std::string& path = f.path;
  ASSERT_TRUE(aof.open(path, 1, 2).ok());
  const std::string_view set[] = {"SET", "k", "v"};
  aof.append(0, set);
  aof.beginAtomic();
  aof.append(0, set);
  aof.write();  // the open block waits: only the first record goes
  const std::string first = readAll(path);
  EXPECT_EQ(first.substr(first.find("\r\n") + 2), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
  EXPECT_EQ(first.rfind("#keyloop 1 ", 0), 0u) << first;
  EXPECT_NE(first.find(" 1/2 27\r\n"), std::string::npos) << first;  // slot 1 of 2, 27 bytes
  const std::vector<std::string_view> expire = {"PEXPIREAT", "k", "1234"};
  aof.append(0, expire);
  aof.endAtomic();
  aof.write();
  const std::string second = readAll(path).substr(first.size());
  EXPECT_EQ(second.rfind("#keyloop 2 ", 0), 0u) << second;
  EXPECT_EQ(second.substr(second.find("\r\n") + 2),
            "*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
            "*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nk\r\n$4\r\n1234\r\n*1\r\n$4\r\nEXEC\r\n");
  // One record in a block needs no MULTI.
  aof.beginAtomic();
  aof.appendState(0, "gone", nullptr);
  aof.endAtomic();
  aof.write();
  const std::string third = readAll(path).substr(first.size() + second.size());
  EXPECT_EQ(third.substr(third.find("\r\n") + 2), "*2\r\n$3\r\nDEL\r\n$4\r\ngone\r\n");
}

// Records of another database come after a SELECT, as in Redis's AOF; a
// file opened again (its end's database unknown) starts with one.
TEST(AofLog, SelectsTheDatabaseWhereItChangesAndAfterAReopen) {
  LogInFile f("aof-select");
  ASSERT_TRUE(f.aof.open(f.path, 0, 1).ok());
  const std::string_view set[] = {"SET", "k", "v"};
  f.aof.append(3, set);
  f.aof.append(3, set);
  f.aof.append(0, set);
  f.aof.write();
  const std::string first = readAll(f.path);
  const std::string setBytes = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
  EXPECT_EQ(first.substr(first.find("\r\n") + 2), "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n" + setBytes + setBytes +
                                                     "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n" + setBytes);
  f.aof.close();
  ASSERT_TRUE(f.aof.open(f.path, 0, 1).ok());
  f.aof.append(0, set);
  f.aof.write();
  const std::string second = readAll(f.path).substr(first.size());
  EXPECT_EQ(second.substr(second.find("\r\n") + 2), "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n" + setBytes);
}

TEST(AofLog, AlwaysReleasesAWaitingReplyOnlyAfterItsFsync) {
  LogInFile f("aof-always");
  AofLog& aof = f.aof;
  Loop& loop = f.loop;
  ASSERT_TRUE(aof.open(f.path, 0, 1).ok());
  aof.setFsync(AofLog::Fsync::Always);
  std::vector<std::uint64_t> released;
  aof.setRelease([&](std::uint64_t id) {
    released.push_back(id);
    loop.stop();
  });
  EXPECT_FALSE(aof.holdReply(7));  // nothing logged: nothing to wait for
  const std::string_view incr[] = {"INCR", "n"};
  aof.append(0, incr);
  EXPECT_TRUE(aof.holdReply(7));
  aof.write();
  EXPECT_TRUE(released.empty());  // written, not yet fsynced
  loop.run();
  EXPECT_EQ(released, std::vector<std::uint64_t>{7});
  EXPECT_FALSE(aof.holdReply(8));
}

// The master cuts a batch cut short by a crash off the end of each file
// before any worker maps them (a worker cutting a file another worker
// still scanned made that one read zeros: Aof.CrossWorkerWritesReplay-
// AllOrNothing failed now and then). Whole files and malformed ones are
// left as they are.
TEST(AofReplay, CutShortTailsCutsOnlyABatchCutShort) {
  namespace fs = std::filesystem;
  PersistenceConfig config;
  config.dir = (fs::temp_directory_path() / ("keyloop-cut-tails-" + std::to_string(::getpid()))).string();
  fs::remove_all(config.dir);
  fs::create_directories(config.aofPath());
  const std::string whole = "#keyloop 1 1000 0/2 27\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n";
  const std::string cutShort = whole + "#keyloop 3 1000 0/2 27\r\n*3\r\n$3\r\nSET\r\n";
  const std::string malformed = whole + "garbage";
  aof::Manifest manifest;
  const std::string contents[] = {whole, cutShort, malformed};
  for (int i = 0; i < 3; ++i) {
    manifest.incremental.push_back({"f" + std::to_string(i) + ".incr.aof", static_cast<std::uint64_t>(i + 1), i});
    std::ofstream(config.aofPath() + "/" + manifest.incremental.back().name, std::ios::binary) << contents[i];
  }
  std::vector<aof::CutTail> cut;
  ASSERT_TRUE(aof::cutShortTails(config, manifest, cut).ok());
  ASSERT_EQ(cut.size(), 1u);
  EXPECT_EQ(cut[0].file, "f1.incr.aof");
  EXPECT_EQ(cut[0].bytes, cutShort.size() - whole.size());
  for (int i = 0; i < 3; ++i) {
    const std::uintmax_t expected = i == 1 ? whole.size() : contents[i].size();
    EXPECT_EQ(fs::file_size(config.aofPath() + "/f" + std::to_string(i) + ".incr.aof"), expected) << "file " << i;
  }
  fs::remove_all(config.dir);
}

}  // namespace
}  // namespace keyloop
