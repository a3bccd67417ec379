// Tests for StorageGuard: refuses below min_free, re-reads only after the refresh interval,
// counts a failed reading as room, is disabled by min_free = 0, and reads a real
// filesystem through statvfs.
#include "policy/storage_guard.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace mx::policy {
namespace {

using std::chrono::milliseconds;

struct FakeFs {
  std::atomic<int> reads{0};
  std::optional<uint64_t> free_bytes = 10'000;
  StorageGuard::FreeBytesFn fn() {
    return [this](const std::string& dir) {
      EXPECT_EQ(dir, "/spool");
      ++reads;
      return free_bytes;
    };
  }
};

TEST(StorageGuard, RefusesBelowMinFreeAndRereadsAfterRefresh) {
  FakeFs fs;
  StorageGuard g("/spool", 5'000, fs.fn(), milliseconds(1000));
  MonoTime t0{};
  EXPECT_TRUE(g.hasRoom(t0));
  EXPECT_EQ(fs.reads, 1);
  fs.free_bytes = 4'999;
  EXPECT_TRUE(g.hasRoom(t0 + milliseconds(999)));  // cached
  EXPECT_EQ(fs.reads, 1);
  EXPECT_FALSE(g.hasRoom(t0 + milliseconds(1000)));  // re-read: below min_free
  EXPECT_EQ(fs.reads, 2);
  fs.free_bytes = 5'000;  // exactly min_free is room
  EXPECT_FALSE(g.hasRoom(t0 + milliseconds(1500)));
  EXPECT_TRUE(g.hasRoom(t0 + milliseconds(2000)));
  EXPECT_EQ(fs.reads, 3);
}

TEST(StorageGuard, FailedReadingCountsAsRoom) {
  FakeFs fs;
  fs.free_bytes = 1;
  StorageGuard g("/spool", 5'000, fs.fn(), milliseconds(10));
  MonoTime t0{};
  EXPECT_FALSE(g.hasRoom(t0));
  fs.free_bytes = std::nullopt;
  EXPECT_TRUE(g.hasRoom(t0 + milliseconds(10)));
}

TEST(StorageGuard, ZeroMinFreeNeverReads) {
  FakeFs fs;
  fs.free_bytes = 0;
  StorageGuard g("/spool", 0, fs.fn());
  EXPECT_TRUE(g.hasRoom(MonoTime{}));
  EXPECT_EQ(fs.reads, 0);
}

TEST(StorageGuard, OneReadingPerIntervalUnderConcurrency) {
  FakeFs fs;
  StorageGuard g("/spool", 5'000, fs.fn(), milliseconds(1000));
  MonoTime t0{};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 1000; ++k) EXPECT_TRUE(g.hasRoom(t0 + milliseconds(k % 500)));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fs.reads, 1);
}

TEST(StorageGuard, ReadsARealFilesystem) {
  // Some free space, and certainly less than an exabyte.
  StorageGuard some("/tmp", 1);
  EXPECT_TRUE(some.hasRoom(MonoTime{}));
  StorageGuard huge("/tmp", uint64_t{1} << 60);
  EXPECT_FALSE(huge.hasRoom(MonoTime{}));
  // A missing directory cannot be read: room.
  StorageGuard missing("/nonexistent/mxgate-spool", uint64_t{1} << 60);
  EXPECT_TRUE(missing.hasRoom(MonoTime{}));
}

}  // namespace
}  // namespace mx::policy
