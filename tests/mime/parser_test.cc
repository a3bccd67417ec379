// tests/mime/parser_test.cc — the entity tree and the message fields: RFC 5322 header
// blocks, RFC 2046 multipart (delimiters, alternatives, related, digest), message/rfc822
// (also base64-encoded), body selection, attachments, limits, malformed input with the
// expected error codes, LF versus CRLF, and the GMime "no header block" defect.
#include "mime/parser.h"

#include <gtest/gtest.h>

#include <random>

#include "core/base64.h"
#include "core/sha256.h"
#include "tests/mime/test_util.h"

namespace mx::mime {
namespace {

std::string crlf(std::string_view s) { return mx::testing::toCrlf(s); }

const char kAlternative[] =
    "From: \"Ana Pe\xC3\xB1"
    "a\" <ana@example.net>\n"
    "To: =?iso-8859-1?Q?J=FCrgen?= <j@example.org>, b@example.org\n"
    "Subject: =?UTF-8?B?SGVsbG8g?= =?UTF-8?B?d29ybGQ=?=\n"
    "Date: Tue, 09 Jan 2024 02:31:35 +0900\n"
    "Message-ID: <m1@example.net>\n"
    "In-Reply-To: <p1@example.org>\n"
    "References: <r0@example.org>\n <p1@example.org>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
    "\n"
    "preamble\n"
    "--outer\n"
    "Content-Type: multipart/alternative; boundary=\"inner\"\n"
    "\n"
    "--inner\n"
    "Content-Type: text/plain; charset=iso-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "caf=E9 =\n"
    "au lait\n"
    "--inner\n"
    "Content-Type: text/html; charset=utf-8\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "PHA+Y2Fmw6k8L3A+\n"
    "--inner--\n"
    "--outer\n"
    "Content-Type: application/pdf; name=\"a.pdf\"\n"
    "Content-Disposition: attachment; filename*=utf-8''R%C3%A9sum%C3%A9.pdf\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "JVBERi0xLjQK\n"
    "--outer--\n"
    "epilogue\n";

void checkAlternative(const ParsedMessage& m) {
  ASSERT_EQ(m.parts.size(), 5u);
  EXPECT_EQ(m.parts[0].content_type, "multipart/mixed");
  EXPECT_EQ(m.parts[1].part_id, "1.1");
  EXPECT_EQ(m.parts[2].part_id, "1.1.1");
  EXPECT_EQ(m.parts[3].part_id, "1.1.2");
  EXPECT_EQ(m.parts[4].part_id, "1.2");
  EXPECT_EQ(*m.subject, "Hello world");
  ASSERT_EQ(m.from.size(), 1u);
  EXPECT_EQ(*m.from[0].name, "Ana Peña");
  ASSERT_EQ(m.to.size(), 2u);
  EXPECT_EQ(*m.to[0].name, "Jürgen");
  EXPECT_EQ(*m.date, "2024-01-09T02:31:35+09:00");
  EXPECT_EQ(*m.message_id, "m1@example.net");
  EXPECT_EQ(m.references.size(), 2u);
  EXPECT_EQ(*m.thread.root_id, "r0@example.org");
  EXPECT_EQ(*m.thread.parent_id, "p1@example.org");
  EXPECT_EQ(*m.thread.key, "t:r0@example.org");
  EXPECT_EQ(m.text_part, 2);
  EXPECT_EQ(m.html_part, 3);
  EXPECT_EQ(m.htmlBody(), "<p>café</p>");
  ASSERT_EQ(m.attachments.size(), 1u);
  const Part& a = m.parts[m.attachments[0]];
  EXPECT_EQ(*a.filename, "Résumé.pdf");
  EXPECT_EQ(*a.size, 9u);
  // sha256sum of "%PDF-1.4\n", computed independently (Python hashlib).
  EXPECT_EQ(a.sha256, "e5c62df5dab5c87b6a015ef3d43597074d1eec433b15f51aec63b8582d0e4ab4");
  EXPECT_EQ(a.role, PartRole::kAttachment);
}

TEST(MimeParser, AlternativeWithAttachmentLf) {
  ParsedMessage m = parse(kAlternative);
  checkAlternative(m);
  EXPECT_EQ(m.textBody(), "café au lait");
  EXPECT_EQ(m.line_endings, LineEndings::kLf);
  EXPECT_TRUE(m.errors.empty()) << errorCodeName(m.errors[0].code);
}

TEST(MimeParser, AlternativeWithAttachmentCrlf) {
  const std::string raw = crlf(kAlternative);
  ParsedMessage m = parse(raw);
  checkAlternative(m);
  EXPECT_EQ(m.textBody(), "café au lait");
  EXPECT_EQ(m.line_endings, LineEndings::kCrlf);
  EXPECT_TRUE(m.errors.empty());
  // Fields view the raw buffer, offsets point at them.
  EXPECT_EQ(raw.substr(m.fields[0].offset, 5), "From:");
}

// GMime returns nothing for input without a header block; we take it all as the body.
TEST(MimeParser, NoHeaderBlock) {
  ParsedMessage m = parse("Hello there,\r\nthis has no headers.\r\n");
  ASSERT_EQ(m.parts.size(), 1u);
  EXPECT_EQ(m.textBody(), "Hello there,\r\nthis has no headers.\r\n");
  EXPECT_TRUE(m.hasErrorCode(ErrorCode::kNoHeaders));
  EXPECT_EQ(m.top_field_count, 0u);
  ParsedMessage e = parse("");
  ASSERT_EQ(e.parts.size(), 1u);
  EXPECT_EQ(e.text_part, 0);
  ParsedMessage blank = parse("\r\nbody only\r\n");
  EXPECT_EQ(blank.textBody(), "body only\r\n");
}

TEST(MimeParser, HeaderBlockWithoutBlankLine) {
  ParsedMessage m = parse("Subject: x\nFrom: a@b.c\nThis line starts the body\nmore\n");
  EXPECT_EQ(*m.subject, "x");
  EXPECT_EQ(m.textBody(), "This line starts the body\nmore\n");
  EXPECT_TRUE(m.hasErrorCode(ErrorCode::kHeaderMalformed));
}

// Raw 8-bit header bytes that are not UTF-8 are read in the message's charset when that
// converts them cleanly (a Big5 subject over a Big5 body), else as windows-1252.
TEST(MimeParser, Raw8BitHeadersUseTheMessageCharset) {
  ParsedMessage m = parse(
      "Subject: \xA4\xA4\xA4\xE5\nContent-Type: text/plain; charset=big5; name=\"\xA4\xA4.txt\"\n\nx");
  EXPECT_EQ(*m.subject, "中文");
  EXPECT_EQ(*m.parts[0].filename, "中.txt");
  EXPECT_EQ(m.header_charset, "big5");
  EXPECT_TRUE(m.hasErrorCode(ErrorCode::kHeader8bit));
  ParsedMessage n = parse("Subject: caf\xE9\nContent-Type: text/plain; charset=utf-8\n\nx");
  EXPECT_EQ(*n.subject, "café");  // UTF-8 cannot take it: windows-1252
  ParsedMessage k = parse(
      "Subject: \xF0\xD2\xC9\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
      "Content-Type: text/plain; charset=koi8-r\n\nx\n--b--\n");
  EXPECT_EQ(*k.subject, "При");  // the first text part's charset
}

TEST(MimeParser, StrayLineInsideHeaderBlock) {
  // A known field follows the stray line: the block goes on and the line is skipped.
  ParsedMessage m = parse("Subject: a\nwrapped junk\nContent-Type: text/html\n\n<p>x</p>");
  EXPECT_EQ(m.parts[0].content_type, "text/html");
  EXPECT_EQ(m.htmlBody(), "<p>x</p>");
  EXPECT_TRUE(m.hasErrorCode(ErrorCode::kHeaderMalformed));
  // ...but a delimiter line right after a part's fields starts its body.
  ParsedMessage d = parse(
      "Content-Type: multipart/mixed; boundary=\"a\"\n\n--a\nContent-Type: multipart/mixed; "
      "boundary=\"ab\"\nMIME-Version: 1.0\n--ab\nContent-Type: text/plain\n\n--ab--\n--a--\n");
  ASSERT_EQ(d.parts.size(), 3u);
  EXPECT_EQ(d.parts[2].part_id, "1.1.1");
  // 8-bit bytes in a field name are accepted (and reported).
  ParsedMessage n = parse(
      "Subject: a\nInval\xEC"
      "d-Header: x\n\nbody");
  EXPECT_EQ(n.top_field_count, 2u);
  EXPECT_EQ(n.textBody(), "body");
}

TEST(MimeParser, FoldedAndObsoleteHeaders) {
  ParsedMessage m = parse("Subject : folded\r\n  subject\r\nX-Empty:\r\n\r\nb");
  EXPECT_EQ(*m.subject, "folded  subject");  // only the CRLF goes (RFC 5322 2.2.3)
  EXPECT_TRUE(m.hasErrorCode(ErrorCode::kObsoleteSyntax));
  ASSERT_EQ(m.top_field_count, 2u);
  EXPECT_EQ(m.fields[1].raw_value, "");
}

TEST(MimeParser, MultipartDefects) {
  // No boundary parameter: kept as a text body.
  ParsedMessage a = parse("Content-Type: multipart/mixed\n\nsome text\n");
  EXPECT_TRUE(a.hasErrorCode(ErrorCode::kBoundaryMissing));
  EXPECT_EQ(a.textBody(), "some text\n");
  // Boundary never appears.
  ParsedMessage b = parse("Content-Type: multipart/mixed; boundary=zz\n\nsome text\n");
  EXPECT_TRUE(b.hasErrorCode(ErrorCode::kBoundaryNotFound));
  EXPECT_EQ(b.textBody(), "some text\n");
  // No close delimiter: the last part runs to the end.
  ParsedMessage c =
      parse("Content-Type: multipart/mixed; boundary=zz\n\n--zz\n\nfirst\n--zz\n\nsecond\n");
  EXPECT_TRUE(c.hasErrorCode(ErrorCode::kCloseDelimiterMissing));
  ASSERT_EQ(c.parts.size(), 3u);
  EXPECT_EQ(c.parts[2].text, "second\n");
  EXPECT_EQ(c.text_parts.size(), 2u);
  // A delimiter at the very end of a truncated message opens no part.
  ParsedMessage t = parse("Content-Type: multipart/mixed; boundary=1\n\n--1\n\nhello\n--1\n");
  EXPECT_EQ(t.parts.size(), 2u);
  // Empty multipart.
  ParsedMessage d = parse("Content-Type: multipart/mixed; boundary=zz\n\n--zz--\n");
  EXPECT_TRUE(d.hasErrorCode(ErrorCode::kMultipartEmpty));
  // A longer boundary that starts with ours is not our delimiter; transport padding is.
  ParsedMessage e = parse(
      "Content-Type: multipart/mixed; boundary=ab\n\n--ab  \t\nContent-Type: multipart/alternative;"
      " boundary=abc\n\n--abc\n\ninner\n--abc--\n--ab--\n");
  ASSERT_EQ(e.parts.size(), 3u);
  EXPECT_EQ(e.parts[2].part_id, "1.1.1");
  EXPECT_EQ(e.parts[2].text, "inner");
  EXPECT_TRUE(e.errors.empty());
  // A missing inner close delimiter does not swallow the outer structure.
  ParsedMessage f = parse(
      "Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/mixed; "
      "boundary=i\n\n"
      "--i\n\ntext\n--o\nContent-Type: image/png\n\nPNG\n--o--\n");
  ASSERT_EQ(f.parts.size(), 4u);
  EXPECT_EQ(f.parts[3].part_id, "1.2");
  EXPECT_EQ(f.parts[3].content_type, "image/png");
}

TEST(MimeParser, RelatedInlineImagesAndDigest) {
  ParsedMessage m = parse(
      "Content-Type: multipart/related; boundary=r; type=\"text/html\"\n\n"
      "--r\nContent-Type: text/html\n\n<img src=\"cid:i1@x\">\n"
      "--r\nContent-Type: image/png\nContent-ID: <i1@x>\nContent-Transfer-Encoding: "
      "base64\n\niVBORw==\n"
      "--r--\n");
  ASSERT_EQ(m.attachments.size(), 1u);
  const Part& img = m.parts[m.attachments[0]];
  EXPECT_EQ(img.role, PartRole::kInline);
  EXPECT_EQ(*img.content_id, "i1@x");
  EXPECT_EQ(m.html_part, 1);
  ParsedMessage d = parse(
      "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nbody1\n--d\n\nSubject: "
      "two\n\nbody2\n--d--\n");
  ASSERT_EQ(d.parts.size(), 5u);
  EXPECT_EQ(d.parts[1].content_type, "message/rfc822");
  EXPECT_EQ(d.parts[2].part_id, "1.1.1");
  EXPECT_TRUE(d.parts[2].nested);
}

TEST(MimeParser, EncapsulatedMessages) {
  const char* raw =
      "Subject: outer\nContent-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: text/plain\n\nouter text\n"
      "--b\nContent-Type: message/rfc822\nContent-Disposition: inline\n\n"
      "Subject: inner\nContent-Type: multipart/mixed; boundary=c\n\n"
      "--c\nContent-Type: text/plain\n\ninner text\n"
      "--c\nContent-Type: application/zip; name=x.zip\n\nZIP\n--c--\n"
      "--b--\n";
  ParsedMessage m = parse(raw);
  ASSERT_EQ(m.parts.size(), 6u);
  EXPECT_EQ(m.parts[2].role, PartRole::kMessage);
  EXPECT_EQ(m.parts[3].part_id, "1.2.1");
  EXPECT_EQ(m.parts[4].part_id, "1.2.1.1");
  EXPECT_EQ(*m.subject, "outer");
  EXPECT_EQ(m.textBody(), "outer text");
  EXPECT_EQ(m.text_parts.size(), 2u);  // the forwarded text is listed, not preferred
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_TRUE(m.parts[m.attachments[0]].nested);

  // A base64-encoded message/rfc822 (not allowed, but seen) is decoded, then parsed.
  ParsedMessage e = parse(
      "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
      "U3ViamVjdDogaW5uZXIKCmhlbGxvCg==\n");
  ASSERT_EQ(e.parts.size(), 2u);
  EXPECT_EQ(e.parts[1].text, "hello\n");
  EXPECT_EQ(e.parts[1].offset, -1);
}

TEST(MimeParser, TransferEncodingsAndCharsets) {
  // QP text attachment: exact size, no added newline (node parsers' defect).
  ParsedMessage q = parse(
      "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nbody\n--b\n"
      "Content-Type: text/csv; name=a.csv\nContent-Transfer-Encoding: quoted-printable\n\n"
      "id,name\n1,x\n--b--\n");
  ASSERT_EQ(q.attachments.size(), 1u);
  EXPECT_EQ(attachmentBytes(q, 0), "id,name\r\n1,x");  // canonical CRLF, nothing added
  EXPECT_EQ(*q.parts[q.attachments[0]].size, 12u);
  ParsedMessage u = parse("Content-Type: text/plain; charset=x-nope\n\nabc");
  EXPECT_TRUE(u.hasErrorCode(ErrorCode::kCharsetUnknown));
  EXPECT_EQ(u.textBody(), "abc");
  ParsedMessage k = parse(
      "Content-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: 8bit\n\n\xF0\xD2\xC9");
  EXPECT_EQ(k.textBody(), "При");
  ParsedMessage x = parse("Content-Transfer-Encoding: x-weird\n\nabc");
  EXPECT_TRUE(x.hasErrorCode(ErrorCode::kCteUnknown));
  EXPECT_EQ(x.textBody(), "abc");
  ParsedMessage bad = parse("Content-Type: text/plain; charset=utf-8\n\nab\xFF");
  EXPECT_TRUE(bad.hasErrorCode(ErrorCode::kCharsetDecodeError));
  EXPECT_EQ(bad.textBody(), "ab\xEF\xBF\xBD");
  ParsedMessage b64 = parse("Content-Transfer-Encoding: base64\n\nYWJj*ZA\n");
  EXPECT_TRUE(b64.hasErrorCode(ErrorCode::kBase64Invalid));
  EXPECT_EQ(b64.textBody(), "abcd");
  ParsedMessage uu = parse(
      "Content-Type: application/octet-stream; name=c.txt\nContent-Transfer-Encoding: "
      "x-uuencode\n\n"
      "begin 644 c.txt\n#0V%T\n`\nend\n");
  EXPECT_EQ(attachmentBytes(uu, 0), "Cat");
}

TEST(MimeParser, ListAttachments) {
  ParsedMessage m = parse(kAlternative);
  auto list = listAttachments(m);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].n, 0u);
  EXPECT_EQ(list[0].part_id, "1.2");
  EXPECT_EQ(*list[0].filename, "Résumé.pdf");
  EXPECT_EQ(list[0].content_type, "application/pdf");
  EXPECT_EQ(*list[0].disposition, "attachment");
  EXPECT_FALSE(list[0].content_id.has_value());
  EXPECT_EQ(list[0].size, 9u);
  EXPECT_EQ(list[0].sha256, mx::sha256Hex(attachmentBytes(m, 0)));
  std::string out;
  decodeBody(m, list[0].part, out);
  EXPECT_EQ(out, "%PDF-1.4\n");
}

