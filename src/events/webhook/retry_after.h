// events/webhook/retry_after.h — the Retry-After response header (RFC 9110 10.2.3) as the
// pause a sink should keep before its next attempt, and the HTTP-date it may carry (RFC 9110
// 5.6.7). Used by the webhook sink for 429/503-style answers (Standard Webhooks spec,
// "Delivery success and failure": a Retry-After "should be taken into consideration").
//
//   Retry-After = HTTP-date / delay-seconds      delay-seconds = 1*DIGIT
//   HTTP-date   = IMF-fixdate / obs-date          (recipients MUST accept all three forms)
//     IMF-fixdate  "Sun, 06 Nov 1994 08:49:37 GMT"
//     rfc850-date  "Sunday, 06-Nov-94 08:49:37 GMT"  (two-digit year: RFC 9110 5.6.7 rule)
//     asctime-date "Sun Nov  6 08:49:37 1994"
//
// Trust: the header value is untrusted bytes from the receiver. Parsing is a single bounded
// pass over at most kMaxRetryAfterBytes (longer values are refused); numbers saturate instead
// of overflowing; the result is always within [0, max]. Anything malformed yields nullopt (no
// pause asked for): a broken header never delays or speeds up retries beyond the bound.
// Threads: pure functions.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

#include "core/clock.h"

namespace mx::events {

inline constexpr size_t kMaxRetryAfterBytes = 64;
inline constexpr Millis kMaxRetryAfter = std::chrono::hours(1);

// An HTTP-date in any of the three forms, to the second. The weekday must be a valid name
// (it is not checked against the date, as RFC 9110 lets recipients ignore it); the date must
// exist (no 31 Feb), hour < 24, minute < 60, second <= 60 (a leap second). `now` resolves
// rfc850's two-digit year: a year more than 50 years in the future is taken from the past
// century. A date WallTime cannot hold (before 1677-09-22 or after 2262-04-10: it counts
// nanoseconds in 64 bits) is refused here; parseRetryAfter() reads any four-digit year.
std::optional<WallTime> parseHttpDate(std::string_view text, WallTime now);

// The pause a Retry-After value asks for: delay-seconds, or an HTTP-date minus `now` (0 when
// the date is past), clamped to `max`. Optional whitespace around the value is allowed.
// nullopt when the value is empty, too long or malformed.
std::optional<Millis> parseRetryAfter(std::string_view value, WallTime now, Millis max = kMaxRetryAfter);

}  // namespace mx::events
