// Tests for spool/envelope_codec: exact round trip of every field (arbitrary bytes),
// rejection of truncated, extended or lying encodings, and version 1 records (written by
// the first release) still decoding — both from the v1 encoder and from a real segment
// written by that release (tests/spool/data/spool-v1).
#include "spool/envelope_codec.h"

#include <gtest/gtest.h>

#include <filesystem>
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
  big.smtputf8 = big.esmtp = big.chunked = true;
  big.body = BodyType::kBinaryMime;
  big.reception = Reception::kLambda;
  big.declared_size = ~0ull;
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
  // v2 layout: version, flags, reception, body, port(2), time(8), declared(8), id(26).
  constexpr size_t kId = 1 + 1 + 1 + 1 + 2 + 8 + 8;
  std::string b = good;
  b[0] = 3;
  EXPECT_FALSE(decodeEnvelope(b).ok());
  b[0] = 0;
  EXPECT_FALSE(decodeEnvelope(b).ok());
  b = good;
  b[1] = 8;
  EXPECT_FALSE(decodeEnvelope(b).ok());
  b = good;
  b[2] = static_cast<char>(kReceptionCount);
  EXPECT_FALSE(decodeEnvelope(b).ok());
  b = good;
  b[3] = static_cast<char>(kBodyTypeCount);
  EXPECT_FALSE(decodeEnvelope(b).ok());
  b = good;
  b[kId + 6] = '!';  // inside the id text
  EXPECT_FALSE(decodeEnvelope(b).ok());
  b = good;
  b[kId] = 'Z';  // first id character above 7 overflows 128 bits
  EXPECT_FALSE(decodeEnvelope(b).ok());
  // Recipient count claiming more than the bytes could hold.
  Envelope e;
  b.clear();
  encodeEnvelope(e, b);
  b[b.size() - 4] = '\xFF';
  b[b.size() - 3] = '\xFF';
  EXPECT_FALSE(decodeEnvelope(b).ok());
}

// What a version 1 record can say: v2-only fields at their defaults, the 8-bit flag as
// body 8bitmime.
Envelope asV1Sees(Envelope e) {
  e.reception = Reception::kSmtp;
  e.esmtp = false;
  e.chunked = false;
  e.declared_size = 0;
  if (e.body == BodyType::kBinaryMime) e.body = BodyType::kEightBitMime;
  return e;
}

TEST(EnvelopeCodec, DecodesVersion1) {
  for (uint64_t n = 0; n < 30; ++n) {
    Envelope e = testing::makeEnvelope(n);
    std::string bytes;
    encodeEnvelopeV1ForTest(e, bytes);
    ASSERT_EQ(bytes[0], 1);
    auto d = decodeEnvelope(bytes);
    ASSERT_TRUE(d.ok()) << d.error().message();
    EXPECT_EQ(*d, asV1Sees(e)) << n;
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
      ASSERT_FALSE(decodeEnvelope(std::string_view(bytes).substr(0, cut)).ok()) << cut;
    }
    EXPECT_FALSE(decodeEnvelope(bytes + "x").ok());
  }
  std::string bytes;
  encodeEnvelopeV1ForTest(testing::makeEnvelope(1), bytes);
  bytes[1] = 4;  // v1 knew two flags only
  EXPECT_FALSE(decodeEnvelope(bytes).ok());
}

// A spool directory written by the first release (envelope version 1): three records
// from testing::makeEnvelope(0..2) with bodies makeBody(n, 100 + n), the third 10,000
// bytes long and spilled. The current reader must hand out all three, unchanged.
TEST(EnvelopeCodec, ReadsSegmentWrittenByVersion1) {
  testing::TempDir dir;
  std::filesystem::copy(std::string(MX_SPOOL_TEST_DATA) + "/spool-v1", dir.path(),
                        std::filesystem::copy_options::recursive);
  auto sp = Spool::open(testing::testOptions(dir.path()));
  ASSERT_TRUE(sp.ok()) << sp.error().message();
  auto reader = (*sp)->reader();
  auto records = testing::drain(*reader);
  ASSERT_EQ(records.size(), 3u);
  for (uint64_t n = 0; n < 3; ++n) {
    Envelope want = asV1Sees(testing::makeEnvelope(n));
    EXPECT_EQ(records[n].envelope, want) << n;
    EXPECT_EQ(records[n].body, testing::makeBody(n, n == 2 ? 10000 : 100 + n)) << n;
  }
  EXPECT_EQ((*sp)->stats().corrupt_regions, 0u);
}

}  // namespace
}  // namespace mx::spool
