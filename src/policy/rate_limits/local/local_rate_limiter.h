// policy/rate_limits/local/local_rate_limiter.h — the in-process RateLimiter ([rate_limits]
// backend = "local", and the fail_open fallback of the Redis backend): one sliding-window
// counter (rate_limiter.h) per (limit, key), in a hash map split into shards with a mutex
// each, so that I/O threads asking about different keys rarely meet. Each node counts on
// its own: N nodes admit up to N times a limit.
//
// Memory is bounded: at most `max_keys` counters. A shard that is full first drops its idle
// counters (every count aged out: lossless), then the least recently used eighth (lossy: an
// evicted key starts again from zero — the price of a bound under a flood of distinct keys;
// counted in mxgate_rate_limit_local_evictions_total).
//
// Threads: decide() is thread-safe and answers before it returns; a decision locks the
// shards of its keys in index order (no lock-order cycles) and never calls out while
// holding them. Trust: as rate_limiter.h; keys are opaque.
#pragma once

#include <array>
#include <atomic>
#include <mutex>
#include <string>
#include <unordered_map>

#include "policy/rate_limits/rate_limiter.h"

namespace mx::policy {

class LocalRateLimiter final : public RateLimiter {
 public:
  explicit LocalRateLimiter(uint64_t max_keys = 100'000);

  // RateLimiter
  void decide(std::vector<RateCheck> checks, MonoTime now, RateDecisionCallback done) override;
  void renderMetrics(std::string& out) const override;

  // The decision itself, synchronously (decide() answers with it).
  RateDecision decideNow(const std::vector<RateCheck>& checks, MonoTime now);

  size_t sizeForTest() const;
  uint64_t evictionsForTest() const { return evictions_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kShards = 16;
  struct Counter {
    SlidingWindow window;
    int64_t last_used_ms = 0;
    int64_t window_ms = 1;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Counter> counters;
  };
  // Makes room for one more counter in `shard` (its lock held).
  void makeRoom(Shard& shard, int64_t now_ms);

  const size_t per_shard_;
  std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> evictions_{0};
};

}  // namespace mx::policy
