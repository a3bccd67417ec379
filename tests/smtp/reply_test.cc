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

TEST(Reply, DriverLines) {
  EXPECT_TRUE(isAcceptableReplyLine("550 5.7.1 Relay access denied", '5'));
  EXPECT_TRUE(isAcceptableReplyLine("451 4.3.0 try later", '4'));
  EXPECT_TRUE(isAcceptableReplyLine("553 5.1.10 x", '5'));
  EXPECT_FALSE(isAcceptableReplyLine("550 5.7.1 Relay access denied", '4'));  // class
  EXPECT_FALSE(isAcceptableReplyLine("550 4.7.1 mismatched", '5'));
  EXPECT_FALSE(isAcceptableReplyLine("550 Relay access denied", '5'));       // no enhanced
  EXPECT_FALSE(isAcceptableReplyLine("550-5.7.1 multi", '5'));
  EXPECT_FALSE(isAcceptableReplyLine("550 5.7.1 a\r\n250 2.0.0 injected", '5'));
  EXPECT_FALSE(isAcceptableReplyLine("550 5.7.1 caf\xc3\xa9", '5'));
  EXPECT_FALSE(isAcceptableReplyLine("", '5'));
  EXPECT_FALSE(isAcceptableReplyLine("550 5.7.1 " + std::string(600, 'x'), '5'));
  EXPECT_FALSE(isAcceptableReplyLine("550 5.1234.1 x", '5'));
}

}  // namespace
}  // namespace mx::smtp
