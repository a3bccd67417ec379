// Tests for spool/record_format: header encoding, record parse/scan, resynchronisation
// after corruption, torn tails, and that a forged record inside a body is never believed.
#include "spool/record_format.h"

#include <gtest/gtest.h>

#include "spool/crc32c.h"
#include "spool/envelope_codec.h"
#include "spool_test_util.h"

namespace mx::spool {
namespace {

constexpr uint64_t kSalt = 0x0123456789ABCDEFull;

std::string record(uint64_t salt, uint64_t seq, std::string_view body, std::string_view spill = {}) {
  std::string env;
  encodeEnvelope(testing::makeEnvelope(seq), env);
  std::string out;
  encodeRecordPrefix(salt, seq, env, spill, body.size(), crc32c(body), out);
  if (spill.empty()) out.append(body);
  return out;
}

TEST(RecordFormat, SegmentHeaderRoundTrip) {
  SegmentHeader h{7, 42, kSalt};
  std::string b = encodeSegmentHeader(h);
  ASSERT_EQ(b.size(), kSegmentHeaderSize);
  EXPECT_EQ(b.substr(0, 8), "MXSPOOL1");
  auto d = decodeSegmentHeader(b);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->lane, 7u);
  EXPECT_EQ(d->base_seq, 42u);
  EXPECT_EQ(d->salt, kSalt);
  for (size_t i = 0; i < b.size() - 4; ++i) {  // the last 4 bytes are reserved
    std::string c = b;
    c[i] ^= 0x01;
    EXPECT_FALSE(decodeSegmentHeader(c)) << i;
  }
  EXPECT_FALSE(decodeSegmentHeader(b.substr(0, 39)));
}

TEST(RecordFormat, ParseInlineAndSpilled) {
  std::string a = record(kSalt, 5, "hello\r\nworld");
  RecordView v;
  ASSERT_EQ(parseRecord(a, kSalt, v), ParseStatus::kOk);
  EXPECT_EQ(v.length, a.size());
  EXPECT_EQ(v.sequence, 5u);
  EXPECT_FALSE(v.spilled);
  EXPECT_EQ(v.body, "hello\r\nworld");
  auto env = decodeEnvelope(v.envelope);
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(*env, testing::makeEnvelope(5));
  EXPECT_EQ(recordLength(a, kSalt), a.size());

  std::string s = record(kSalt, 6, std::string(1000, 'x'), "lane-0000/spill/0123456789abcdef.spill");
  ASSERT_EQ(parseRecord(s, kSalt, v), ParseStatus::kOk);
  EXPECT_TRUE(v.spilled);
  EXPECT_EQ(v.body_len, 1000u);
  EXPECT_EQ(v.spill_path, "lane-0000/spill/0123456789abcdef.spill");
  EXPECT_EQ(v.body_crc, crc32c(std::string(1000, 'x')));
  EXPECT_TRUE(v.body.empty());
}

TEST(RecordFormat, WrongSaltIsCorrupt) {
  std::string a = record(kSalt, 5, "x");
  RecordView v;
  EXPECT_EQ(parseRecord(a, kSalt + 1, v), ParseStatus::kCorrupt);
}

TEST(RecordFormat, EveryTruncationIsIncompleteEveryFlipIsCorrupt) {
  std::string a = record(kSalt, 9, "body bytes here");
  RecordView v;
  for (size_t n = 0; n < a.size(); ++n) {
    EXPECT_EQ(parseRecord(std::string_view(a).substr(0, n), kSalt, v), ParseStatus::kIncomplete) << n;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    for (uint8_t bit : {0x01, 0x80}) {
      std::string c = a;
      c[i] = static_cast<char>(c[i] ^ bit);
      EXPECT_NE(parseRecord(c, kSalt, v), ParseStatus::kOk) << i;
    }
  }
}

TEST(RecordFormat, ScanSkipsCorruptMiddleAndReportsTail) {
  std::string r1 = record(kSalt, 1, "one"), r2 = record(kSalt, 2, "two"), r3 = record(kSalt, 3, "three");
  std::string seg = r1 + r2 + r3;
  auto all = scanRecords(seg, kSalt, 0);
  ASSERT_EQ(all.records.size(), 3u);
  EXPECT_EQ(all.tail_bytes, 0u);
  EXPECT_EQ(all.valid_end, seg.size());

  std::string mid = seg;
  mid[r1.size() + 50] ^= 0x40;  // inside r2
  auto m = scanRecords(mid, kSalt, 0);
  ASSERT_EQ(m.records.size(), 2u);
  EXPECT_EQ(m.records[0].sequence, 1u);
  EXPECT_EQ(m.records[1].sequence, 3u);
  EXPECT_EQ(m.corrupt_regions, 1u);
  EXPECT_EQ(m.corrupt_bytes, r2.size());
  EXPECT_EQ(m.tail_bytes, 0u);

  auto t = scanRecords(std::string_view(seg).substr(0, seg.size() - 1), kSalt, 0);
  ASSERT_EQ(t.records.size(), 2u);
  EXPECT_EQ(t.valid_end, r1.size() + r2.size());
  EXPECT_EQ(t.tail_bytes, r3.size() - 1);
  EXPECT_EQ(t.corrupt_regions, 0u);
}

TEST(RecordFormat, ScanRejectsNonIncreasingSequences) {
  std::string seg = record(kSalt, 5, "a") + record(kSalt, 5, "b") + record(kSalt, 4, "c") + record(kSalt, 6, "d");
  auto s = scanRecords(seg, kSalt, 0);
  ASSERT_EQ(s.records.size(), 2u);
  EXPECT_EQ(s.records[0].body, "a");
  EXPECT_EQ(s.records[1].body, "d");
  EXPECT_EQ(scanRecords(seg, kSalt, 5).records.size(), 1u);
}

TEST(RecordFormat, ForgedRecordInsideABodyIsNotResurrected) {
  // A client sends a body that contains a complete, valid-looking record. Without the
  // segment's salt its header CRC cannot match, so when the real record around it is
  // damaged, recovery does not pick the forgery up.
  std::string forged = record(/*salt=*/0, 2, "evil");
  std::string outer = record(kSalt, 1, "prefix " + forged + " suffix");
  outer[kRecordHeaderSize + 2] ^= 0x10;  // damage the outer record's meta
  auto s = scanRecords(outer, kSalt, 0);
  EXPECT_TRUE(s.records.empty());
  EXPECT_EQ(s.tail_bytes, outer.size());
}

}  // namespace
}  // namespace mx::spool
