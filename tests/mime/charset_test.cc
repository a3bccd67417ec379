// tests/mime/charset_test.cc — charset conversion to UTF-8: the fast paths (UTF-8, US-ASCII,
// Latin-1 as windows-1252, UTF-7 per RFC 2152), iconv charsets with aliases, replacement of
// invalid input, and every charset glibc's iconv lists (`iconv -l`).
#include "mime/charset.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <set>
#include <string>

namespace mx::mime {
namespace {

std::string conv(std::string_view cs, std::string_view in, ConvertStatus* st = nullptr) {
  std::string out;
  ConvertStatus s = convertToUtf8(cs, in, out);
  if (st) *st = s;
  return out;
}

TEST(MimeCharset, Utf8ValidationAndReplacement) {
  EXPECT_TRUE(isValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x9A\x80"));
  EXPECT_FALSE(isValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(isValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(isValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(isValidUtf8("abc\xE2\x82"));       // truncated
  ConvertStatus st;
  EXPECT_EQ(conv("utf-8",
                 "a\xFF"
                 "b",
                 &st),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(st, ConvertStatus::kReplaced);
  EXPECT_EQ(conv("UTF8", "ok", &st), "ok");
  EXPECT_EQ(st, ConvertStatus::kOk);
  // Long ASCII runs go through the 16-byte fast path; the bad byte is still found.
  std::string longer(100, 'x');
  longer[77] = '\x80';
  EXPECT_EQ(validUtf8Prefix(longer), 77u);
}

TEST(MimeCharset, AsciiLabelWith8BitFallsBackToWindows1252) {
  ConvertStatus st;
  EXPECT_EQ(conv("us-ascii", "caf\xE9", &st), "caf\xC3\xA9");
  EXPECT_EQ(st, ConvertStatus::kFallback);
  EXPECT_EQ(conv("", "caf\xC3\xA9", &st), "caf\xC3\xA9");  // valid UTF-8 kept
  EXPECT_EQ(st, ConvertStatus::kOk);
}

TEST(MimeCharset, Latin1IsWindows1252) {
  EXPECT_EQ(conv("ISO-8859-1", "\x93quoted\x94 \xE9"), "\xE2\x80\x9Cquoted\xE2\x80\x9D \xC3\xA9");
  EXPECT_EQ(conv("windows-1252", "\x80"), "\xE2\x82\xAC");
  EXPECT_EQ(conv("\"latin1\"", "\xFF"), "\xC3\xBF");
}

TEST(MimeCharset, IconvCharsetsAndAliases) {
  EXPECT_EQ(conv("koi8-r", "\xF0\xD2\xC9\xD7\xC5\xD4"), "Привет");
  EXPECT_EQ(conv("shift_jis", "\x93\xFA\x96\x7B"), "日本");
  EXPECT_EQ(conv("x-sjis", "\x93\xFA\x96\x7B"), "日本");
  EXPECT_EQ(conv("iso-2022-jp", "\x1B$BF|K\\\x1B(B"), "日本");
  EXPECT_EQ(conv("gb2312", "\xD6\xD0\xCE\xC4"), "中文");
  EXPECT_EQ(conv("ks_c_5601-1987", "\xC7\xD1\xB1\xDB"), "한글");
  EXPECT_EQ(conv("big5", "\xA4\xA4\xA4\xE5"), "中文");
  EXPECT_EQ(conv("iso-8859-8-i", "\xF9\xEC\xE5\xED"), "שלום");
  EXPECT_EQ(conv("utf-16le", std::string("h\0i\0", 4)), "hi");
  EXPECT_EQ(conv("utf-16", std::string("\xFF\xFEh\0i\0", 6)), "hi");
  EXPECT_EQ(conv("ISO-8859-2", "\xB1"), "ą");
  EXPECT_EQ(conv("utf-8*en", "x"), "x");  // RFC 2231 language suffix
}

TEST(MimeCharset, InvalidInputBecomesReplacementCharacter) {
  ConvertStatus st;
  std::string out = conv("shift_jis", "a\x81", &st);  // truncated double-byte character
  EXPECT_EQ(st, ConvertStatus::kReplaced);
  EXPECT_TRUE(isValidUtf8(out));
  EXPECT_EQ(out.substr(0, 1), "a");
  EXPECT_NE(out.find("\xEF\xBF\xBD"), std::string::npos);
}

TEST(MimeCharset, UnknownCharsetFallsBack) {
  ConvertStatus st;
  EXPECT_EQ(conv("x-no-such-charset", "caf\xC3\xA9", &st), "caf\xC3\xA9");
  EXPECT_EQ(st, ConvertStatus::kUnknownCharset);
  EXPECT_EQ(conv("bogus charset!", "caf\xE9", &st), "caf\xC3\xA9");
  EXPECT_EQ(st, ConvertStatus::kUnknownCharset);
  // iconv options must not be selectable by a message.
  EXPECT_FALSE(isKnownCharset("UTF-8//IGNORE"));
  EXPECT_FALSE(isKnownCharset(std::string(100, 'A')));
}

TEST(MimeCharset, Utf7) {
  EXPECT_EQ(conv("utf-7", "Hi Mom -+Jjo--!"), "Hi Mom -\xE2\x98\xBA-!");
  EXPECT_EQ(conv("UTF-7", "+ZeVnLIqe-"), "日本語");
  EXPECT_EQ(conv("utf-7", "A+ImIDkQ."), "A\xE2\x89\xA2\xCE\x91.");
  EXPECT_EQ(conv("utf-7", "1 +- 1"), "1 + 1");
  EXPECT_EQ(conv("utf-7", "+2D3eAA-"), "\xF0\x9F\x98\x80");  // surrogate pair U+1F600
  ConvertStatus st;
  std::string bad = conv("utf-7", "+2D0-x", &st);  // lone high surrogate
  EXPECT_EQ(st, ConvertStatus::kReplaced);
  EXPECT_TRUE(isValidUtf8(bad));
}

TEST(MimeCharset, ByteOrderMarkDropped) { EXPECT_EQ(conv("utf-8", "\xEF\xBB\xBFhello"), "hello"); }

// Every charset glibc's iconv knows: ASCII text converts (exactly, for ASCII-compatible
// ones), random bytes never produce invalid UTF-8.
TEST(MimeCharset, EveryGlibcCharset) {
  FILE* p = popen("iconv -l 2>/dev/null", "r");
  if (!p) GTEST_SKIP() << "iconv(1) not available to list charsets";
  std::string list;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) list.append(buf, n);
  pclose(p);
  std::set<std::string> names;
  std::string cur;
  for (char c : list + ",") {
    if (c == ',' || c == ' ' || c == '\n') {
      while (cur.size() >= 2 && cur.compare(cur.size() - 2, 2, "//") == 0)
        cur.resize(cur.size() - 2);
      if (!cur.empty()) names.insert(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (names.size() < 100) GTEST_SKIP() << "iconv -l listed only " << names.size();
  std::mt19937 rng(7);
  size_t known = 0, ascii_exact = 0;
  for (const auto& name : names) {
    if (isKnownCharset(name)) ++known;
    std::string out;
    convertToUtf8(name, "Hello, World 123", out);
    ASSERT_TRUE(isValidUtf8(out)) << name;
    if (out == "Hello, World 123") ++ascii_exact;
    std::string junk(64, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    out.clear();
    convertToUtf8(name, junk, out);
    ASSERT_TRUE(isValidUtf8(out)) << name;
  }
  std::printf("[ charsets ] %zu names listed, %zu open in iconv, %zu map ASCII to itself\n",
              names.size(), known, ascii_exact);
  EXPECT_GE(known, names.size() * 95 / 100);
}

}  // namespace
}  // namespace mx::mime