TEST(MimeParser, KeepAttachmentData) {
  ParseOptions opt;
  opt.keep_attachment_data = true;
  ParsedMessage m = parse(kAlternative, opt);
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_TRUE(m.parts[m.attachments[0]].data_kept);
  EXPECT_EQ(m.parts[m.attachments[0]].data, "%PDF-1.4\n");
  EXPECT_EQ(m.parts[m.attachments[0]].sha256,
            "e5c62df5dab5c87b6a015ef3d43597074d1eec433b15f51aec63b8582d0e4ab4");
  EXPECT_EQ(takeAttachmentBytes(m, 0), "%PDF-1.4\n");  // moved out...
  EXPECT_FALSE(m.parts[m.attachments[0]].data_kept);
  EXPECT_EQ(attachmentBytes(m, 0), "%PDF-1.4\n");  // ...and still decodable
  opt.hash_attachments = false;
  ParsedMessage n = parse(kAlternative, opt);
  EXPECT_TRUE(n.parts[n.attachments[0]].sha256.empty());
}

// Attachments larger than the decoder's piece (64 KiB of encoded text) are decoded and
// hashed piece by piece: base64 with lines that split quanta across pieces, base64 on one
// line, quoted-printable with long lines; kept or not, the size, digest and bytes must be
// those of the whole decoding.
TEST(MimeParser, LargeAttachmentsHashedWhileDecoding) {
  std::mt19937 rng(3);
  std::string data(400000, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  const std::string enc = base64Encode(data);
  std::string wrapped61, qp, text;
  for (size_t i = 0; i < enc.size(); i += 61) wrapped61 += enc.substr(i, 61) + "\r\n";
  for (int i = 0; text.size() < 300000; ++i) {
    text += "line " + std::to_string(i) + " caf\xC3\xA9 " + std::string(i % 300, 'x') + ".\r\n";
  }
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      static const char* kHex = "0123456789ABCDEF";
      qp += '=';
      qp += kHex[c >> 4];
      qp += kHex[c & 15];
    } else {
      qp += static_cast<char>(c);
    }
  }
  struct Case {
    std::string cte, body, want;
  } cases[] = {{"base64", wrapped61, data}, {"base64", enc + "\r\n", data},
               // The line break before the delimiter belongs to the delimiter.
               {"quoted-printable", qp, text.substr(0, text.size() - 2)}};
  for (const auto& c : cases) {
    const std::string msg =
        "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        "Content-Type: text/plain\r\n\r\nsee attachment\r\n--b\r\n"
        "Content-Type: application/octet-stream; name=x.bin\r\nContent-Transfer-Encoding: " +
        c.cte + "\r\n\r\n" + c.body + "--b--\r\n";
    for (bool keep : {false, true}) {
      ParseOptions opt;
      opt.keep_attachment_data = keep;
      ParsedMessage m = parse(msg, opt);
      ASSERT_EQ(m.attachments.size(), 1u) << c.cte;
      const Part& p = m.parts[m.attachments[0]];
      EXPECT_EQ(p.size.value_or(0), c.want.size()) << c.cte << " keep " << keep;
      EXPECT_EQ(p.sha256, mx::sha256Hex(c.want)) << c.cte << " keep " << keep;
      EXPECT_EQ(attachmentBytes(m, 0) == c.want, true) << c.cte << " keep " << keep;
      // Clean input; only the base64 written on one line is over RFC 5322's 998 bytes.
      for (const auto& e : m.errors) EXPECT_EQ(e.code, ErrorCode::kLineTooLong) << e.detail;
    }
  }
}

