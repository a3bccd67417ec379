// tests/smtp/address_test.cc — the Path parser against RFC 5321 section 4.1.2 / 4.1.3,
// the 4.5.3.1 length limits (walked across each boundary) and RFC 6531 UTF-8.
#include "smtp/address.h"

#include <string>

#include <gtest/gtest.h>

namespace mx::smtp {
namespace {

PathRules mailRules(bool utf8 = false) {
  PathRules r;
  r.allow_null = true;
  r.allow_utf8 = utf8;
  return r;
}

PathRules rcptRules(bool utf8 = false) {
  PathRules r;
  r.allow_postmaster = true;
  r.allow_utf8 = utf8;
  return r;
}

TEST(Address, Simple) {
  const ParsedPath p = parsePath("<user@example.com>", mailRules());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.mailbox, "user@example.com");
  EXPECT_EQ(p.local_part, "user");
  EXPECT_EQ(p.domain, "example.com");
  EXPECT_EQ(p.rest, "");
  EXPECT_FALSE(p.null_path);
}

TEST(Address, RestIsParameters) {
  const ParsedPath p = parsePath("<a@b.c> SIZE=100 BODY=8BITMIME", mailRules());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.rest, " SIZE=100 BODY=8BITMIME");
}

TEST(Address, NullReversePath) {
  const ParsedPath p = parsePath("<>", mailRules());
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p.null_path);
  EXPECT_EQ(p.mailbox, "");
  EXPECT_EQ(parsePath("<>", rcptRules()).error, PathError::kSyntax);
  EXPECT_TRUE(parsePath("<> SIZE=1", mailRules()).ok());
}

TEST(Address, Postmaster) {
  for (const char* s : {"<postmaster>", "<Postmaster>", "<POSTMASTER>"}) {
    const ParsedPath p = parsePath(s, rcptRules());
    ASSERT_TRUE(p.ok()) << s;
    EXPECT_TRUE(p.postmaster);
    EXPECT_EQ(p.mailbox, std::string(s).substr(1, 10));
  }
  EXPECT_EQ(parsePath("<postmaster>", mailRules()).error, PathError::kSyntax);
  EXPECT_EQ(parsePath("<webmaster>", rcptRules()).error, PathError::kSyntax);
  EXPECT_EQ(parsePath("<@a.b:postmaster>", rcptRules()).error, PathError::kSyntax);
  const ParsedPath full = parsePath("<postmaster@example.com>", rcptRules());
  ASSERT_TRUE(full.ok());
  EXPECT_FALSE(full.postmaster);
}

TEST(Address, QuotedLocalPart) {
  ParsedPath p = parsePath("<\"john doe\"@example.com>", mailRules());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.mailbox, "\"john doe\"@example.com");
  EXPECT_EQ(p.local_part, "\"john doe\"");

  p = parsePath(R"(<"a\"b\\c"@example.com>)", mailRules());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.local_part, R"("a\"b\\c")");

  // A '>' and '@' inside quotes do not end anything.
  p = parsePath(R"(<"a>b@c"@example.com> X=1)", mailRules());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.domain, "example.com");
  EXPECT_EQ(p.rest, " X=1");

  EXPECT_TRUE(parsePath("<\"\"@example.com>", mailRules()).ok());  // *QcontentSMTP
  EXPECT_FALSE(parsePath("<\"unterminated@example.com>", mailRules()).ok());
  EXPECT_FALSE(parsePath(std::string("<\"a\tb\"@example.com>"), mailRules()).ok());  // TAB
  EXPECT_FALSE(parsePath(std::string("<\"a\\\x01\"@example.com>"), mailRules()).ok());
  EXPECT_FALSE(parsePath("<\"a\"b@example.com>", mailRules()).ok());
}

TEST(Address, DotString) {
  EXPECT_TRUE(parsePath("<first.last@example.com>", mailRules()).ok());
  EXPECT_TRUE(parsePath("<a+tag!#$%&'*/=?^_`{|}~-@example.com>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<.a@example.com>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a.@example.com>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a..b@example.com>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a b@example.com>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a(b)@example.com>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<@example.com>", mailRules()).ok());
}

TEST(Address, Domains) {
  EXPECT_TRUE(parsePath("<a@x>", mailRules()).ok());
  EXPECT_TRUE(parsePath("<a@a-b.c0>", mailRules()).ok());
  EXPECT_TRUE(parsePath("<a@1.2>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a@-a.com>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a@a-.com>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a@a..com>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a@a.com.>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a@a_b.com>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a@>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a@b", mailRules()).ok());
  EXPECT_FALSE(parsePath("a@b", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a>", mailRules()).ok());
  EXPECT_FALSE(parsePath("", mailRules()).ok());
  EXPECT_FALSE(parsePath("<", mailRules()).ok());
}

TEST(Address, AddressLiterals) {
  ParsedPath p = parsePath("<a@[192.0.2.1]>", mailRules());
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p.address_literal);
  EXPECT_EQ(p.domain, "[192.0.2.1]");
  EXPECT_TRUE(parsePath("<a@[0.0.0.0]>", mailRules()).ok());
  EXPECT_TRUE(parsePath("<a@[255.255.255.255]>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a@[256.1.1.1]>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a@[1.2.3]>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a@[1.2.3.4.5]>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a@[1.2.3.0004]>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a@[]>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a@[1.2.3.4>", mailRules()).ok());

  for (const char* ok : {"[IPv6:2001:db8::1]", "[IPv6:::1]", "[IPv6:::]", "[ipv6:fe80::]",
                         "[IPv6:2001:db8:0:0:0:0:0:1]", "[IPv6:::ffff:192.0.2.1]",
                         "[IPv6:1:2:3:4:5:6:192.0.2.1]", "[IPv6:1:2:3::6:7:8]",
                         "[x-tag:anything]"}) {
    EXPECT_TRUE(parsePath(std::string("<a@") + ok + ">", mailRules()).ok()) << ok;
  }
  for (const char* bad : {"[IPv6:1:2:3:4:5:6:7]", "[IPv6:1:2:3:4:5:6:7:8:9]", "[IPv6:1::2::3]",
                          "[IPv6:12345::]", "[IPv6:g::]", "[IPv6:1:2:3:4::5:6:7]",
                          "[IPv6:1:::2]", "[IPv6:192.0.2.1::]", "[IPv6:]", "[:x]", "[tag:]",
                          "[tag-:x]", "[tag:a[b]", "[tag:a\\b]"}) {
    EXPECT_FALSE(parsePath(std::string("<a@") + bad + ">", mailRules()).ok()) << bad;
  }
}

TEST(Address, SourceRouteIsStripped) {
  const ParsedPath p = parsePath("<@a.example,@b.example:user@c.example>", rcptRules());
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p.source_route);
  EXPECT_EQ(p.mailbox, "user@c.example");
  EXPECT_TRUE(parsePath("<@a:u@b>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<@a u@b>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<@a,u@b>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<@:u@b>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<@a,:u@b>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<@[1.2.3.4]:u@b>", mailRules()).ok());  // At-domain is a Domain
}

