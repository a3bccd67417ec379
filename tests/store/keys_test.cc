// Tests for store/keys: the key layout, tenant sanitising, and sanitizeFilename — both
// hand-picked hostile names and a randomised property check that no input can produce a
// path, an invalid key segment, invalid UTF-8 or an over-long name.
#include "store/keys.h"

#include <gtest/gtest.h>

#include <random>

#include "store/blob_store.h"

namespace mx::store {
namespace {

bool validUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

void checkSafe(std::string_view in, const std::string& out, size_t max = kMaxFilenameBytes) {
  SCOPED_TRACE(testing::Message() << "input: " << testing::PrintToString(std::string(in)));
  ASSERT_FALSE(out.empty());
  EXPECT_LE(out.size(), max);
  EXPECT_NE(out, ".");
  EXPECT_NE(out, "..");
  EXPECT_NE(out.front(), '.');
  EXPECT_NE(out.front(), ' ');
  EXPECT_NE(out.back(), ' ');
  EXPECT_NE(out.back(), '.');
  EXPECT_EQ(out.find('/'), std::string::npos);
  EXPECT_EQ(out.find('\\'), std::string::npos);
  for (char c : out) {
    auto u = static_cast<unsigned char>(c);
    EXPECT_FALSE(u < 0x20 || u == 0x7F) << "control byte " << int(u);
  }
  EXPECT_TRUE(validUtf8(out));
  EXPECT_EQ(out.find("\xE2\x80\xAE"), std::string::npos);  // U+202E RLO
  EXPECT_EQ(out.find("\xC2\x85"), std::string::npos);      // U+0085 NEL (C1)
  EXPECT_TRUE(validateKey(out).ok()) << out;
  EXPECT_TRUE(validateKey("t/attachments/x/1-" + out).ok()) << out;
}

TEST(Keys, Layout) {
  KeyLayout k;
  MessageId id(1700000000000ull, 1, 2);
  WallTime t{std::chrono::milliseconds(1700000000000ll)};  // 2023-11-14T22:13:20Z
  EXPECT_EQ(k.raw("acme", t, id), "acme/raw/2023/11/14/" + id.toString() + ".eml");
  EXPECT_EQ(k.parsed("acme", t, id), "acme/parsed/2023/11/14/" + id.toString() + ".json");
  EXPECT_EQ(k.attachment("acme", id, 3, "../../etc/passwd"), "acme/attachments/" + id.toString() + "/3-passwd");
  KeyLayout p("mail//prod/");
  EXPECT_EQ(p.prefix(), "mail/prod/");
  EXPECT_EQ(p.raw("acme", t, id), "mail/prod/acme/raw/2023/11/14/" + id.toString() + ".eml");
  KeyLayout bad("../x");
  EXPECT_EQ(bad.prefix(), "_/x/");
  EXPECT_TRUE(validateKey(bad.raw("..", t, id)).ok());
}

TEST(Keys, ParseRawIsTheInverseOfRaw) {
  MessageId id(1700000000000ull, 7, 9);
  WallTime t{std::chrono::milliseconds(1700000000000ll)};
  for (const char* prefix : {"", "mail/prod/"}) {
    KeyLayout k(prefix);
    auto p = k.parseRaw(k.raw("acme", t, id));
    ASSERT_TRUE(p.has_value()) << prefix;
    EXPECT_EQ(p->tenant, "acme");
    EXPECT_EQ(p->id, id);
    EXPECT_EQ(p->received_at, t);
    EXPECT_EQ(k.parsed(p->tenant, p->received_at, p->id), k.parsed("acme", t, id));
  }
  // Received a moment before midnight, id made a moment after: the key's date wins.
  KeyLayout k;
  MessageId late(1700006400000ull + 5, 1, 1);  // 2023-11-15T00:00:00.005Z
  WallTime before_midnight{std::chrono::milliseconds(1700006399999ll)};
  auto p = k.parseRaw(k.raw("acme", before_midnight, late));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(k.parsed(p->tenant, p->received_at, p->id), k.parsed("acme", before_midnight, late));
  // Anything else is not ours.
  const std::string ids = id.toString();
  for (const std::string& bad :
       {std::string("acme/raw/2023/11/14/") + ids + ".json", std::string("acme/parsed/2023/11/14/") + ids + ".eml",
        std::string("acme/raw/2023/11/14/") + ids.substr(1) + ".eml",
        std::string("acme/raw/2023-11-14/") + ids + ".eml", std::string("/raw/2023/11/14/") + ids + ".eml",
        std::string("a b/raw/2023/11/14/") + ids + ".eml", std::string("acme/raw/2023/11/14/") + ids + ".eml.x",
        std::string("x/acme/raw/2023/11/14/") + ids + ".eml", std::string("acme/raw/2023/13/14/") + ids + ".eml",
        std::string("acme/raw/2023/11/14/") + "UU" + ids.substr(2) + ".eml", std::string("inbound/0123456789abcdef"),
        std::string("")}) {
    EXPECT_FALSE(k.parseRaw(bad).has_value()) << bad;
  }
  EXPECT_FALSE(KeyLayout("mail/").parseRaw(std::string("acme/raw/2023/11/14/") + ids + ".eml").has_value());
}

TEST(Keys, SanitizeTenant) {
  EXPECT_EQ(sanitizeTenant("acme"), "acme");
  EXPECT_EQ(sanitizeTenant("Acme.Corp-1_x"), "Acme.Corp-1_x");
  EXPECT_EQ(sanitizeTenant(""), "default");
  EXPECT_EQ(sanitizeTenant(".."), "default");
  EXPECT_EQ(sanitizeTenant("../etc"), "_etc");
  EXPECT_EQ(sanitizeTenant("a/b"), "a_b");
  EXPECT_EQ(sanitizeTenant(std::string("a\0b", 3)), "a_b");
  EXPECT_EQ(sanitizeTenant("\xC3\xA9t\xC3\xA9"), "__t__");
  EXPECT_EQ(sanitizeTenant(std::string(200, 'x')).size(), kMaxTenantBytes);
}

TEST(Keys, SanitizeFilenameCases) {
  struct Case {
    std::string in, out;
  };
  std::vector<Case> cases = {
      {"report.pdf", "report.pdf"},
      {"../../etc/passwd", "passwd"},
      {"C:\\Users\\bob\\evil.exe", "evil.exe"},
      {"/abs/path/file.txt", "file.txt"},
      {"dir/", "attachment"},
      {"", "attachment"},
      {".", "attachment"},
      {"..", "attachment"},
      {"...", "attachment"},
      {".bashrc", "bashrc"},
      {"  . hidden.txt  ", "hidden.txt"},
      {"name.", "name"},
      {"a:b*c?d\"e<f>g|h.txt", "a_b_c_d_e_f_g_h.txt"},
      {std::string("nul\0byte.txt", 12), "nulbyte.txt"},
      {"tab\there\r\n.txt", "tabhere.txt"},
      {"del\x7f.txt", "del.txt"},
      {"c1\xC2\x85\xC2\x9F.txt", "c1.txt"},
      {"invoice\xE2\x80\xAE" "fdp.exe", "invoicefdp.exe"},     // RLO spoofing
      {"zero\xE2\x80\x8Bwidth.txt", "zerowidth.txt"},
      {"bom\xEF\xBB\xBF.txt", "bom.txt"},
      {"a\xE2\x88\x95" "b.txt", "a_b.txt"},                    // U+2215 division slash
      {"a\xEF\xBC\x8F" "b.txt", "a_b.txt"},                    // U+FF0F fullwidth solidus
      {"a\xEF\xBC\xBC" "b.txt", "a_b.txt"},                    // U+FF3C fullwidth backslash
      {"bad\xFF\xFEutf8.txt", "bad__utf8.txt"},
      {"overlong\xC0\xAF.txt", "overlong__.txt"},
      {"surrogate\xED\xA0\x80.txt", "surrogate___.txt"},
      {"h\xC3\xA9llo w\xC3\xB6rld.doc", "h\xC3\xA9llo w\xC3\xB6rld.doc"},
      {"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E.pdf", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E.pdf"},
      {"\xD0\xBE\xD1\x82\xD1\x87\xD0\xB5\xD1\x82.xlsx", "\xD0\xBE\xD1\x82\xD1\x87\xD0\xB5\xD1\x82.xlsx"},
      {"emoji \xF0\x9F\x98\x80.png", "emoji \xF0\x9F\x98\x80.png"},
      {"CON", "_CON"},
      {"con.txt", "_con.txt"},
      {"LPT1.log", "_LPT1.log"},
      {"COM0.txt", "COM0.txt"},
      {"CONSOLE.txt", "CONSOLE.txt"},
  };
  for (const auto& c : cases) {
    std::string got = sanitizeFilename(c.in);
    EXPECT_EQ(got, c.out) << testing::PrintToString(c.in);
    checkSafe(c.in, got);
  }
}

TEST(Keys, SanitizeFilenameLengthKeepsExtension) {
  std::string longName = std::string(300, 'a') + ".pdf";
  std::string got = sanitizeFilename(longName);
  EXPECT_LE(got.size(), kMaxFilenameBytes);
  EXPECT_EQ(got.substr(got.size() - 4), ".pdf");
  checkSafe(longName, got);
  // Multi-byte characters are never cut in half.
  std::string cjk;
  for (int i = 0; i < 100; ++i) cjk += "\xE6\x97\xA5";
  got = sanitizeFilename(cjk + ".docx");
  EXPECT_EQ(got.substr(got.size() - 5), ".docx");
  checkSafe(cjk, got);
  // An "extension" that is too long is not kept as one.
  got = sanitizeFilename("x." + std::string(200, 'e'));
  EXPECT_LE(got.size(), kMaxFilenameBytes);
  checkSafe("x.eee", got);
  // Exactly at the limit is kept; one more is cut.
  std::string exact = std::string(96, 'b') + ".txt";
  EXPECT_EQ(sanitizeFilename(exact), exact);
  got = sanitizeFilename("b" + exact);
  EXPECT_EQ(got.size(), kMaxFilenameBytes);
  EXPECT_EQ(got.substr(got.size() - 4), ".txt");
  // A cut that leaves trailing spaces/dots trims them.
  got = sanitizeFilename("a" + std::string(200, ' ') + ".pdf");
  EXPECT_EQ(got, "a.pdf");
  // A device name revealed by the cut still gets its prefix.
  got = sanitizeFilename("CON" + std::string(150, ' ') + "x.pdf");
  EXPECT_EQ(got, "_CON.pdf");
  // Small limits are honoured (with a floor of 16).
  for (size_t max : {0u, 5u, 16u, 17u, 30u}) checkSafe("small", sanitizeFilename(longName, max), std::max<size_t>(max, 16));
}

TEST(Keys, SanitizeFilenamePropertyRandomBytes) {
  std::mt19937_64 rng(12345);
  const std::vector<std::string> pieces = {
      "/", "\\", "..", ".", " ", "\0", "\r\n", "\x7f", "\xC2\x85", "\xE2\x80\xAE", "\xEF\xBB\xBF",
      "\xEF\xBC\x8F", "\xFF", "\xC0", "\xE6\x97\xA5", "\xF0\x9F\x98\x80", "a", "Z", "9", ".pdf", ":",
      "CON", "nul", "\xED\xA0\x80", "\xF4\x90\x80\x80", "%2e%2e%2f", "~", "-"};
  for (int iter = 0; iter < 20000; ++iter) {
    std::string in;
    size_t n = rng() % 40;
    for (size_t i = 0; i < n; ++i) {
      if (rng() % 3 == 0) {
        in.push_back(static_cast<char>(rng()));
      } else {
        in += pieces[rng() % pieces.size()];
      }
    }
    if (iter % 50 == 0) in += std::string(rng() % 400, 'x') + ".tar.gz";
    size_t max = iter % 7 == 0 ? 16 + rng() % 100 : kMaxFilenameBytes;
    std::string out = sanitizeFilename(in, max);
    checkSafe(in, out, max);
    if (HasFailure()) return;
    // Idempotent: a sanitised name is already safe.
    EXPECT_EQ(sanitizeFilename(out, max), out) << testing::PrintToString(in);
  }
}

TEST(Keys, ValidateKey) {
  EXPECT_TRUE(validateKey("a").ok());
  EXPECT_TRUE(validateKey("acme/raw/2023/11/14/x.eml").ok());
  EXPECT_TRUE(validateKey("a/b c/\xC3\xA9").ok());
  for (std::string bad : {std::string(""), std::string("/a"), std::string("a/"), std::string("a//b"),
                          std::string(".."), std::string("a/../b"), std::string("a/./b"), std::string("./a"),
                          std::string("a/.hidden"), std::string("a\\b"), std::string("a\nb"),
                          std::string("a\0b", 3), std::string("a\x7f"), std::string(1025, 'a'),
                          std::string(256, 'a')}) {
    EXPECT_FALSE(validateKey(bad).ok()) << testing::PrintToString(bad);
  }
  EXPECT_TRUE(validateKey(std::string(255, 'a')).ok());
}

}  // namespace
}  // namespace mx::store