// A list server appended its footer to a base64 attachment: the bytes end at the padding
// and BASE64_INVALID says where the undecoded text starts.
TEST(MimeParser, Base64FooterAfterPadding) {
  const std::string msg =
      "From: a@example.com\r\nContent-Type: application/pdf; name=a.pdf\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\nJSVFT0YK\r\nYQ==\r\n\r\n"
      "_______________________________________________\r\nList mailing list\r\n";
  ParsedMessage m = parse(msg);
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(attachmentBytes(m, 0), "%PDF-1.4\n%%EOF\na");
  EXPECT_EQ(m.parts[0].sha256, mx::sha256Hex("%PDF-1.4\n%%EOF\na"));
  ASSERT_EQ(m.errors.size(), 1u);
  EXPECT_EQ(m.errors[0].code, ErrorCode::kBase64Invalid);
  EXPECT_EQ(m.errors[0].offset, static_cast<int64_t>(msg.find("____")));
  EXPECT_NE(m.errors[0].detail.find("after the final '=' padding"), std::string::npos);
}

// Body selection defects (each was a wrong body on real mail).
TEST(MimeParser, BodyNeverFromAnEncapsulatedMessage) {
  // Top level: a note-less forward (only the attached message). RFC 2046 5.2.1: the inner
  // message's text is not this message's body.
  const std::string msg = crlf(
      "From: a@example.com\nSubject: Fwd\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
      "Content-Type: message/rfc822\n\nFrom: c@example.com\nSubject: inner\n\ninner text\n"
      "--b--\n");
  ParsedMessage m = parse(msg);
  EXPECT_EQ(m.text_part, -1);
  EXPECT_EQ(m.html_part, -1);
  ASSERT_EQ(m.text_parts.size(), 1u);  // still listed, with its text in parts[].content
  EXPECT_EQ(m.parts[m.text_parts[0]].part_id, "1.1.1");
  EXPECT_EQ(m.parts[m.text_parts[0]].text, "inner text");
}

