// Tests for core/message_id: ULID text form, round trip and monotonic ordering.
#include "core/message_id.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

TEST(MessageId, KnownEncoding) {
  // All-zero random part: the text is the 10-char time prefix followed by zeros.
  MessageId id(1469918176385ull, 0, 0);
  EXPECT_EQ(id.toString(), "01ARYZ6S410000000000000000");
  MessageId max(0xFFFFFFFFFFFFull, 0xFFFF, ~0ull);
  EXPECT_EQ(max.toString(), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
}

TEST(MessageId, RoundTrip) {
  MessageIdGenerator gen(42);
  ManualClock clock;
  for (int i = 0; i < 1000; ++i) {
    MessageId id = gen.next(clock.wall());
    auto parsed = MessageId::parse(id.toString());
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, id);
    clock.advance(Millis(i % 3));
  }
}

TEST(MessageId, ParseRejects) {
  EXPECT_FALSE(MessageId::parse("").has_value());
  EXPECT_FALSE(MessageId::parse("01ARYZ6S41000000000000000").has_value());   // 25 chars
  EXPECT_FALSE(MessageId::parse("01ARYZ6S41000000000000000U").has_value());  // U not in alphabet
  EXPECT_FALSE(MessageId::parse("81ARYZ6S410000000000000000").has_value());  // > 128 bits
  EXPECT_TRUE(MessageId::parse("01aryz6s410000000000000000").has_value());   // case-insensitive
}

TEST(MessageId, StrictlyIncreasingEvenWhenClockStandsStillOrStepsBack) {
  MessageIdGenerator gen(7);
  ManualClock clock;
  std::string prev = gen.next(clock.wall()).toString();
  for (int i = 0; i < 5000; ++i) {
    if (i == 2500) clock = ManualClock(clock.wall() - std::chrono::seconds(10));
    if (i % 100 == 0) clock.advance(Millis(1));
    std::string cur = gen.next(clock.wall()).toString();
    ASSERT_LT(prev, cur) << "at " << i;
    prev = cur;
  }
}

}  // namespace
}  // namespace mx