TEST(Address, LocalPartLengthBoundary) {
  // RFC 5321 4.5.3.1.1: 64 octets.
  for (size_t n : {63u, 64u, 65u}) {
    const std::string path = "<" + std::string(n, 'a') + "@example.com>";
    const ParsedPath p = parsePath(path, mailRules());
    EXPECT_EQ(p.error, n <= 64 ? PathError::kNone : PathError::kTooLong) << n;
  }
  // Quotes count: "..." of 64 octets in total.
  EXPECT_TRUE(parsePath("<\"" + std::string(62, 'a') + "\"@x.y>", mailRules()).ok());
  EXPECT_EQ(parsePath("<\"" + std::string(63, 'a') + "\"@x.y>", mailRules()).error, PathError::kTooLong);
}

std::string domainOfLength(size_t n) {
  // Labels of 50 octets joined by dots, trimmed to exactly n.
  std::string d;
  while (d.size() < n) {
    if (!d.empty()) d += '.';
    d += std::string(50, 'd');
  }
  d.resize(n);
  if (d.back() == '.') d.back() = 'e';
  return d;
}

TEST(Address, DomainLengthBoundary) {
  // RFC 5321 4.5.3.1.2 limits a domain to 255 octets, but inside a path the 256-octet path
  // limit binds first: "<a@" + domain + ">" fits only up to a 252-octet domain.
  for (size_t n : {251u, 252u, 253u, 255u, 256u}) {
    const std::string d = domainOfLength(n);
    ASSERT_EQ(d.size(), n);
    EXPECT_TRUE(isValidDomain(d, false));
    const ParsedPath p = parsePath("<a@" + d + ">", mailRules());
    EXPECT_EQ(p.error, n <= 252 ? PathError::kNone : PathError::kTooLong) << n;
  }
}

TEST(Address, PathLengthBoundary) {
  // RFC 5321 4.5.3.1.3: 256 octets including the punctuation. "<" + 64 + "@" + d + ">".
  for (size_t total : {255u, 256u, 257u}) {
    const size_t dlen = total - 64 - 3;
    const std::string path = "<" + std::string(64, 'l') + "@" + domainOfLength(dlen) + ">";
    ASSERT_EQ(path.size(), total);
    const ParsedPath p = parsePath(path, mailRules());
    EXPECT_EQ(p.error, total <= 256 ? PathError::kNone : PathError::kTooLong) << total;
  }
  // A long source route counts towards the path.
  const std::string route = "<@" + domainOfLength(200) + ":" + std::string(20, 'u') + "@" +
                            domainOfLength(40) + ">";
  EXPECT_EQ(parsePath(route, mailRules()).error, PathError::kTooLong);
}

TEST(Address, Utf8NeedsSmtputf8) {
  const std::string addr = "<j\xC3\xB6rg@b\xC3\xBC" "cher.example>";
  EXPECT_EQ(parsePath(addr, mailRules(false)).error, PathError::kNonAscii);
  const ParsedPath p = parsePath(addr, mailRules(true));
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p.non_ascii);
  // Quoted UTF-8 too.
  EXPECT_TRUE(parsePath("<\"\xE2\x82\xAC uro\"@x.y>", mailRules(true)).ok());
  // Malformed UTF-8 is a syntax error either way.
  for (const char* bad : {"<\xC3@x.y>", "<\xC0\xAF@x.y>", "<\xED\xA0\x80@x.y>", "<\xF4\x90\x80\x80@x.y>",
                          "<a@\xFF.y>", "<\"\x80\"@x.y>"}) {
    EXPECT_EQ(parsePath(bad, mailRules(true)).error, PathError::kSyntax) << bad;
    EXPECT_EQ(parsePath(bad, mailRules(false)).error, PathError::kSyntax) << bad;
  }
  // No UTF-8 in address literals.
  EXPECT_FALSE(parsePath("<a@[tag:\xC3\xA9]>", mailRules(true)).ok());
}

TEST(Address, ControlCharactersAndNul) {
  EXPECT_FALSE(parsePath(std::string("<a\0b@x.y>", 10), mailRules()).ok());
  EXPECT_FALSE(parsePath("<a\rb@x.y>", mailRules()).ok());
  EXPECT_FALSE(parsePath("<a@x.y\n>", mailRules()).ok());
}

}  // namespace
}  // namespace mx::smtp