TEST(MimeParser, AlternativeEndingInRelatedKeepsEarlierText) {
  // The related's inline text/plain resource used to make it "provide" text, so the real
  // text/plain alternative was dropped from both the body and attachments[].
  const std::string msg = crlf(
      "Content-Type: multipart/alternative; boundary=A\n\n--A\nContent-Type: text/plain\n\n"
      "plain\n--A\nContent-Type: multipart/related; boundary=R\n\n--R\n"
      "Content-Type: text/html\n\n<p>h</p>\n--R\nContent-Type: image/png\nContent-ID: <i>\n\n"
      "PNG\n--R\nContent-Type: text/plain\nContent-Disposition: inline; filename=n.txt\n\n"
      "note\n--R--\n--A--\n");
  ParsedMessage m = parse(msg);
  EXPECT_EQ(m.textBody(), "plain");
  EXPECT_EQ(m.htmlBody(), "<p>h</p>");
  for (size_t i = 0; i < m.parts.size(); ++i) {
    const Part& p = m.parts[i];
    if (!p.is_leaf()) continue;
    const bool body = p.role == PartRole::kBodyText || p.role == PartRole::kBodyHtml;
    EXPECT_TRUE(body || p.attachment >= 0) << p.part_id << " is neither body nor attachment";
  }
}

