// Tests for spool/crc32c: RFC 3720 appendix B.4 vectors, the classic check value, and the
// hardware and software paths agreeing on every length and alignment.
#include "spool/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace mx::spool {
namespace {

struct Vector {
  std::string data;
  uint32_t crc;
};

std::vector<Vector> rfc3720Vectors() {
  std::vector<Vector> v;
  v.push_back({std::string(32, '\0'), 0x8A9136AAu});
  v.push_back({std::string(32, '\xFF'), 0x62A8AB43u});
  std::string inc(32, '\0'), dec(32, '\0');
  for (int i = 0; i < 32; ++i) {
    inc[i] = static_cast<char>(i);
    dec[i] = static_cast<char>(31 - i);
  }
  v.push_back({inc, 0x46DD794Eu});
  v.push_back({dec, 0x113FDB5Cu});
  // An iSCSI SCSI Read (10) command PDU.
  const unsigned char pdu[48] = {
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
      0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  v.push_back({std::string(reinterpret_cast<const char*>(pdu), 48), 0xD9963A56u});
  v.push_back({"123456789", 0xE3069283u});
  v.push_back({"", 0u});
  return v;
}

TEST(Crc32c, Rfc3720VectorsSoftware) {
  for (const auto& v : rfc3720Vectors()) {
    EXPECT_EQ(crc32cSoftware(0, v.data.data(), v.data.size()), v.crc) << v.data.size();
  }
}

TEST(Crc32c, Rfc3720VectorsHardware) {
  if (!crc32cHardwareAvailable()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  for (const auto& v : rfc3720Vectors()) {
    EXPECT_EQ(crc32cHardware(0, v.data.data(), v.data.size()), v.crc) << v.data.size();
  }
}

TEST(Crc32c, DispatcherMatchesVectors) {
  for (const auto& v : rfc3720Vectors()) EXPECT_EQ(crc32c(v.data), v.crc);
}

TEST(Crc32c, ChainingEqualsOneShot) {
  std::string s(1000, '\0');
  std::mt19937 rng(7);
  for (auto& c : s) c = static_cast<char>(rng());
  uint32_t whole = crc32c(s);
  for (size_t cut : {0u, 1u, 7u, 8u, 9u, 500u, 999u, 1000u}) {
    uint32_t a = crc32c(0, s.data(), cut);
    EXPECT_EQ(crc32c(a, s.data() + cut, s.size() - cut), whole) << cut;
    EXPECT_EQ(crc32cSoftware(crc32cSoftware(0, s.data(), cut), s.data() + cut, s.size() - cut), whole);
  }
}

TEST(Crc32c, PathsAgreeOnEveryLengthAndAlignment) {
  if (!crc32cHardwareAvailable()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  std::string s(600, '\0');
  std::mt19937 rng(11);
  for (auto& c : s) c = static_cast<char>(rng());
  for (size_t off = 0; off < 16; ++off) {
    for (size_t len = 0; len + off <= s.size(); len += (len < 80 ? 1 : 37)) {
      ASSERT_EQ(crc32cHardware(0x12345678u, s.data() + off, len),
                crc32cSoftware(0x12345678u, s.data() + off, len))
          << off << " " << len;
    }
  }
}

}  // namespace
}  // namespace mx::spool
