// policy/rate_limits/rate_limit_policy.h — the Policy decorator that enforces the
// [[rate_limit]] entries: it asks the wrapped policy first (so that only what that policy
// accepted is counted: a refused recipient costs nothing) and then the RateLimiter, once
// per stage, with every limit that counts at that stage in one decision:
//
//   kConnect     connections (client_ip, client_net)            refusal 421 4.7.0, close
//   kMailFrom    messages by client_ip, client_net, sender_domain, user    451 4.7.1
//   kRcptTo      recipients by any key (tenant: the recipient's own)       451 4.7.1
//   kEndOfData   messages by recipient_domain, tenant; bytes by any key    451 4.7.1
//
// When the limiter could not decide and on_backend_error = "fail_closed" the answer is
// 451 4.7.1 (421 4.7.1 at connect, RFC 5321 3.8); with "fail_open" the limiter itself
// decided with local counters. Never a silent drop: every refusal is a reply of the table.
// Keys without a value (no authenticated user, the null reverse-path) are not counted.
//
// Standards: RFC 5321 4.2.2 / 3.8, RFC 3463 X.7.0 / X.7.1.
// Threads: check() from any thread; the verdict comes from the wrapped policy's thread or
// the limiter's (policy.h: the driver marshals it). Metrics are relaxed atomics.
// Trust: queries carry client bytes (addresses): used only as opaque counter keys.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "policy/policy.h"
#include "policy/rate_limits/rate_limit_config.h"
#include "policy/rate_limits/rate_limiter.h"

namespace mx::policy {

class RateLimitPolicy final : public Policy {
 public:
  // `inner` must outlive this policy; so must the callbacks in flight (the server is
  // drained before either is destroyed).
  RateLimitPolicy(Policy& inner, RateLimiterPtr limiter, std::vector<RateLimit> limits);

  // Policy
  void check(const Query& query, VerdictCallback done) override;

  // mxgate_rate_limit_{decisions,refusals,backend_errors}_total{limit="name"}, then the
  // limiter's own figures.
  std::string renderMetrics() const;

  // The stage at which `limit` is counted.
  static Stage stageOf(const RateLimit& limit);

 private:
  struct Facts;
  struct Counters {
    std::atomic<uint64_t> decisions{0};
    std::atomic<uint64_t> refusals{0};
    std::atomic<uint64_t> backend_errors{0};
  };
  // What the callbacks in flight share with the policy (they may outlive it on the
  // limiter's thread at shutdown).
  struct State {
    std::vector<RateLimit> limits;
    std::unique_ptr<Counters[]> counters;  // one per limit
  };
  static void appendChecks(const State& s, const Facts& f, std::vector<RateCheck>* checks, std::vector<size_t>* owners);

  Policy& inner_;
  RateLimiterPtr limiter_;
  std::shared_ptr<State> state_;
  bool any_at_[6] = {};  // a limit counts at this Stage
};

}  // namespace mx::policy
