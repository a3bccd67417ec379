// tests/server/idempotency_test.cc — the HTTP ingest's idempotency keys (server/idempotency.h):
// first answer returned, waiters woken by the owner's success or failure, the TTL and the
// entry bound, and the file that carries the keys across a restart (expired lines dropped).
#include "server/idempotency.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace mx::server {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

const WallTime kT0{seconds(1'800'000'000)};

TEST(Idempotency, FirstAnswerWins) {
  IdempotencyCache c(100, hours(24));
  std::string id;
  EXPECT_EQ(c.claim("w1", kT0, &id, nullptr), IdempotencyCache::Claim::kClaimed);
  std::optional<std::string> woke;
  int calls = 0;
  EXPECT_EQ(c.claim("w1", kT0, &id, [&](std::optional<std::string> m) { woke = m, ++calls; }),
            IdempotencyCache::Claim::kWaiting);
  c.finish("w1", "01MSG", kT0);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(woke, "01MSG");
  EXPECT_EQ(c.claim("w1", kT0 + hours(23), &id, nullptr), IdempotencyCache::Claim::kDone);
  EXPECT_EQ(id, "01MSG");
  // After the TTL the id is new again.
  EXPECT_EQ(c.claim("w1", kT0 + hours(24) + seconds(1), &id, nullptr), IdempotencyCache::Claim::kClaimed);
}

TEST(Idempotency, FailureWakesWaitersToTryThemselves) {
  IdempotencyCache c(100, hours(24));
  std::string id;
  ASSERT_EQ(c.claim("w1", kT0, &id, nullptr), IdempotencyCache::Claim::kClaimed);
  std::optional<std::string> woke = "unset";
  ASSERT_EQ(c.claim("w1", kT0, &id, [&](std::optional<std::string> m) { woke = m; }),
            IdempotencyCache::Claim::kWaiting);
  c.release("w1");
  EXPECT_EQ(woke, std::nullopt);
  EXPECT_EQ(c.claim("w1", kT0, &id, nullptr), IdempotencyCache::Claim::kClaimed);
}

TEST(Idempotency, BoundedOldestFirst) {
  IdempotencyCache c(3, hours(24));
  std::string id;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(c.claim("w" + std::to_string(i), kT0, &id, nullptr), IdempotencyCache::Claim::kClaimed);
    c.finish("w" + std::to_string(i), "m" + std::to_string(i), kT0 + seconds(i));
  }
  EXPECT_EQ(c.sizeForTest(), 3u);
  EXPECT_EQ(c.claim("w0", kT0 + seconds(5), &id, nullptr), IdempotencyCache::Claim::kClaimed);
  EXPECT_EQ(c.claim("w3", kT0 + seconds(5), &id, nullptr), IdempotencyCache::Claim::kDone);
}

TEST(Idempotency, SurvivesRestartAndDropsExpiredLines) {
  std::string dir = testing::TempDir() + "/idem-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/ids";
  {
    IdempotencyCache c(100, hours(24));
    ASSERT_TRUE(c.open(path, kT0).ok());
    std::string id;
    for (const char* w : {"old", "new"}) ASSERT_EQ(c.claim(w, kT0, &id, nullptr), IdempotencyCache::Claim::kClaimed);
    c.finish("old", "M_OLD", kT0);
    c.finish("new", "M_NEW", kT0 + hours(2));
  }
  {
    std::ofstream garbage(path, std::ios::app);
    garbage << "not a line\n";
  }
  IdempotencyCache again(100, hours(24));
  ASSERT_TRUE(again.open(path, kT0 + hours(25)).ok());
  std::string id;
  EXPECT_EQ(again.claim("new", kT0 + hours(25), &id, nullptr), IdempotencyCache::Claim::kDone);
  EXPECT_EQ(id, "M_NEW");
  EXPECT_EQ(again.claim("old", kT0 + hours(25), &id, nullptr), IdempotencyCache::Claim::kClaimed);
  std::ifstream in(path);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content.find("M_OLD"), std::string::npos);  // compacted away on open
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mx::server
