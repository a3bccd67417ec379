// tests/smtp/params_test.cc — MAIL/RCPT parameter parsing: RFC 5321 4.1.2 syntax,
// RFC 1870 SIZE, RFC 6152 / RFC 3030 BODY, RFC 6531 SMTPUTF8, RFC 4954 AUTH=.
#include "smtp/params.h"

#include <gtest/gtest.h>

namespace mx::smtp {
namespace {

ParamOffer offerAll() {
  ParamOffer o;
  o.chunking = true;
  o.smtputf8 = true;
  return o;
}

TEST(Params, Empty) {
  EXPECT_TRUE(parseMailParams("", offerAll()).ok());
  EXPECT_TRUE(parseMailParams(" ", offerAll()).ok());  // trailing space tolerated
  EXPECT_TRUE(parseRcptParams("").ok());
}

TEST(Params, Size) {
  MailParams p = parseMailParams(" SIZE=12345", offerAll());
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p.has_size);
  EXPECT_EQ(p.size, 12345u);
  p = parseMailParams(" size=0", offerAll());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.size, 0u);
  // 20 digits is the RFC 1870 maximum; it saturates rather than wraps.
  p = parseMailParams(" SIZE=99999999999999999999", offerAll());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.size, UINT64_MAX);
  EXPECT_EQ(parseMailParams(" SIZE=999999999999999999999", offerAll()).error, ParamError::kBadValue);
  EXPECT_EQ(parseMailParams(" SIZE=-1", offerAll()).error, ParamError::kBadValue);
  EXPECT_EQ(parseMailParams(" SIZE=1k", offerAll()).error, ParamError::kBadValue);
  EXPECT_EQ(parseMailParams(" SIZE", offerAll()).error, ParamError::kBadValue);
  EXPECT_EQ(parseMailParams(" SIZE=", offerAll()).error, ParamError::kSyntax);
  EXPECT_EQ(parseMailParams(" SIZE=1 SIZE=2", offerAll()).error, ParamError::kDuplicate);
}

TEST(Params, Body) {
  EXPECT_EQ(parseMailParams(" BODY=7BIT", offerAll()).body, BodyType::kSevenBit);
  EXPECT_EQ(parseMailParams(" BODY=8bitmime", offerAll()).body, BodyType::kEightBitMime);
  EXPECT_EQ(parseMailParams(" BODY=BINARYMIME", offerAll()).body, BodyType::kBinaryMime);
  ParamOffer no_chunking = offerAll();
  no_chunking.chunking = false;
  EXPECT_EQ(parseMailParams(" BODY=BINARYMIME", no_chunking).error, ParamError::kBadValue);
  EXPECT_EQ(parseMailParams(" BODY=9BIT", offerAll()).error, ParamError::kBadValue);
  EXPECT_EQ(parseMailParams(" BODY", offerAll()).error, ParamError::kBadValue);
  EXPECT_EQ(parseMailParams(" BODY=7BIT BODY=7BIT", offerAll()).error, ParamError::kDuplicate);
}

TEST(Params, Smtputf8) {
  EXPECT_TRUE(parseMailParams(" SMTPUTF8", offerAll()).smtputf8);
  EXPECT_EQ(parseMailParams(" SMTPUTF8=yes", offerAll()).error, ParamError::kBadValue);
  ParamOffer off = offerAll();
  off.smtputf8 = false;
  const MailParams p = parseMailParams(" SMTPUTF8", off);
  EXPECT_EQ(p.error, ParamError::kUnknown);
  EXPECT_EQ(p.bad_keyword, "SMTPUTF8");
}

TEST(Params, AuthIsAcceptedAndIgnored) {
  EXPECT_TRUE(parseMailParams(" AUTH=<>", offerAll()).ok());
  EXPECT_TRUE(parseMailParams(" AUTH=user+2Bx@example.com", offerAll()).ok());
  EXPECT_EQ(parseMailParams(" AUTH", offerAll()).error, ParamError::kBadValue);
}

TEST(Params, Unknown) {
  const MailParams p = parseMailParams(" SIZE=10 RET=HDRS", offerAll());
  EXPECT_EQ(p.error, ParamError::kUnknown);
  EXPECT_EQ(p.bad_keyword, "RET");
  const RcptParams r = parseRcptParams(" NOTIFY=NEVER");
  EXPECT_EQ(r.error, ParamError::kUnknown);
  EXPECT_EQ(r.bad_keyword, "NOTIFY");
}

TEST(Params, Syntax) {
  EXPECT_EQ(parseMailParams("SIZE=1", offerAll()).error, ParamError::kSyntax);  // no SP
  EXPECT_EQ(parseMailParams(" -X=1", offerAll()).error, ParamError::kSyntax);
  EXPECT_EQ(parseMailParams(" X_Y=1", offerAll()).error, ParamError::kSyntax);
  EXPECT_EQ(parseMailParams(" X=a=b", offerAll()).error, ParamError::kSyntax);
  EXPECT_EQ(parseMailParams(std::string(" X=a\x01", 5), offerAll()).error, ParamError::kSyntax);
  EXPECT_EQ(parseRcptParams(" =1").error, ParamError::kSyntax);
  EXPECT_EQ(parseRcptParams("\tX").error, ParamError::kSyntax);
  EXPECT_TRUE(parseMailParams("  SIZE=1   BODY=8BITMIME  ", offerAll()).ok());
}

TEST(Params, Utf8Values) {
  EXPECT_TRUE(isEsmtpValue("caf\xC3\xA9"));
  EXPECT_FALSE(isEsmtpValue("caf\xC3"));
}

}  // namespace
}  // namespace mx::smtp
