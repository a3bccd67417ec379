// core/time_format.h — RFC 3339 / RFC 5322 date-time formatting for logs, events,
// Received headers and storage keys, and the two parsers the AWS entry points need: RFC 3339
// timestamps (S3 eventTime, SES mail.timestamp) and the HTTP IMF-fixdate (RFC 9110 5.6.7,
// S3's Last-Modified). Pure functions over a WallTime; no locale, no TZ reads.
// Trust: the parsers take untrusted text: fixed shapes only, every field range-checked,
// nullopt for anything else.
#pragma once

#include <optional>
#include <string>
#include <string_view>

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

// The UTC time of a civil date-time (proleptic Gregorian); fields are not range-checked.
WallTime fromCivilUtc(const CivilTime& c);

// "2026-11-28T23:51:17Z", with optional fractional seconds (milliseconds kept, further
// digits dropped) and a "Z" or "+hh:mm"/"-hh:mm" offset ('T'/'t' and 'Z'/'z' either case).
std::optional<WallTime> parseRfc3339(std::string_view text);
// "Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate, the form HTTP senders must generate). The
// obsolete RFC 850 and asctime forms are not accepted.
std::optional<WallTime> parseHttpDate(std::string_view text);

}  // namespace mx
