// Tests for core/base64: RFC 4648 section 10 vectors and strict rejection rules.
#include "core/base64.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

TEST(Base64, Rfc4648Vectors) {
  const char* plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(base64Encode(plain[i]), enc[i]);
    auto d = base64DecodeStrict(enc[i]);
    ASSERT_TRUE(d.has_value()) << enc[i];
    EXPECT_EQ(*d, plain[i]);
  }
}

TEST(Base64, StrictRejects) {
  EXPECT_FALSE(base64DecodeStrict("Zg=").has_value());      // length not a multiple of 4
  EXPECT_FALSE(base64DecodeStrict("Zh==").has_value());     // non-zero trailing bits
  EXPECT_FALSE(base64DecodeStrict("Zm9v\r\n").has_value()); // whitespace
  EXPECT_FALSE(base64DecodeStrict("Z=9v").has_value());     // padding in the middle
  EXPECT_FALSE(base64DecodeStrict("*").has_value());
  EXPECT_FALSE(base64DecodeStrict("Zm9v!A==").has_value());
}

TEST(Base64, BinaryRoundTrip) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  auto d = base64DecodeStrict(base64Encode(all));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, all);
}

}  // namespace
}  // namespace mx
