// tests/mime/header_test.cc — header-field decoders: unfolding (RFC 5322 2.2.3), RFC 2047
// encoded words (incl. the GMime truncation and raw 8-bit peer defects), RFC 2231
// parameters, address lists with groups, message ids, dates, subject normalisation.
#include "mime/header.h"

#include <gtest/gtest.h>

namespace mx::mime {
namespace {

std::string unstructured(std::string_view raw, DecodeNotes* n = nullptr) {
  DecodeNotes local;
  return decodeUnstructured(raw, n ? n : &local);
}

// RFC 5322 section 2.2.3: unfolding removes the CRLF and nothing else. Expected values as
// Python's email (policy.default), GMime and postal-mime give them.
TEST(MimeUnfold, RemovesOnlyTheLineBreak) {
  EXPECT_EQ(unfold(" Now\r\n    Available"), "Now    Available");
  EXPECT_EQ(unfold(" Fwd: \r\n\tSaying \r\n Hello\r\n"), "Fwd: \tSaying  Hello");
  EXPECT_EQ(unfold("a  b"), "a  b");
  EXPECT_EQ(unfold("a\n b"), "a b");
  EXPECT_EQ(unfold("a\r\n\tb"), "a\tb");
  EXPECT_EQ(unfold("   "), "");
  EXPECT_EQ(unstructured(" Now\r\n    Available"), "Now    Available");
  EXPECT_EQ(unstructured("=?utf-8?q?a?=\r\n   b"), "a   b");  // as Python's email
}

TEST(MimeEncodedWords, Basic) {
  EXPECT_EQ(unstructured("=?iso-8859-1?q?this=20is=20some=20text?="), "this is some text");
  EXPECT_EQ(unstructured("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?="), "ab");
  EXPECT_EQ(unstructured("=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?="), "ab");
  EXPECT_EQ(unstructured("=?ISO-8859-1?Q?a?= b"), "a b");
  EXPECT_EQ(unstructured("a =?ISO-8859-1?Q?b?="), "a b");
  EXPECT_EQ(unstructured("=?UTF-8?B?w6k=?="), "\xC3\xA9");
  EXPECT_EQ(unstructured("=?utf-8*en?Q?x?="), "x");  // RFC 2231 section 5 language
  EXPECT_EQ(unstructured("Les Communs - =?utf-8?Q?R=C3=A9capitulatif?= de la\r\n "
                         "=?utf-8?Q?r=C3=A9servation?= 1"),
            "Les Communs - Récapitulatif de la réservation 1");
}

// GMime 3.2 truncates the subject when a base64 word ending in "=" padding is followed by
// another word in the same charset. Each word is decoded on its own, then joined.
TEST(MimeEncodedWords, PaddedBase64FollowedByAnotherWord) {
  EXPECT_EQ(unstructured("=?UTF-8?B?SGVsbG8g?= =?UTF-8?B?d29ybGQ=?= =?UTF-8?B?IQ==?="),
            "Hello world!");
  EXPECT_EQ(unstructured("=?utf-8?B?0J/RgNC40LLQtdGC?= =?utf-8?B?INC80LjRgA==?= "
                         "=?utf-8?B?IQ==?="),
            "Привет мир!");
}

// A character split across two encoded words is joined as bytes before conversion.
TEST(MimeEncodedWords, MultibyteCharacterSplitAcrossWords) {
  EXPECT_EQ(unstructured("=?UTF-8?Q?caf=C3?= =?UTF-8?Q?=A9?="), "caf\xC3\xA9");
  EXPECT_EQ(unstructured("=?shift_jis?B?k/o=?= =?shift_jis?B?lns=?="), "日本");
}

// Raw 8-bit bytes inside an encoded word are bytes of that charset (node parsers garble them).
TEST(MimeEncodedWords, Raw8BitInsideWord) {
  EXPECT_EQ(unstructured("=?utf-8?Q?caf\xC3\xA9_cr\xC3\xA8me?="), "café crème");
  EXPECT_EQ(unstructured("=?iso-8859-1?Q?caf\xE9?="), "café");
}

TEST(MimeEncodedWords, Raw8BitOutsideWords) {
  DecodeNotes n;
  EXPECT_EQ(unstructured("caf\xC3\xA9", &n), "café");  // RFC 6532 UTF-8
  EXPECT_FALSE(n.raw_8bit);
  EXPECT_EQ(unstructured("caf\xE9", &n), "café");  // not UTF-8: windows-1252
  EXPECT_TRUE(n.raw_8bit);
}

TEST(MimeEncodedWords, InvalidWordsKeptLiterally) {
  DecodeNotes n;
  EXPECT_EQ(unstructured("=?utf-8?X?abc?=", &n), "=?utf-8?X?abc?=");
  EXPECT_TRUE(n.encoded_word_invalid);
  EXPECT_EQ(unstructured("a =?utf-8?q?unterminated"), "a =?utf-8?q?unterminated");
  EXPECT_EQ(unstructured("=?"), "=?");
  DecodeNotes u;
  EXPECT_EQ(unstructured("=?x-unknown-cs?Q?abc?=", &u), "abc");
  EXPECT_TRUE(u.charset_unknown);
}

TEST(MimeContentType, TypeSubtypeAndParams) {
  DecodeNotes n;
  auto v = parseContentType("Text/HTML; Charset=\"UTF-8\"; format=flowed (comment)", &n);
  EXPECT_EQ(v.type, "text");
  EXPECT_EQ(v.subtype, "html");
  ASSERT_EQ(v.params.size(), 2u);
  EXPECT_EQ(v.params[0].name, "charset");
  EXPECT_EQ(v.params[0].value, "UTF-8");
  EXPECT_EQ(v.params[1].value, "flowed");
  v = parseContentType("image/ jpeg", &n);
  EXPECT_EQ(v.subtype, "jpeg");
  v = parseContentType("multipart/mixed;\r\n\tboundary=\"----=_Part_1\"", &n);
  EXPECT_EQ(findParam(v.params, "boundary")->value, "----=_Part_1");
}

TEST(MimeContentType, Rfc2231) {
  DecodeNotes n;
  auto v = parseContentType(
      "attachment; filename*0*=utf-8''R%C3%A9sum%C3%A9; filename*1=\" final\";"
      " filename*2*=%2Epdf",
      &n);
  EXPECT_EQ(v.type, "attachment");
  EXPECT_EQ(findParam(v.params, "filename")->value, "Résumé final.pdf");
  v = parseContentType(
      "application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A", &n);
  EXPECT_EQ(findParam(v.params, "title")->value, "This is ***fun***");
  v = parseContentType("a/b; name*=iso-8859-1''caf%E9.txt", &n);
  EXPECT_EQ(findParam(v.params, "name")->value, "café.txt");
  // Sections out of order are sorted.
  v = parseContentType("a/b; n*1=\"b\"; n*0=\"a\"", &n);
  EXPECT_EQ(findParam(v.params, "n")->value, "ab");
}

TEST(MimeContentType, NonStandardEncodedWordInParameter) {
  DecodeNotes n;
  auto v = parseContentType(
      "attachment;\r\n\tfilename=\"=?utf-8?Q?Auftragsbest=C3=A4tigung_X=2EPD?=\r\n =?utf-8?Q?F?=\"",
      &n);
  EXPECT_EQ(findParam(v.params, "filename")->value, "Auftragsbestätigung X.PDF");
}

TEST(MimeContentType, TolerantOfJunk) {
  DecodeNotes n;
  auto v = parseContentType("text/plain; name=my file(1).txt; charset=us-ascii (Plain text)", &n);
  EXPECT_EQ(findParam(v.params, "name")->value, "my file(1).txt");
  EXPECT_EQ(findParam(v.params, "charset")->value, "us-ascii");
  // Parameters that lost their ';' (RFC 2231 examples are often quoted that way).
  v = parseContentType("message/external-body;\r\n access-type=mail-server\r\n server=\"l@b.test\"",
                       &n);
  EXPECT_EQ(findParam(v.params, "access-type")->value, "mail-server");
  EXPECT_EQ(findParam(v.params, "server")->value, "l@b.test");
  v = parseContentType("text/plain; charset=utf-8; charset=latin1", &n);
  EXPECT_EQ(findParam(v.params, "charset")->value, "utf-8");
  EXPECT_TRUE(n.param_invalid);
  v = parseContentType("", &n);
  EXPECT_EQ(v.type, "");
  v = parseContentType("/plain; name=", &n);
  EXPECT_EQ(v.subtype, "");
  EXPECT_TRUE(v.params.empty());
}

TEST(MimeEncodedWords, FoldInsideAWordIsDropped) {
  EXPECT_EQ(unstructured("=?utf-8?Q?Hello\r\n _there!?="), "Hello there!");
  EXPECT_EQ(unstructured("=?utf-8?B?VGhpcyBpcyB0aGUgb\r\n 3JpZ2luYWwgc3ViamVjdA==?="),
            "This is the original subject");
  EXPECT_EQ(unstructured("a\r\n b =?utf-8?Q?c?=\r\n d"), "a b c d");
}

std::vector<Address> addrs(std::string_view raw) {
  std::vector<Address> out;
  DecodeNotes n;
  parseAddressList(raw, out, &n);
  return out;
}

TEST(MimeAddresses, Mailboxes) {
  auto a = addrs(
      "\"Joe Q. Public\" <john.q.public@example.com>, Mary Smith <mary@x.test>, jdoe@one.test");
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(*a[0].name, "Joe Q. Public");
  EXPECT_EQ(*a[0].address, "john.q.public@example.com");
  EXPECT_EQ(*a[1].name, "Mary Smith");
  EXPECT_FALSE(a[2].name.has_value());
  EXPECT_EQ(*a[2].address, "jdoe@one.test");
  a = addrs("=?iso-8859-1?Q?J=FCrgen_Gro=DF?= <user796@example.co.uk>");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(*a[0].name, "Jürgen Groß");
  a = addrs("\"foo =?utf-8?q?bar?=\" <a@b.com>");
  EXPECT_EQ(*a[0].name, "foo bar");
  a = addrs("\"Smith, John\" <js@x.test>");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(*a[0].name, "Smith, John");
  a = addrs("jdoe@example.org (John Doe)");
  EXPECT_EQ(*a[0].name, "John Doe");
  EXPECT_EQ(*a[0].address, "jdoe@example.org");
  a = addrs("<@route.test,@r2.test:user@x.test>");
  EXPECT_EQ(*a[0].address, "user@x.test");
  a = addrs("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>");
  EXPECT_EQ(*a[0].address, "pete@silly.test");
  EXPECT_EQ(*a[0].name, "Pete");
}

TEST(MimeAddresses, Groups) {
  auto a = addrs("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, x@y.test");
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(*a[0].group, "A Group");
  EXPECT_EQ(*a[2].group, "A Group");
  EXPECT_FALSE(a[3].group.has_value());
  a = addrs("undisclosed-recipients:;");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(*a[0].group, "undisclosed-recipients");
  EXPECT_FALSE(a[0].address.has_value());
}

TEST(MimeAddresses, Utf8Addresses) {  // RFC 6532
  auto a = addrs("Jöran <jöran@exämple.test>");
  EXPECT_EQ(*a[0].address, "jöran@exämple.test");
}

// RFC 5322 4.5.4 (A.6.3): CFWS around the '@' and the dots of an obsolete msg-id.
TEST(MimeMessageIds, ObsoleteCommentsInside) {
  std::vector<std::string> ids;
  parseMessageIds("<1234   @   local(blah)  .machine .example>", ids);
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(ids[0], "1234@local.machine.example");
  ids.clear();
  parseMessageIds("<a@[1.2.(3)]>", ids);  // not a comment inside a domain literal
  EXPECT_EQ(ids.at(0), "a@[1.2.(3)]");
}

TEST(MimeMessageIds, ListsAndJunk) {
  std::vector<std::string> ids;
  EXPECT_TRUE(parseMessageIds("<1234@local.machine.example>\r\n <3456@example.net> ", ids));
  EXPECT_EQ(ids, (std::vector<std::string>{"1234@local.machine.example", "3456@example.net"}));
  ids.clear();
  EXPECT_FALSE(parseMessageIds("   malformed2@id.machine.example \t ", ids));
  EXPECT_EQ(ids, (std::vector<std::string>{"malformed2@id.machine.example"}));
  ids.clear();
  parseMessageIds("<a@b> (comment), <c@d>", ids);
  EXPECT_EQ(ids.size(), 2u);
}

std::string date(std::string_view raw) {
  DateTime dt;
  if (!parseDate(raw, &dt)) return "invalid";
  return formatRfc3339(dt);
}

TEST(MimeDates, Rfc5322AndObsolete) {
  EXPECT_EQ(date("Tue, 09 Jan 2024 02:31:35 +0900"), "2024-01-09T02:31:35+09:00");
  EXPECT_EQ(date("Fri, 21 Nov 1997 09:55:06 -0600"), "1997-11-21T09:55:06-06:00");
  EXPECT_EQ(date("21 Nov 97 09:55:06 GMT"), "1997-11-21T09:55:06+00:00");
  EXPECT_EQ(date("Wed, 11 Feb 98 11:51 CST"), "1998-02-11T11:51:00-06:00");
  EXPECT_EQ(date("Thu,\r\n 13\r\n   Feb\r\n 1969\r\n 23:32\r\n -0330 (Newfoundland Time)"),
            "1969-02-13T23:32:00-03:30");
  EXPECT_EQ(date("1 Jan 2016 00:00:00 -0000"), "2016-01-01T00:00:00-00:00");
  EXPECT_EQ(date("Mon, 1 Jan 2024 14:06:57 +0100 (CET)"), "2024-01-01T14:06:57+01:00");
  EXPECT_EQ(date("2003-07-01T10:52:37+02:00"), "2003-07-01T10:52:37+02:00");
  EXPECT_EQ(date("31 Feb 2024 10:00:00 +0000"), "invalid");
  EXPECT_EQ(date("not a date"), "invalid");
  EXPECT_EQ(date("29 Feb 2024 10:00:60 +0000"), "2024-02-29T10:00:60+00:00");
  EXPECT_EQ(date("Tue, 7 Apr 2026 10:00:00 +0000 GMT"), "2026-04-07T10:00:00+00:00");
  EXPECT_EQ(date("Tue, 7 Apr 2026 10:00:00 Z"), "2026-04-07T10:00:00+00:00");
  // RFC 5322 4.3 (A.6.3): CFWS around the colons of the time.
  EXPECT_EQ(date("Fri, 21\r\n Nov 1997 09(comment):   55  :  06 -0600"),
            "1997-11-21T09:55:06-06:00");
}

// RFC 5322 section 3.3: the zone is required, and the time is digits only. These used to
// parse (zone unknown, seconds 0) into a date that was not the sender's.
TEST(MimeDates, NoZoneOrJunkInTheTimeIsInvalid) {
  EXPECT_EQ(date("Tue, 7 Apr 2026 10:00:t x"), "invalid");
  EXPECT_EQ(date("Tue, 7 Apr 2026 10:00:00"), "invalid");
  EXPECT_EQ(date("Tue, 7 Apr 2026 10:00"), "invalid");
  EXPECT_EQ(date("Tue Apr  7 10:00:00 2026"), "invalid");  // asctime(): no zone
  EXPECT_EQ(date("Tue, 7 Apr 2026 10:00:00 in the morning +0000"), "invalid");
  // An unknown 3-5 letter zone is -0000 (RFC 5322 section 4.3), not junk.
  EXPECT_EQ(date("Thu, 10 Jul 1997 14:53:31 ZZZZ"), "1997-07-10T14:53:31-00:00");
  EXPECT_EQ(date("2026-04-07T10:00:00"), "invalid");
}

TEST(MimeSubjects, Normalize) {
  EXPECT_EQ(normalizeSubject("Re: Fwd: RE:  Hello   world"), "Hello world");
  EXPECT_EQ(normalizeSubject("[list] Re[2]: AW: topic (fwd)"), "topic");
  EXPECT_EQ(normalizeSubject("Re:"), "");
  EXPECT_EQ(normalizeSubject("Reply needed"), "Reply needed");
  EXPECT_EQ(normalizeSubject("[only-tag]"), "[only-tag]");
}

}  // namespace
}  // namespace mx::mime
