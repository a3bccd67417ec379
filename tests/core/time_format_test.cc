// Tests for core/time_format.
#include "core/time_format.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

WallTime at(int64_t ms) { return WallTime{std::chrono::milliseconds(ms)}; }

TEST(TimeFormat, Rfc3339) {
  EXPECT_EQ(formatRfc3339(at(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(formatRfc3339(at(1795909877123)), "2026-11-28T23:51:17.123Z");
  EXPECT_EQ(formatRfc3339(at(951782400000)), "2000-02-29T00:00:00.000Z");  // leap day
}

TEST(TimeFormat, Rfc5322AndPath) {
  EXPECT_EQ(formatRfc5322(at(1795909877123)), "Sat, 28 Nov 2026 23:51:17 +0000");
  EXPECT_EQ(formatRfc5322(at(0)), "Thu, 1 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(formatDatePath(at(1795909877123)), "2026/11/28");
}

TEST(TimeFormat, ParseRfc3339) {
  EXPECT_EQ(parseRfc3339("2026-11-28T23:51:17.123Z"), at(1795909877123));
  EXPECT_EQ(parseRfc3339("2026-11-28T23:51:17Z"), at(1795909877000));
  EXPECT_EQ(parseRfc3339("2026-11-28t23:51:17.1z"), at(1795909877100));
  EXPECT_EQ(parseRfc3339("2026-11-28T23:51:17.123456789Z"), at(1795909877123));  // extra digits dropped
  EXPECT_EQ(parseRfc3339("2026-11-29T01:51:17.123+02:00"), at(1795909877123));
  EXPECT_EQ(parseRfc3339("2026-11-28T20:51:17.123-03:00"), at(1795909877123));
  EXPECT_EQ(parseRfc3339("1970-01-01T00:00:00Z"), at(0));
  EXPECT_EQ(parseRfc3339("2000-02-29T00:00:00Z"), at(951782400000));
  // Round trip over many days, both sides of leap years.
  for (int64_t ms = -86400000LL * 800; ms < 86400000LL * 20000; ms += 86400000LL * 37 + 12345) {
    ASSERT_EQ(parseRfc3339(formatRfc3339(at(ms))), at(ms)) << ms;
  }
  for (const char* bad :
       {"", "2026-11-28", "2026-11-28T23:51:17", "2026-11-28 23:51:17Z", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
        "2026-11-28T24:00:00Z", "2026-11-28T23:60:00Z", "2026-11-28T23:51:17.Z", "2026-11-28T23:51:17+0200",
        "2026-11-28T23:51:17Zjunk", "2O26-11-28T23:51:17Z", "2026-11-28T23:51:17+24:00"}) {
    EXPECT_FALSE(parseRfc3339(bad).has_value()) << bad;
  }
}

TEST(TimeFormat, ParseHttpDate) {
  EXPECT_EQ(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), at(784111777000));
  EXPECT_EQ(parseHttpDate("Sat, 28 Nov 2026 23:51:17 GMT"), at(1795909877000));
  for (const char* bad :
       {"", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 GMT ", "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT"}) {
    EXPECT_FALSE(parseHttpDate(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace mx
