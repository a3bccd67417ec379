// policy/auth_limits/auth_limit_config.h — the [auth_limits] section: how failed AUTH
// attempts are slowed and locked out (see auth_limit_policy.h for the rules).
#pragma once

#include <cstdint>

#include "core/clock.h"
#include "core/config_table.h"

namespace mx::policy {

struct AuthLimitsSettings {
  bool enabled = true;
  uint32_t max_failures = 5;        // per client address within `window`: then it is locked out
  uint32_t user_max_failures = 10;  // per user name within `window` (all addresses): then every
                                    // address that failed for it is locked out for it
  Millis window{15 * 60'000};       // failures older than this are forgotten
  Millis lockout{15 * 60'000};      // how long a lock-out lasts
  Millis delay_base{1'000};         // the answer's delay after one failure; doubles per failure
  Millis delay_max{15'000};         // the longest delay
  uint64_t max_keys = 100'000;      // addresses/users/pairs remembered (expired ones go first)
};

const config::Table<AuthLimitsSettings>& authLimitsTable();

}  // namespace mx::policy
