// tests/smtp/sasl_test.cc — RFC 4954 responses and RFC 4616 PLAIN messages.
#include "smtp/sasl.h"

#include <gtest/gtest.h>

namespace mx::smtp {
namespace {

TEST(Sasl, Responses) {
  EXPECT_EQ(decodeSaslResponse("="), std::string());
  EXPECT_EQ(decodeSaslResponse("dXNlcg=="), std::string("user"));
  EXPECT_FALSE(decodeSaslResponse(""));
  EXPECT_FALSE(decodeSaslResponse("dXNlcg"));     // missing padding
  EXPECT_FALSE(decodeSaslResponse("dXNlcg==="));
  EXPECT_FALSE(decodeSaslResponse("dXN lcg=="));
  EXPECT_FALSE(decodeSaslResponse("*"));
}

TEST(Sasl, Plain) {
  PlainCredentials c;
  ASSERT_TRUE(splitPlain(std::string("\0user\0pass", 10), c));
  EXPECT_EQ(c.authzid, "");
  EXPECT_EQ(c.authcid, "user");
  EXPECT_EQ(c.password, "pass");
  ASSERT_TRUE(splitPlain(std::string("admin\0user\0p w", 14), c));
  EXPECT_EQ(c.authzid, "admin");
  EXPECT_FALSE(splitPlain(std::string("user\0pass", 9), c));           // one NUL
  EXPECT_FALSE(splitPlain(std::string("\0\0pass", 6), c));             // empty authcid
  EXPECT_FALSE(splitPlain(std::string("\0user\0", 6), c));             // empty password
  EXPECT_FALSE(splitPlain(std::string("\0u\0p\0x", 7), c));            // three NULs
  EXPECT_FALSE(splitPlain(std::string("\0u\xff\0p", 6), c));           // not UTF-8
  EXPECT_FALSE(splitPlain("", c));
}

TEST(Sasl, LoginField) {
  EXPECT_TRUE(isValidLoginField("user"));
  EXPECT_FALSE(isValidLoginField(""));
  EXPECT_FALSE(isValidLoginField(std::string("a\0b", 3)));
  EXPECT_FALSE(isValidLoginField("\xc3"));
}

TEST(Sasl, Wipe) {
  std::string s = "secret password that is long enough to be on the heap";
  const char* p = s.data();
  const size_t n = s.size();
  wipeString(s);
  EXPECT_TRUE(s.empty());
  // The buffer is still owned by s (clear keeps capacity): its old bytes are zero.
  ASSERT_EQ(s.data(), p);
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(p[i], '\0');
}

}  // namespace
}  // namespace mx::smtp
