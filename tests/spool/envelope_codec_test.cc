// Tests for spool/envelope_codec: exact round trip of every field (arbitrary bytes), and
// rejection of truncated, extended or lying encodings.
#include "spool/envelope_codec.h"

#include <gtest/gtest.h>

#include <random>

#include "spool_test_util.h"

namespace mx::spool {
namespace {

TEST(EnvelopeCodec, RoundTripsEveryField) {
  for (uint64_t n = 0; n < 50; ++n) {
    Envelope e = testing::makeEnvelope(n);
    std::string bytes;
    encodeEnvelope(e, bytes);
    auto d = decodeEnvelope(bytes);
    ASSERT_TRUE(d.ok()) << d.error().message();
    EXPECT_EQ(*d, e);
    EXPECT_EQ(d->id.toString(), e.id.toString());
    EXPECT_EQ(d->received_at, e.received_at);
  }
}

TEST(EnvelopeCodec, RoundTripsDefaultAndExtremes) {
  Envelope e;
  std::string bytes;
  encodeEnvelope(e, bytes);
  auto d = decodeEnvelope(bytes);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, e);

  Envelope big;
  big.id = MessageId(0xFFFFFFFFFFFFull, 0xFFFF, ~0ull);
  big.received_at = WallTime(std::chrono::nanoseconds(-5));  // before the epoch
  big.client_port = 65535;
  std::mt19937 rng(3);
  std::string all(256 * 4, '\0');
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<char>(i);
  big.mail_from = all;
  big.helo = std::string(100000, '\0');
  for (int i = 0; i < 1000; ++i) big.rcpt_to.push_back(std::string(static_cast<size_t>(i % 7), static_cast<char>(rng())));
  big.smtputf8 = big.body_8bit = true;
  bytes.clear();
  encodeEnvelope(big, bytes);
  d = decodeEnvelope(bytes);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, big);
}

TEST(EnvelopeCodec, RejectsEveryTruncationAndTrailingBytes) {
  std::string bytes;
  encodeEnvelope(testing::makeEnvelope(3), bytes);
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(decodeEnvelope(std::string_view(bytes).substr(0, n)).ok()) << n;
  }
  EXPECT_FALSE(decodeEnvelope(bytes + "x").ok());
}

TEST(EnvelopeCodec, RejectsBadVersionFlagsIdAndCount) {
  std::string good;
  encodeEnvelope(testing::makeEnvelope(4), good);
  std::string b = good;
  b[0] = 2;
  EXPECT_FALSE(decodeEnvelope(b).ok());
  b = good;
  b[1] = 4;
  EXPECT_FALSE(decodeEnvelope(b).ok());
  b = good;
  b[12] = '!';  // inside the id text
  EXPECT_FALSE(decodeEnvelope(b).ok());
  b = good;
  b[12] = 'Z';  // first id character above 7 overflows 128 bits
  EXPECT_FALSE(decodeEnvelope(b).ok());
  // Recipient count claiming more than the bytes could hold.
  Envelope e;
  b.clear();
  encodeEnvelope(e, b);
  b[b.size() - 4] = '\xFF';
  b[b.size() - 3] = '\xFF';
  EXPECT_FALSE(decodeEnvelope(b).ok());
}

}  // namespace
}  // namespace mx::spool
