// policy/auth_limits/auth_limit_policy.h — the Policy decorator that limits failed AUTH
// (the [auth_limits] section). Only kAuth questions are touched; every other stage goes
// to the wrapped policy as it is.
//
//   - A client address with `max_failures` failures within `window` is locked out for
//     `lockout`: its AUTH gets 454 4.7.0 (AuthLockedOut) at once, without a password check
//     (which also keeps a flood of attempts from costing yescrypt time).
//   - A user name with `user_max_failures` failures within `window`, from any addresses,
//     is under attack for `lockout`: every address that failed for it within the window is
//     locked out for it (454 4.7.0),
//     while an address without failures for it can still log in — a good login from
//     another address works, so an attacker cannot lock the owner out.
//   - Before that, each answer (success or failure, so that timing tells nothing) is
//     delayed by delay_base × 2^(n−1), at most delay_max, where n is the larger of the
//     address's and the user's failures in the window.
//   - A success clears the address's failures and the pair's; the user's stay (an attack
//     on the name goes on from other addresses).
//   - Each lock-out is logged once (address, user name, failures; never the password).
//
// Standards: RFC 4954 section 6 (454 4.7.0 temporary authentication failure), RFC 3463.
// Threads: check() from any thread; the verdict comes from the wrapped policy's thread, or
// from this policy's timer thread when delayed. One mutex guards the counters.
// Trust: user names are client bytes: only map keys and log fields (JSON-escaped there).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "policy/auth_limits/auth_limit_config.h"
#include "policy/policy.h"

namespace mx::policy {

class AuthLimitPolicy final : public Policy {
 public:
  using LogFn = std::function<void(std::string_view)>;
  using NowFn = std::function<MonoTime()>;

  // `inner` must outlive this policy. `now` defaults to the steady clock (tests inject one).
  AuthLimitPolicy(Policy& inner, AuthLimitsSettings settings, LogFn log, NowFn now = nullptr);
  ~AuthLimitPolicy() override;

  void check(const Query& query, VerdictCallback done) override;

  // mxgate_auth_limit_* in Prometheus text format.
  std::string renderMetrics() const;

  // For tests: the delay the next AUTH from `ip` for `user` would get, and whether it is locked.
  Millis delayFor(const std::string& ip, const std::string& user);
  bool lockedOut(const std::string& ip, const std::string& user);

 private:
  struct State;
  Policy& inner_;
  std::unique_ptr<State> state_;
};

}  // namespace mx::policy
