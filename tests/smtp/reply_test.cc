// tests/smtp/reply_test.cc — the reply table keeps RFC 2034/3463 shape for every entry.
#include "smtp/reply.h"

#include <string>

#include <gtest/gtest.h>

namespace mx::smtp {
namespace {

TEST(Reply, EveryEntryIsWellFormed) {
  for (size_t i = 0; i < static_cast<size_t>(ReplyId::kCount_); ++i) {
    const ReplyId id = static_cast<ReplyId>(i);
    const ReplySpec& s = replySpec(id);
    std::string line;
    appendReply(line, id, "mx.example", "X");
    SCOPED_TRACE(line);
    ASSERT_GE(s.code, 200);
    ASSERT_LT(s.code, 600);
    const char cls = static_cast<char>('0' + s.code / 100);
    if (cls == '3') {
      EXPECT_TRUE(s.enhanced.empty());
      continue;
    }
    // RFC 2034: the enhanced code's class matches the reply code's class.
    ASSERT_FALSE(s.enhanced.empty());
    EXPECT_EQ(s.enhanced[0], cls);
    EXPECT_EQ(enhancedCodeLength(s.enhanced), s.enhanced.size());
    EXPECT_EQ(line.substr(line.size() - 2), "\r\n");
    if (s.code == 421) {
      EXPECT_TRUE(s.with_host);
    }
    // Replies to good commands never count as errors.
    if (cls == '2') {
      EXPECT_FALSE(s.counts_as_error);
    }
  }
}

TEST(Reply, Format) {
  std::string out;
  appendReply(out, ReplyId::kTimeout, "mx.example");
  EXPECT_EQ(out, "421 4.4.2 mx.example Error: timeout exceeded\r\n");
  out.clear();
  appendReply(out, ReplyId::kParamUnknown, "h", "RET");
  EXPECT_EQ(out, "555 5.5.4 Unsupported option: RET\r\n");
}

TEST(Reply, NamesRoundTrip) {
  for (size_t i = 0; i < static_cast<size_t>(ReplyId::kCount_); ++i) {
    const auto id = static_cast<ReplyId>(i);
    EXPECT_EQ(replyIdFromName(replyName(id)), id) << replyName(id);
  }
  EXPECT_EQ(replyName(ReplyId::kRelayDenied), "RelayDenied");
  EXPECT_EQ(replyIdFromName("relaydenied"), ReplyId::kCount_);
  EXPECT_EQ(replyIdFromName(""), ReplyId::kCount_);
}

TEST(Reply, Refusals) {
  EXPECT_TRUE(isRefusal(ReplyId::kRelayDenied));
  EXPECT_TRUE(isRefusal(ReplyId::kPolicyTempFail));
  EXPECT_TRUE(isRefusal(ReplyId::kTooManyConnections));
  EXPECT_FALSE(isRefusal(ReplyId::kOk));
  EXPECT_FALSE(isRefusal(ReplyId::kStartData));
  EXPECT_FALSE(isRefusal(ReplyId::kCount_));
}

TEST(Reply, DetailAndTextAfter) {
  std::string out;
  appendReply(out, ReplyId::kChunkReceived, "h", "42");
  EXPECT_EQ(out, "250 2.0.0 42 octets received\r\n");
  out.clear();
  appendReply(out, ReplyId::kAuthPlainPrompt, "h");
  EXPECT_EQ(out, "334 \r\n");
  out.clear();
  appendReply(out, ReplyId::kBdatBadChunkSize, "h");
  EXPECT_EQ(out, "501 5.5.4 Error: invalid BDAT chunk size\r\n");
}

TEST(Reply, GreetingAndEhlo) {
  std::string out;
  appendGreeting(out, "mx.example");
  EXPECT_EQ(out, "220 mx.example ESMTP mxgate\r\n");
  out.clear();
  appendHeloReply(out, "mx.example");
  EXPECT_EQ(out, "250 mx.example\r\n");
  out.clear();
  appendEhloReply(out, "mx.example", EhloOffer{});
  EXPECT_EQ(out, "250-mx.example\r\n250-PIPELINING\r\n250-SIZE\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n");
  out.clear();
  appendEhloReply(out, "h", EhloOffer{1000, true, true, true, true});
  EXPECT_EQ(out, "250-h\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n"
                 "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n");
}

}  // namespace
}  // namespace mx::smtp
