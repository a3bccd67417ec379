// core/time_format.h — RFC 3339 / RFC 5322 date-time formatting for logs, events,
// Received headers and storage keys. Pure functions over a WallTime; no locale, no TZ reads.
// Trust: none needed.
#pragma once

#include <string>

#include "core/clock.h"

namespace mx {

struct CivilTime {
  int year, month, day, hour, minute, second, millis;
};

// UTC civil time of t (proleptic Gregorian).
CivilTime toCivilUtc(WallTime t);

// "2026-11-28T23:51:17.123Z"
std::string formatRfc3339(WallTime t);
// "Sat, 28 Nov 2026 23:51:17 +0000" (RFC 5322 section 3.3), for Received headers.
std::string formatRfc5322(WallTime t);
// "2026/11/28" — the date part of storage keys.
std::string formatDatePath(WallTime t);

}  // namespace mx