TEST(MimeParser, EmptyMultipartNeverWinsTheText) {
  // mixed(no-delimiter multipart, text): the real text is body.text.
  const std::string mixed = crlf(
      "Content-Type: multipart/mixed; boundary=o\n\n--o\n"
      "Content-Type: multipart/alternative; boundary=gone\n\n\n--o\n"
      "Content-Type: text/plain\n\nreal text\n--o--\n");
  ParsedMessage m = parse(mixed);
  EXPECT_TRUE(m.hasErrorCode(ErrorCode::kBoundaryNotFound));
  EXPECT_EQ(m.textBody(), "real text");
  // alternative(text, multipart without parts): the last alternative is empty.
  const std::string alt = crlf(
      "Content-Type: multipart/alternative; boundary=o\n\n--o\nContent-Type: text/plain\n\n"
      "real text\n--o\nContent-Type: multipart/related; boundary=r\n\n--r--\n--o\n"
      "Content-Type: multipart/mixed\n\nno boundary\n--o--\n");
  ParsedMessage n = parse(alt);
  EXPECT_TRUE(n.hasErrorCode(ErrorCode::kMultipartEmpty));
  EXPECT_TRUE(n.hasErrorCode(ErrorCode::kBoundaryMissing));
  EXPECT_EQ(n.textBody(), "real text");
  // Alone, an unsplittable multipart's text is still the body (nothing better exists).
  ParsedMessage o = parse(crlf("Content-Type: multipart/mixed\n\nonly this\n"));
  EXPECT_EQ(o.textBody(), "only this\r\n");
}

