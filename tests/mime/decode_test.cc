// tests/mime/decode_test.cc — transfer decoders (RFC 2045 sections 6.7 and 6.8, RFC 2047
// section 4.2, uuencode): clean input, whitespace, junk, padding, soft breaks, and the
// SIMD/scalar base64 paths against a byte-at-a-time reference on random data.
#include "mime/decode.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/base64.h"

namespace mx::mime {
namespace {

std::string b64(std::string_view in) {
  std::string out;
  decodeBase64(in, out);
  return out;
}

TEST(MimeBase64, Clean) {
  EXPECT_EQ(b64("SGVsbG8sIHdvcmxkIQ=="), "Hello, world!");
  EXPECT_EQ(b64("YQ=="), "a");
  EXPECT_EQ(b64("YWI="), "ab");
  EXPECT_EQ(b64("YWJj"), "abc");
  EXPECT_EQ(b64(""), "");
  std::string out;
  EXPECT_TRUE(decodeBase64("YWJj\r\nZGVm\r\n", out));
  EXPECT_EQ(out, "abcdef");
}

TEST(MimeBase64, ToleratesWhitespaceJunkAndBadPadding) {
  std::string out;
  EXPECT_TRUE(decodeBase64(" Y W\tJ j \r\n", out));
  EXPECT_EQ(out, "abc");
  out.clear();
  EXPECT_FALSE(decodeBase64("YW*Jj", out));  // junk skipped, reported
  EXPECT_EQ(out, "abc");
  out.clear();
  EXPECT_FALSE(decodeBase64("YWI", out));  // missing padding: bytes kept, reported
  EXPECT_EQ(out, "ab");
  out.clear();
  EXPECT_FALSE(decodeBase64("YWJjZ", out));  // a lone trailing character is dropped
  EXPECT_EQ(out, "abc");
  // RFC 2045 section 6.8: '=' ends the data, so a second padded stream after it is
  // trailing data, not decoded.
  out.clear();
  EXPECT_FALSE(decodeBase64("YQ==\r\nYg==", out));
  EXPECT_EQ(out, "a");
}

// A list server appended a plain-text footer to a base64 body: decoding stops at the
// padding instead of turning "Mailing list" into bytes, and the footer is located.
TEST(MimeBase64, EndsAtPaddingAndReportsTrailingData) {
  const std::string body = "SGVsbG8=\r\n\r\n-- \r\nMailing list footer\r\n";
  Base64Decoder d;
  std::string out;
  d.update(body, out);
  EXPECT_FALSE(d.finish(out));
  EXPECT_EQ(out, "Hello");
  EXPECT_TRUE(d.ended());
  EXPECT_EQ(d.trailingAt(), static_cast<int64_t>(body.find("-- ")));
  EXPECT_EQ(d.trailingBytes(), std::string("--Mailinglistfooter").size());
  // Padding followed only by more padding and blanks is clean.
  Base64Decoder c;
  out.clear();
  c.update("YWI=\r\n=\r\n \r\n", out);
  EXPECT_TRUE(c.finish(out));
  EXPECT_EQ(out, "ab");
  EXPECT_EQ(c.trailingAt(), -1);
  // '=' where no padding can stand (after a whole quantum) also ends the data, unclean.
  Base64Decoder e;
  out.clear();
  e.update("YWJj=ZGVm", out);
  EXPECT_FALSE(e.finish(out));
  EXPECT_EQ(out, "abc");
  EXPECT_EQ(e.trailingAt(), 5);
}

// Fed in pieces of any size (quanta and line breaks split across pieces), the incremental
// decoder gives the same bytes and the same verdict as one call.
TEST(MimeBase64, PiecesOfEverySizeMatchWhole) {
  std::mt19937 rng(7);
  std::string data(5000, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  std::string enc = base64Encode(data);
  std::string wrapped;
  for (size_t i = 0; i < enc.size(); i += 61) wrapped += enc.substr(i, 61) + "\r\n";
  const std::string inputs[] = {wrapped, wrapped + "footer text\r\n", wrapped.substr(0, 999)};
  for (const std::string& in : inputs) {
    std::string whole;
    Base64Decoder w;
    w.update(in, whole);
    const bool clean = w.finish(whole);
    for (size_t piece : {1u, 2u, 3u, 5u, 31u, 32u, 33u, 64u, 1000u}) {
      Base64Decoder d;
      std::string out;
      for (size_t i = 0; i < in.size(); i += piece) d.update(std::string_view(in).substr(i, piece), out);
      EXPECT_EQ(d.finish(out), clean) << "piece " << piece;
      ASSERT_EQ(out, whole) << "piece " << piece;
      EXPECT_EQ(d.trailingAt(), w.trailingAt()) << "piece " << piece;
    }
  }
}

TEST(MimeBase64, AppendsToExistingOutput) {
  std::string out = "x";
  decodeBase64("YWJj", out);
  EXPECT_EQ(out, "xabc");
}

// Lines of every width and random junk: the fast paths must agree with a simple decoder.
TEST(MimeBase64, MatchesReferenceOnRandomData) {
  std::mt19937 rng(42);
  for (int iter = 0; iter < 400; ++iter) {
    std::string data(rng() % 3000, '\0');
    for (auto& c : data) c = static_cast<char>(rng());
    const std::string enc = base64Encode(data);
    const size_t width = 4 + (rng() % 100);
    std::string wrapped;
    for (size_t i = 0; i < enc.size(); i += width) {
      wrapped += enc.substr(i, width);
      wrapped += (iter % 2) ? "\r\n" : "\n";
    }
    std::string out;
    EXPECT_TRUE(decodeBase64(wrapped, out));
    ASSERT_EQ(out, data) << "width " << width;
  }
}

TEST(MimeQuotedPrintable, SoftBreaksEscapesAndTrailingBlanks) {
  std::string out;
  EXPECT_TRUE(decodeQuotedPrintable("caf=C3=A9 =\r\nau lait  \r\nnext", out));
  EXPECT_EQ(out, "caf\xC3\xA9 au lait\r\nnext");
  out.clear();
  // Hard line breaks come out canonical (CRLF) also from LF input.
  EXPECT_TRUE(decodeQuotedPrintable("a=3db\nc=\nd\n", out));
  EXPECT_EQ(out, "a=b\r\ncd\r\n");
  out.clear();
  EXPECT_TRUE(decodeQuotedPrintable("lower=c3=a9", out));  // lower-case hex accepted
  EXPECT_EQ(out, "lower\xC3\xA9");
}

TEST(MimeQuotedPrintable, BadEscapesKeptLiterally) {
  std::string out;
  EXPECT_FALSE(decodeQuotedPrintable("a=ZZb=4", out));
  EXPECT_EQ(out, "a=ZZb=4");
}

// Peer defect (node parsers): a QP text attachment must not gain a newline at the end.
TEST(MimeQuotedPrintable, NoNewlineAddedAtEnd) {
  std::string out;
  decodeQuotedPrintable("id,name\r\n1,x", out);
  EXPECT_EQ(out, "id,name\r\n1,x");
  out.clear();
  decodeQuotedPrintable("id,name\r\n1,x=\r\n", out);
  EXPECT_EQ(out, "id,name\r\n1,x");
}

TEST(MimeQEncoding, UnderscoreAndHex) {
  std::string out;
  EXPECT_TRUE(decodeQEncoding("J=FCrgen_Gro=DF", out));
  EXPECT_EQ(out, "J\xFCrgen Gro\xDF");
  out.clear();
  EXPECT_FALSE(decodeQEncoding("a=", out));
  EXPECT_EQ(out, "a=");
}

TEST(MimeUuencode, DecodesBeginEndBlock) {
  // "Cat" uuencoded.
  std::string out;
  EXPECT_TRUE(decodeUuencode("begin 644 cat.txt\n#0V%T\n`\nend\n", out));
  EXPECT_EQ(out, "Cat");
}

}  // namespace
}  // namespace mx::mime
