// policy/rate_limits/local/local_rate_limiter.cc — see local_rate_limiter.h.
#include "policy/rate_limits/local/local_rate_limiter.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "core/prometheus.h"

namespace mx::policy {
namespace {

std::string mapKey(const RateCheck& c) {
  std::string k;
  k.reserve(c.name.size() + 1 + c.key.size());
  k += c.name;
  k += '\0';  // names and keys never hold NUL: (name, key) pairs stay distinct
  k += c.key;
  return k;
}

int64_t millisOf(MonoTime t) { return std::chrono::duration_cast<Millis>(t.time_since_epoch()).count(); }

}  // namespace

LocalRateLimiter::LocalRateLimiter(uint64_t max_keys)
    : per_shard_(std::max<size_t>(1, static_cast<size_t>(max_keys / kShards))) {}

void LocalRateLimiter::decide(std::vector<RateCheck> checks, MonoTime now, RateDecisionCallback done) {
  done(decideNow(checks, now));
}

RateDecision LocalRateLimiter::decideNow(const std::vector<RateCheck>& checks, MonoTime now) {
  RateDecision d;
  if (checks.empty()) return d;
  const int64_t now_ms = millisOf(now);
  std::vector<std::string> keys;
  std::vector<size_t> shard_of;
  keys.reserve(checks.size());
  for (const auto& c : checks) {
    keys.push_back(mapKey(c));
    shard_of.push_back(std::hash<std::string>{}(keys.back()) % kShards);
  }
  // Lock every shard involved, in index order, so the decision is all or nothing.
  std::vector<size_t> order = shard_of;
  std::sort(order.begin(), order.end());
  order.erase(std::unique(order.begin(), order.end()), order.end());
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(order.size());
  for (size_t s : order) locks.emplace_back(shards_[s].mu);

  std::vector<Counter*> counters(checks.size(), nullptr);
  for (size_t i = 0; i < checks.size(); ++i) {
    const RateCheck& c = checks[i];
    const int64_t w = std::max<int64_t>(1, c.window.count());
    Shard& shard = shards_[shard_of[i]];
    auto it = shard.counters.find(keys[i]);
    if (it == shard.counters.end()) {
      // An absent counter is an empty window: it allows any cost, so it is created only
      // when charged (below) — a refused decision leaves no state behind.
      if (c.cost > 0 && !SlidingWindow{}.allows(now_ms, w, c.limit, c.cost)) {
        d.refused = static_cast<int>(i);
        return d;
      }
      continue;
    }
    Counter& ctr = it->second;
    ctr.window.roll(now_ms, w);
    if (!ctr.window.allows(now_ms, w, c.limit, c.cost)) {
      d.refused = static_cast<int>(i);
      return d;
    }
    counters[i] = &ctr;
  }
  for (size_t i = 0; i < checks.size(); ++i) {
    const int64_t w = std::max<int64_t>(1, checks[i].window.count());
    Counter* ctr = counters[i];
    if (ctr == nullptr) {
      Shard& shard = shards_[shard_of[i]];
      auto it = shard.counters.find(keys[i]);  // a second check of the same decision may have made it
      if (it == shard.counters.end()) {
        if (shard.counters.size() >= per_shard_) makeRoom(shard, now_ms);
        Counter fresh;
        fresh.window.window_index = now_ms / w;
        it = shard.counters.emplace(std::move(keys[i]), fresh).first;
      }
      ctr = &it->second;
      ctr->window.roll(now_ms, w);
    }
    ctr->window.current += checks[i].cost;
    ctr->last_used_ms = now_ms;
    ctr->window_ms = w;
  }
  return d;
}

void LocalRateLimiter::makeRoom(Shard& shard, int64_t now_ms) {
  // Lossless first: counters whose counts have all aged out.
  for (auto it = shard.counters.begin(); it != shard.counters.end();) {
    if (it->second.window.idle(now_ms, it->second.window_ms)) {
      it = shard.counters.erase(it);
    } else {
      ++it;
    }
  }
  if (shard.counters.size() < per_shard_) return;
  // Then the least recently used eighth, so the next evictions are far apart (amortised O(1)).
  std::vector<std::pair<int64_t, std::string>> by_age;
  by_age.reserve(shard.counters.size());
  for (const auto& [k, c] : shard.counters) by_age.emplace_back(c.last_used_ms, k);
  const size_t n = std::max<size_t>(1, by_age.size() / 8);
  std::nth_element(by_age.begin(), by_age.begin() + static_cast<ptrdiff_t>(n - 1), by_age.end());
  for (size_t i = 0; i < n; ++i) shard.counters.erase(by_age[i].second);
  evictions_.fetch_add(n, std::memory_order_relaxed);
}

size_t LocalRateLimiter::sizeForTest() const {
  size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.counters.size();
  }
  return n;
}

void LocalRateLimiter::renderMetrics(std::string& out) const {
  prometheus::counter(out, "mxgate_rate_limit_local_evictions_total",
                      "Local rate-limit counters evicted while still counting (the key table was full)",
                      evictions_.load(std::memory_order_relaxed));
}

}  // namespace mx::policy