// RFC 2045 section 5.2: an invalid Content-Type is the default, not a guessed type.
TEST(MimeParser, ContentTypeWithoutSubtypeIsTheDefault) {
  const std::string msg = crlf(
      "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhello\n"
      "--b\nContent-Type: application-x-gzip;\n name=\"logs.tar.gz\"\n\nGZ\n--b\n"
      "Content-Type: BINARY\n\nraw\n--b--\n");
  ParsedMessage m = parse(msg);
  ASSERT_EQ(m.parts.size(), 4u);
  const Part& gz = m.parts[2];
  EXPECT_EQ(gz.content_type, "text/plain");
  EXPECT_FALSE(gz.content_type_given);
  EXPECT_EQ(gz.charset, "us-ascii");
  EXPECT_EQ(gz.content_type_raw.value_or(""), "application-x-gzip; name=\"logs.tar.gz\"");
  EXPECT_EQ(gz.filename.value_or(""), "logs.tar.gz");  // the name still names the file
  EXPECT_EQ(gz.role, PartRole::kAttachment);
  EXPECT_EQ(m.parts[3].content_type, "text/plain");
  EXPECT_EQ(m.parts[3].content_type_raw.value_or(""), "BINARY");
  EXPECT_FALSE(m.parts[1].content_type_raw.has_value());
  int malformed = 0;
  for (const auto& e : m.errors) malformed += e.code == ErrorCode::kHeaderMalformed;
  EXPECT_EQ(malformed, 2);
  EXPECT_EQ(m.textBody(), "hello");
}

// RFC 5322 section 2.1.1: 998 bytes per line without the CRLF. Walk the limit (998, 999,
// 1000) in a header and in a body, with both line endings, at every position of a 32-byte
// block (the scan is vectorised), and check that such messages still parse whole.
TEST(MimeParser, LinesLongerThan998BytesAreReportedOnce) {
  for (const char* eol : {"\r\n", "\n"}) {
    for (size_t len : {998u, 999u, 1000u}) {
      for (size_t shift = 0; shift < 33; ++shift) {
        const std::string pad(shift, 'p');
        const std::string head = std::string("From: a@example.com") + eol + "X-Pad: " + pad + eol;
        const std::string line(len, 'x');
        const std::string in_body = head + eol + "short" + eol + line + eol + "end" + eol;
        ParsedMessage m = parse(in_body);
        int n = 0;
        for (const auto& e : m.errors) {
          if (e.code != ErrorCode::kLineTooLong) continue;
          ++n;
          EXPECT_EQ(e.offset, static_cast<int64_t>(in_body.find(line)));
          EXPECT_EQ(e.part, 0);
        }
        EXPECT_EQ(n, len > 998 ? 1 : 0) << len << " " << shift;
        EXPECT_NE(m.textBody().find(line), std::string::npos);
        // The same line as the last one, without a line break after it.
        ParsedMessage t = parse(head + eol + line);
        EXPECT_EQ(t.hasErrorCode(ErrorCode::kLineTooLong), len > 998) << len << " " << shift;
        // As a header field.
        const std::string hdr = head + "Subject: " + line.substr(9) + eol + eol + "b";
        ParsedMessage h = parse(hdr);
        EXPECT_EQ(h.hasErrorCode(ErrorCode::kLineTooLong), len > 998) << len << " " << shift;
        EXPECT_EQ(h.subject.value_or("").size(), len - 9);
      }
    }
  }
  // Several long lines in several parts: one entry, for the first, naming its part; a
  // 100 KB base64 line and a long quoted-printable line decode as usual.
  const std::string b64line = base64Encode(std::string(75000, 'A'));
  const std::string msg = crlf(
      "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n"
      "Content-Transfer-Encoding: quoted-printable\n\n" + std::string(1500, 'q') + "=3D\n"
      "--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" +
      b64line + "\n--b--\n");
  ParsedMessage m = parse(msg);
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.textBody(), std::string(1500, 'q') + "=");
  EXPECT_EQ(attachmentBytes(m, 0), std::string(75000, 'A'));
  ASSERT_EQ(m.errors.size(), 1u);
  EXPECT_EQ(m.errors[0].code, ErrorCode::kLineTooLong);
  EXPECT_EQ(m.errors[0].part, 1);
  EXPECT_EQ(m.errors[0].offset, static_cast<int64_t>(msg.find("qqq")));
  EXPECT_NE(m.errors[0].detail.find("1503 bytes"), std::string::npos);
}

