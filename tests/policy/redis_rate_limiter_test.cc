// Tests for policy/rate_limits/redis against a real redis-server started on a free port
// (tests/support/redis_server.h): two limiters sharing one Redis enforce one limit; keys
// carry the prefix and a TTL; the Lua maths agrees with the local SlidingWindow; Redis
// killed mid-run falls back to local counters (fail_open) or answers backend errors
// (fail_closed), with one log line per transition; a paused (slow) Redis times decisions
// out and comes back by itself; a restarted Redis resumes shared limits without restarting
// the limiter; a flushed script (NOSCRIPT) is resent with EVAL. Skips when redis-server is
// not installed.
#include "policy/rate_limits/redis/redis_rate_limiter.h"

#include <gtest/gtest.h>

#include <future>
#include <mutex>

#include "../support/redis_server.h"
#include "policy/rate_limits/local/local_rate_limiter.h"

namespace mx::policy {
namespace {

using std::chrono::milliseconds;

class RedisRateLimiterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!redis_.start()) GTEST_SKIP() << redis_.why();
  }

  std::unique_ptr<RedisRateLimiter> make(bool fail_open, Millis timeout = milliseconds(200)) {
    RedisRateLimiterOptions o;
    o.endpoint.host = "127.0.0.1";
    o.endpoint.port = redis_.port();
    o.prefix = "test:rl:";
    o.timeout = timeout;
    o.reconnect_min = milliseconds(20);
    o.reconnect_max = milliseconds(200);
    o.log = [this](std::string_view line) {
      std::lock_guard lock(log_mu_);
      log_.emplace_back(line);
    };
    auto rl = std::make_unique<RedisRateLimiter>(o, fail_open ? std::make_shared<LocalRateLimiter>() : nullptr);
    waitUp(*rl);
    return rl;
  }

  static bool waitUp(const RedisRateLimiter& rl, bool up = true) {
    for (int i = 0; i < 500 && rl.up() != up; ++i) std::this_thread::sleep_for(milliseconds(10));
    return rl.up() == up;
  }

  static RateDecision decide(RateLimiter& rl, const std::string& key, uint64_t limit, uint64_t cost = 1) {
    std::promise<RateDecision> got;
    rl.decide({RateCheck{"lim", key, limit, milliseconds(60'000), cost}}, MonoTime{},
              [&got](RateDecision d) { got.set_value(d); });
    auto f = got.get_future();
    EXPECT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    return f.get();
  }

  size_t logLines(std::string_view containing) {
    std::lock_guard lock(log_mu_);
    size_t n = 0;
    for (const auto& l : log_) n += l.find(containing) != std::string::npos;
    return n;
  }

  testing::RedisServer redis_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

// Fires `n` decisions without waiting between them; returns how many were allowed.
int burst(RateLimiter& rl, const std::string& key, uint64_t limit, int n) {
  std::atomic<int> allowed{0}, answered{0};
  std::promise<void> all;
  for (int i = 0; i < n; ++i) {
    rl.decide({RateCheck{"lim", key, limit, milliseconds(60'000), 1}}, MonoTime{}, [&, n](RateDecision d) {
      EXPECT_FALSE(d.backend_error);
      allowed += d.allowed() ? 1 : 0;
      if (++answered == n) all.set_value();
    });
  }
  all.get_future().wait();
  return allowed.load();
}

TEST_F(RedisRateLimiterTest, TwoLimitersSharingRedisEnforceOneLimit) {
  auto a = make(/*fail_open=*/false);
  auto b = make(/*fail_open=*/false);
  ASSERT_TRUE(a->up() && b->up());
  std::atomic<int> total{0};
  std::thread t1([&] { total += burst(*a, "192.0.2.1", 50, 120); });
  std::thread t2([&] { total += burst(*b, "192.0.2.1", 50, 120); });
  t1.join();
  t2.join();
  // The script is atomic: at most the limit (plus one decision in flight per loop).
  EXPECT_LE(total.load(), 50 + 2);
  EXPECT_GE(total.load(), 50);
  // Keys carry the prefix and expire (two windows).
  EXPECT_EQ(redis_.command("EXISTS test:rl:lim:192.0.2.1"), "1");
  const long ttl = std::stol(redis_.command("PTTL test:rl:lim:192.0.2.1"));
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 120'000);
  std::string metrics;
  a->renderMetrics(metrics);
  EXPECT_NE(metrics.find("mxgate_rate_limit_backend_up 1"), std::string::npos) << metrics;
}

TEST_F(RedisRateLimiterTest, BytesCostMatchesTheLocalMaths) {
  auto rl = make(false);
  EXPECT_TRUE(decide(*rl, "k", 1000, 600).allowed());
  EXPECT_TRUE(decide(*rl, "k", 1000, 400).allowed());
  RateDecision d = decide(*rl, "k", 1000, 1);
  EXPECT_EQ(d.refused, 0);
  EXPECT_FALSE(d.fallback);
  // Larger than the budget: only into an empty window.
  EXPECT_TRUE(decide(*rl, "fresh", 1000, 5000).allowed());
  EXPECT_FALSE(decide(*rl, "fresh", 1000, 1).allowed());
}

TEST_F(RedisRateLimiterTest, KilledMidRunFailOpenDecidesLocallyAndRecovers) {
  auto rl = make(/*fail_open=*/true);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(decide(*rl, "ip", 5).allowed());
  redis_.stop();
  ASSERT_TRUE(waitUp(*rl, false));
  // Local counters start from zero: 5 allowed, then refused — all marked as fallback.
  for (int i = 0; i < 5; ++i) {
    RateDecision d = decide(*rl, "ip", 5);
    EXPECT_TRUE(d.allowed());
    EXPECT_TRUE(d.fallback);
  }
  RateDecision d = decide(*rl, "ip", 5);
  EXPECT_FALSE(d.allowed());
  EXPECT_TRUE(d.fallback);
  EXPECT_EQ(logLines("backend down"), 1u);  // one line for the transition, not per decision
  EXPECT_NE(log_.back().find("fail_open"), std::string::npos);
  // Redis back (empty, as after a crash): shared counting resumes by itself.
  ASSERT_TRUE(redis_.start());
  ASSERT_TRUE(waitUp(*rl));
  d = decide(*rl, "ip", 5);
  EXPECT_TRUE(d.allowed());
  EXPECT_FALSE(d.fallback);
  EXPECT_EQ(logLines("backend up"), 2u);
}

TEST_F(RedisRateLimiterTest, KilledMidRunFailClosedAnswersBackendErrors) {
  auto rl = make(/*fail_open=*/false);
  EXPECT_TRUE(decide(*rl, "ip", 5).allowed());
  redis_.stop();
  ASSERT_TRUE(waitUp(*rl, false));
  for (int i = 0; i < 3; ++i) {
    RateDecision d = decide(*rl, "ip", 5);
    EXPECT_TRUE(d.backend_error);
    EXPECT_FALSE(d.allowed());
  }
  EXPECT_EQ(logLines("fail_closed"), 1u);
}

TEST_F(RedisRateLimiterTest, ASlowRedisTimesOutToTheFallbackAndComesBack) {
  auto rl = make(/*fail_open=*/true, milliseconds(100));
  EXPECT_TRUE(decide(*rl, "ip", 100).allowed());
  redis_.pause();
  const auto t0 = std::chrono::steady_clock::now();
  RateDecision d = decide(*rl, "ip", 100);
  EXPECT_TRUE(d.fallback);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, milliseconds(90));
  // Down now: the next decisions do not wait for the timeout again.
  EXPECT_FALSE(rl->up());
  EXPECT_TRUE(decide(*rl, "ip", 100).fallback);
  redis_.resume();
  ASSERT_TRUE(waitUp(*rl));
  EXPECT_FALSE(decide(*rl, "ip", 100).fallback);
  std::string metrics;
  rl->renderMetrics(metrics);
  EXPECT_NE(metrics.find("mxgate_rate_limit_backend_timeouts_total 1"), std::string::npos) << metrics;
}

TEST_F(RedisRateLimiterTest, RestartedRedisResumesSharedLimitsWithoutRestart) {
  auto a = make(false);
  auto b = make(false);
  EXPECT_EQ(burst(*a, "net", 10, 5) + burst(*b, "net", 10, 5), 10);
  redis_.stop();
  ASSERT_TRUE(waitUp(*a, false));
  ASSERT_TRUE(redis_.start());
  ASSERT_TRUE(waitUp(*a));
  ASSERT_TRUE(waitUp(*b));
  // A fresh Redis: one shared budget of 10 again across both.
  std::atomic<int> total{0};
  std::thread t1([&] { total += burst(*a, "net", 10, 30); });
  std::thread t2([&] { total += burst(*b, "net", 10, 30); });
  t1.join();
  t2.join();
  EXPECT_EQ(total.load(), 10);
}

TEST_F(RedisRateLimiterTest, AFlushedScriptIsResentWithEval) {
  auto rl = make(false);
  EXPECT_TRUE(decide(*rl, "s", 2).allowed());
  EXPECT_EQ(redis_.command("SCRIPT FLUSH"), "OK");
  EXPECT_TRUE(decide(*rl, "s", 2).allowed());  // NOSCRIPT -> EVAL
  EXPECT_FALSE(decide(*rl, "s", 2).allowed());
  std::string metrics;
  rl->renderMetrics(metrics);
  EXPECT_NE(metrics.find("mxgate_rate_limit_backend_noscript_total 1"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace mx::policy
