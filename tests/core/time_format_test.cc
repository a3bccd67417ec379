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

}  // namespace
}  // namespace mx