// Delimiters are found 32 bytes at a time: walk them across block boundaries and the last
// bytes of the body, with "--b" in mid-line (not a delimiter) and "--bb" (a longer boundary).
TEST(MimeParser, DelimitersAtEveryBlockPosition) {
  for (const char* eol : {"\r\n", "\n"}) {
    for (size_t shift = 0; shift < 70; ++shift) {
      const std::string e = eol;
      const std::string pre(shift, 'p');
      const std::string msg = "Content-Type: multipart/mixed; boundary=b" + e + e + pre +
                              (shift ? e : "") + "--b" + e + e + "one x--b --bb" + e + "--bb" + e +
                              "--b" + e + e + "two" + e + "--b--";
      ParsedMessage m = parse(msg);
      ASSERT_EQ(m.parts.size(), 3u) << shift;
      EXPECT_EQ(m.parts[1].text, "one x--b --bb" + e + "--bb") << shift;
      EXPECT_EQ(m.parts[2].text, "two") << shift;
      EXPECT_FALSE(m.hasErrorCode(ErrorCode::kCloseDelimiterMissing)) << shift;
    }
  }
}

TEST(MimeParser, AuthenticationResults) {
  ParseOptions opt;
  opt.trusted_authserv_ids = {"mx1.inbound.example"};
  ParsedMessage m = parse(
      "Authentication-Results: mx1.inbound.example;\n\tspf=pass (sender ok) "
      "smtp.mailfrom=a@x.test;\n"
      "\tdkim=fail header.d=x.test header.s=s1; dkim=pass header.d=x.test;\n\tdmarc=fail (p=none) "
      "header.from=x.test\n"
      "Authentication-Results: relay.upstream.example 1; spf=fail; arc=pass\n"
      "Authentication-Results: mx1.inbound.example; none\n\nbody",
      opt);
  ASSERT_EQ(m.auth_results.size(), 6u);
  EXPECT_EQ(m.auth_results[0].method, "spf");
  EXPECT_EQ(*m.auth_results[0].comment, "sender ok");
  EXPECT_EQ(m.auth_results[0].properties[0].first, "smtp.mailfrom");
  EXPECT_TRUE(m.auth_results[0].trusted);
  EXPECT_FALSE(m.auth_results[4].trusted);
  EXPECT_EQ(m.auth_results[4].header_index, 1u);
  EXPECT_EQ(m.auth_summary.spf, "pass");
  EXPECT_EQ(m.auth_summary.dkim, "pass");  // one passing signature is enough
  EXPECT_EQ(m.auth_summary.dmarc, "fail");
  EXPECT_EQ(m.auth_summary.arc, "none");  // only the untrusted relay said arc=pass
}

TEST(MimeParser, ThreadKeyFallsBackToSubject) {
  ParsedMessage m = parse("Subject: Re: AW: Quarterly Report\n\nx");
  EXPECT_EQ(*m.thread.normalized_subject, "Quarterly Report");
  EXPECT_EQ(*m.thread.key, "s:quarterly report");
  ParsedMessage n = parse("Message-ID: <only@x>\n\nx");
  EXPECT_EQ(*n.thread.key, "t:only@x");
}

TEST(MimeParser, Limits) {
  ParseOptions opt;
  opt.max_depth = 3;
  ParsedMessage d = parse(
      "Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/mixed; "
      "boundary=b\n\n"
      "--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\n\nx\n--c--\n--b--\n--a--\n",
      opt);
  EXPECT_TRUE(d.hasErrorCode(ErrorCode::kNestingTooDeep));
  EXPECT_TRUE(d.truncated);
  opt = ParseOptions();
  opt.max_parts = 3;
  ParsedMessage p = parse(
      "Content-Type: multipart/mixed; "
      "boundary=a\n\n--a\n\n1\n--a\n\n2\n--a\n\n3\n--a\n\n4\n--a--\n",
      opt);
  EXPECT_EQ(p.parts.size(), 3u);
  EXPECT_TRUE(p.hasErrorCode(ErrorCode::kPartLimit));
  opt = ParseOptions();
  opt.max_parts = 0;  // clamped: the root entity always exists
  EXPECT_EQ(
      parse("Content-Type: multipart/mixed; boundary=a\n\n--a\n\nx\n--a--\n", opt).parts.size(),
      1u);
  opt.max_depth = 0;
  EXPECT_EQ(parse("Content-Type: message/rfc822\n\nSubject: x\n\ny", opt).parts.size(), 1u);
  opt = ParseOptions();
  opt.max_header_bytes = 64;
  ParsedMessage h = parse("Subject: a\nX-A: " + std::string(100, 'x') + "\nX-B: b\n\nbody", opt);
  EXPECT_TRUE(h.hasErrorCode(ErrorCode::kHeaderLimit));
  EXPECT_EQ(h.textBody(), "body");
  opt = ParseOptions();
  opt.max_total_size = 20;
  ParsedMessage s = parse("Subject: a\n\n" + std::string(100, 'x'), opt);
  EXPECT_TRUE(s.hasErrorCode(ErrorCode::kSizeLimit));
  EXPECT_EQ(s.parsed_size, 20u);
  opt = ParseOptions();
  opt.max_text_bytes = 4;
  ParsedMessage t = parse("\nabcdefgh", opt);
  EXPECT_EQ(t.textBody(), "abcd");
  EXPECT_TRUE(t.parts[0].text_truncated);
}

