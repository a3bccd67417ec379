// policy/rate_limits/redis/redis_rate_limiter.h — the shared RateLimiter ([rate_limits]
// backend = "redis"): every node's decisions go to one Redis, so a limit holds across the
// fleet. One round trip per decision: EVALSHA of a Lua script that applies the sliding
// window (rate_limiter.h) to every counter of the decision atomically, with the Redis
// server's clock (TIME), and charges them only if all are within their limits. The script
// is loaded with SCRIPT LOAD on each connect; a NOSCRIPT answer (a restarted or flushed
// Redis) resends that decision with EVAL and reloads the script. Each counter is a hash
// `<prefix><limit>:<key>` with fields w (window index), c (current), p (previous) and a
// PEXPIRE of two windows, so Redis never grows without bound.
//
// hiredis's asynchronous context runs on an Asio io_context of this limiter's own thread
// (asio_hiredis.h): decide() posts there and never blocks its caller; the commands of
// decisions posted together are written together (pipelined); replies come back in order.
//
// When Redis cannot decide — not connected, connecting, or a decision not answered within
// redis_timeout — the decision is answered by `fallback` (on_backend_error = "fail_open":
// this node's local counters; RateDecision::fallback set) or as a backend error
// ("fail_closed"). After a timeout the backend counts as down: new decisions go straight to
// the fallback while a PING probes it; an answer brings it back, no answer within the
// probe interval drops the connection. A lost connection is re-established with
// exponential backoff (100 ms doubling to 2 s). Only the up/down transitions are logged.
//
// Threads: decide() from any thread; callbacks run on the limiter's thread (or, for
// decisions still pending at destruction, on the destroying thread). The destructor
// answers every pending decision, then joins.
// Trust: keys are client bytes, passed as binary-safe arguments (never in the script).
// Redis's answers are checked for type; anything unexpected is a backend error.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "policy/rate_limits/rate_limit_config.h"
#include "policy/rate_limits/rate_limiter.h"

namespace mx::policy {

struct RedisRateLimiterOptions {
  RedisEndpoint endpoint;
  std::string password;  // AUTH when non-empty
  std::string prefix = "mxgate:rl:";
  Millis timeout{250};        // per decision
  Millis reconnect_min{100};  // backoff after a failed connect, doubled up to reconnect_max
  Millis reconnect_max{2000};
  size_t max_pending = 10'000;  // decisions in flight beyond this go to the fallback at once
  // Transition lines ("redis rate-limit backend down: …", "… up"); may be empty.
  std::function<void(std::string_view)> log;
};

class RedisRateLimiter final : public RateLimiter {
 public:
  // `fallback` decides when Redis cannot (fail_open); null means fail_closed. Starts the
  // thread and the first connect; returns before it completes (decisions fall back until
  // the backend is up).
  RedisRateLimiter(RedisRateLimiterOptions options, RateLimiterPtr fallback);
  ~RedisRateLimiter() override;

  // RateLimiter
  void decide(std::vector<RateCheck> checks, MonoTime now, RateDecisionCallback done) override;
  void renderMetrics(std::string& out) const override;

  // True once connected with the script loaded, until the next failure.
  bool up() const;

  // The Lua script (for tests and docs).
  static std::string_view script();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace mx::policy
