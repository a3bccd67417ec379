// policy/auth_limits/auth_limit_config.cc — see auth_limit_config.h.
#include "policy/auth_limits/auth_limit_config.h"

namespace mx::policy {

using config::Check;
using config::Table;

const Table<AuthLimitsSettings>& authLimitsTable() {
  static const Table<AuthLimitsSettings> t = [] {
    Table<AuthLimitsSettings> t("auth_limits",
                                "failed AUTH attempts: a growing delay, then 454 4.7.0 for a lock-out period "
                                "(docs/limits.md \"Failed AUTH\")");
    t.add("enabled", &AuthLimitsSettings::enabled, "slow down and lock out repeated AUTH failures");
    t.add("max_failures", &AuthLimitsSettings::max_failures,
          "failures from one client address within `window` before it is locked out", Check::atLeast(1));
    t.add("user_max_failures", &AuthLimitsSettings::user_max_failures,
          "failures for one user name within `window` (from any address) before every address that failed "
          "for it is locked out for it; an address without failures can still log in",
          Check::atLeast(1));
    t.add("window", &AuthLimitsSettings::window, "how long a failure counts", Check::atLeast(1'000));
    t.add("lockout", &AuthLimitsSettings::lockout, "how long a lock-out lasts", Check::atLeast(1'000));
    t.add("delay_base", &AuthLimitsSettings::delay_base,
          "delay of the AUTH answer after one failure (doubling per failure; \"0s\": no delay)");
    t.add("delay_max", &AuthLimitsSettings::delay_max, "the longest AUTH answer delay", Check::between(0, 60'000));
    t.add("max_keys", &AuthLimitsSettings::max_keys, "addresses, users and pairs remembered", Check::atLeast(100));
    return t;
  }();
  return t;
}

}  // namespace mx::policy