// Hostile shapes finish (their timings are in bench/mime, not asserted here).
TEST(MimeParser, PathologicalInputsComplete) {
  std::string deep = "Subject: deep\r\n";
  for (int i = 0; i < 10000; ++i) {
    deep += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
            std::to_string(i) + "\r\n";
  }
  ParsedMessage d = parse(deep);
  EXPECT_TRUE(d.hasErrorCode(ErrorCode::kNestingTooDeep));
  EXPECT_LE(d.parts.size(), 64u);

  std::string line = "Subject: " + std::string(1 << 20, 'a') + "\r\n\r\nbody";
  ParsedMessage l = parse(line);
  EXPECT_EQ(l.subject->size(), 1u << 20);
  EXPECT_TRUE(l.hasErrorCode(ErrorCode::kLineTooLong));

  std::string many = "Content-Type: multipart/mixed; boundary=x\r\n\r\n";
  for (int i = 0; i < 100000; ++i) many += "--x\r\n\r\np\r\n";
  many += "--x--\r\n";
  ParseOptions wide;
  wide.max_parts = 200000;
  ParsedMessage p = parse(many, wide);
  EXPECT_EQ(p.parts.size(), 100001u);
  ParsedMessage limited = parse(many);
  EXPECT_EQ(limited.parts.size(), 10000u);
  EXPECT_TRUE(limited.truncated);
}

// Line-ending detection scans 32-byte blocks: a CRLF split across blocks is still CRLF,
// and one late bare LF makes the message mixed.
TEST(MimeParser, LineEndingsAcrossBlockBoundaries) {
  for (size_t pad = 0; pad < 70; ++pad) {
    std::string raw =
        "Subject: " + std::string(pad, 'x') + "\r\n\r\n" + std::string(100, 'b') + "\r\n";
    EXPECT_EQ(parse(raw).line_endings, LineEndings::kCrlf) << pad;
    raw += std::string(pad, 'c') + "\n";
    EXPECT_EQ(parse(raw).line_endings, LineEndings::kMixed) << pad;
  }
  EXPECT_EQ(parse("no line break at all").line_endings, LineEndings::kNone);
}

// Shapes that would be quadratic in a naive decoder (each must stay linear): many folds in
// one field, many '<' or ':' in an address list, thousands of distinct parameters, a long
// subject with a '[' but no ']'. They must simply complete (ctest's timeout would catch a
// quadratic one at this size).
TEST(MimeParser, QuadraticShapesComplete) {
  std::string folds = "Subject: =?utf-8?q?a?=";
  while (folds.size() < (1 << 20)) folds += "\n x";
  folds += "\n\nb";
  EXPECT_TRUE(parse(folds).subject.has_value());
  std::string angles = "To: " + std::string(1 << 20, '<') + "\n\nb";
  EXPECT_EQ(parse(angles).to.size(), 1u);
  std::string colons = "To: ";
  while (colons.size() < (1 << 20)) colons += "a@b:";
  colons += "\n\nb";
  EXPECT_FALSE(parse(colons).to.empty());
  std::string params = "Content-Type: text/plain";
  for (int i = 0; params.size() < (1 << 20); ++i) params += "; p" + std::to_string(i) + "=v";
  params += "\n\nb";
  EXPECT_GT(parse(params).parts[0].params.size(), 50000u);
  std::string tag = "Subject: [" + std::string(1 << 20, 'x') + "\n\nb";
  EXPECT_FALSE(parse(tag).thread.normalized_subject->empty());
}

TEST(MimeParser, NulBytesAndMboxFromLine) {
  std::string raw = "From someone Sat Jan  1 00:00:00 2024\nSubject: a";
  raw += '\0';
  raw += "b\n\nbody";
  ParsedMessage m = parse(raw);
  EXPECT_TRUE(m.hasErrorCode(ErrorCode::kNulBytes));
  EXPECT_EQ(m.top_field_count, 1u);
  // "From  : John" is a field with blanks before its colon (RFC 5322 4.5), not an mbox line.
  ParsedMessage f = parse("From  : John Doe <jdoe@machine.example>\nSubject: s\n\nb");
  ASSERT_EQ(f.from.size(), 1u);
  EXPECT_EQ(f.from[0].address.value_or(""), "jdoe@machine.example");
  EXPECT_TRUE(f.hasErrorCode(ErrorCode::kObsoleteSyntax));
}

TEST(MimeParser, DecodeBodyOfEveryLeaf) {
  ParsedMessage m = parse(kAlternative);
  std::string out;
  EXPECT_TRUE(decodeBody(m, 2, out));
  EXPECT_EQ(out, "caf\xE9 au lait");  // transfer-decoded, not charset-converted
  out.clear();
  EXPECT_TRUE(decodeBody(m, 0, out));  // a container: nothing
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(decodeBody(m, 99, out));
}

}  // namespace
}  // namespace mx::mime
