// Tests for events/webhook/retry_after: delay-seconds and the three HTTP-date forms of RFC
// 9110 5.6.7 (the RFC's own example instant), bounds, the two-digit-year rule, and malformed
// values walked across their edges.
#include "events/webhook/retry_after.h"

#include <gtest/gtest.h>

namespace mx::events {
namespace {

using namespace std::chrono_literals;

// Sun, 06 Nov 1994 08:49:37 GMT — RFC 9110's example.
const WallTime kRfcExample{std::chrono::seconds{784111777}};
const WallTime kNow = kRfcExample - 30s;

TEST(HttpDate, ThreeFormsOfOneInstant) {
  EXPECT_EQ(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT", kNow), kRfcExample);
  EXPECT_EQ(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT", kNow), kRfcExample);
  EXPECT_EQ(parseHttpDate("Sun Nov  6 08:49:37 1994", kNow), kRfcExample);
  EXPECT_EQ(parseHttpDate("Sun Nov 06 08:49:37 1994", kNow), kRfcExample);
}

TEST(HttpDate, TwoDigitYearFollowsRfc9110) {
  const WallTime in2030{std::chrono::seconds{1893456000}};  // 2030-01-01
  // 79 is 49 years ahead of 2030: 2079. 81 would be 51 years ahead: 1981.
  auto y2079 = parseHttpDate("Sunday, 01-Jan-79 00:00:00 GMT", in2030);
  auto y1981 = parseHttpDate("Thursday, 01-Jan-81 00:00:00 GMT", in2030);
  ASSERT_TRUE(y2079 && y1981);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(y2079->time_since_epoch()).count(), 3439756800);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(y1981->time_since_epoch()).count(), 347155200);
}

TEST(HttpDate, Malformed) {
  for (const char* bad : {
           "",
           "Sun, 06 Nov 1994 08:49:37 UTC",  // only GMT
           "sun, 06 Nov 1994 08:49:37 GMT",  // case-sensitive names
           "Sun, 06 nov 1994 08:49:37 GMT",
           "Sun, 6 Nov 1994 08:49:37 GMT",   // two-digit day
           "Sun, 06 Nov 94 08:49:37 GMT",    // four-digit year
           "Sun, 31 Feb 1994 08:49:37 GMT",  // no such day
           "Sun, 00 Nov 1994 08:49:37 GMT",
           "Sun, 06 Nov 1994 24:00:00 GMT",  // hour < 24
           "Sun, 06 Nov 1994 08:60:00 GMT",
           "Sun, 06 Nov 1994 08:49:61 GMT",   // one leap second at most
           "Sun, 06 Nov 1994 08:49:37 GMT ",  // trailing bytes (the Retry-After parser trims OWS first)
           "Sun, 06 Nov 1994 08:49:37",
           "Sun 06 Nov 1994 08:49:37 GMT",
           "Sunday, 06 Nov 1994 08:49:37 GMT",
           "Sun Nov 6 08:49:37 1994",
           "Sun Nov  6 08:49:37 94",
           "Xyz, 06 Nov 1994 08:49:37 GMT",
           "Sun, 06 Nov 1994 08:49:3",
       }) {
    EXPECT_FALSE(parseHttpDate(bad, kNow).has_value()) << bad;
  }
  EXPECT_TRUE(parseHttpDate("Sun, 06 Nov 1994 08:49:60 GMT", kNow).has_value());
  EXPECT_TRUE(parseHttpDate("Mon, 29 Feb 2016 00:00:00 GMT", kNow).has_value());
  EXPECT_FALSE(parseHttpDate("Mon, 29 Feb 2015 00:00:00 GMT", kNow).has_value());
  // Beyond what WallTime holds (found by retry_after_fuzz: a nanosecond overflow).
  EXPECT_FALSE(parseHttpDate("Mon, 07 Nov 3988 08:49:37 GMT", kNow).has_value());
  EXPECT_FALSE(parseHttpDate("Mon, 07 Nov 0000 08:49:37 GMT", kNow).has_value());
}

TEST(RetryAfter, DelaySeconds) {
  EXPECT_EQ(parseRetryAfter("0", kNow), 0ms);
  EXPECT_EQ(parseRetryAfter("120", kNow), 120s);
  EXPECT_EQ(parseRetryAfter(" \t7 ", kNow), 7s);
  EXPECT_EQ(parseRetryAfter("007", kNow), 7s);
  // The bound, across its edge.
  EXPECT_EQ(parseRetryAfter("3599", kNow), 3599s);
  EXPECT_EQ(parseRetryAfter("3600", kNow), 1h);
  EXPECT_EQ(parseRetryAfter("3601", kNow), 1h);
  EXPECT_EQ(parseRetryAfter("99999999999999999999999999999999", kNow), 1h);
  EXPECT_EQ(parseRetryAfter("5", kNow, 1500ms), 1500ms);
  EXPECT_EQ(parseRetryAfter("1", kNow, 1500ms), 1s);
  EXPECT_EQ(parseRetryAfter("1", kNow, -5ms), 0ms);
}

TEST(RetryAfter, Dates) {
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kNow), 30s);
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT ", kNow), 30s);
  EXPECT_EQ(parseRetryAfter("Sun Nov  6 08:49:37 1994", kNow), 30s);
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kRfcExample + 5s), 0ms);  // past
  EXPECT_EQ(parseRetryAfter("Mon, 07 Nov 1994 08:49:37 GMT", kNow), 1h);               // bounded
  EXPECT_EQ(parseRetryAfter("Mon, 07 Nov 3988 08:49:37 GMT", kNow), 1h);               // far future
  EXPECT_EQ(parseRetryAfter("Mon, 07 Nov 0001 08:49:37 GMT", kNow), 0ms);              // far past
  // Sub-second `now`: the remaining milliseconds.
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kRfcExample - 1500ms), 1500ms);
}

TEST(RetryAfter, Malformed) {
  for (const char* bad : {"", " ", "-1", "+5", "1.5", "1e3", "12 s", "0x10", "soon", "120,", "\x80"}) {
    EXPECT_FALSE(parseRetryAfter(bad, kNow).has_value()) << bad;
  }
  EXPECT_FALSE(parseRetryAfter(std::string(65, '1'), kNow).has_value()) << "over kMaxRetryAfterBytes";
  EXPECT_TRUE(parseRetryAfter(std::string(64, '1'), kNow).has_value());
}

}  // namespace
}  // namespace mx::events
