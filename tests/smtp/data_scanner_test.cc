// tests/smtp/data_scanner_test.cc — the DATA decoder: RFC 5321 4.1.1.4 end of data,
// 4.5.2 transparency, 2.3.8 bare CR (flagged) and bare LF (normalised to CR LF), the line
// bound, and the SMTP smuggling payloads of SEC Consult (2023), each at every split point.
#include "smtp/data_scanner.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace mx::smtp {
namespace {

struct ScanResult {
  bool done = false;
  size_t consumed = 0;
  std::string body;
  size_t segments = 0;
  bool bare_cr = false;
  bool bare_lf = false;
  bool long_line = false;
};

// Feeds `in` in pieces of `chunk` octets (0 = whole), stopping at the end of data.
ScanResult scanAll(const std::string& in, size_t chunk = 0, uint64_t max_line = 1000) {
  DataScanner s;
  s.reset(max_line);
  ScanResult r;
  const size_t step = chunk == 0 ? std::max<size_t>(in.size(), 1) : chunk;
  for (size_t off = 0; off < in.size() && !s.done(); off += step) {
    const std::string_view piece = std::string_view(in).substr(off, step);
    const size_t used = s.scan(piece, [&](const char* p, size_t n) {
      r.body.append(p, n);
      ++r.segments;
    });
    r.consumed += used;
    if (used < piece.size()) {
      EXPECT_TRUE(s.done());
    }
  }
  r.done = s.done();
  r.bare_cr = s.sawBareCr();
  r.bare_lf = s.sawBareLf();
  r.long_line = s.sawLongLine();
  return r;
}

// The result must not depend on how the input is split.
ScanResult scanEverySplit(const std::string& in, uint64_t max_line = 1000) {
  const ScanResult whole = scanAll(in, 0, max_line);
  for (size_t k = 1; k <= in.size(); ++k) {
    const ScanResult r = scanAll(in, k, max_line);
    EXPECT_EQ(r.done, whole.done) << "chunk " << k;
    EXPECT_EQ(r.consumed, whole.consumed) << "chunk " << k;
    EXPECT_EQ(r.body, whole.body) << "chunk " << k;
    EXPECT_EQ(r.bare_cr, whole.bare_cr) << "chunk " << k;
    EXPECT_EQ(r.bare_lf, whole.bare_lf) << "chunk " << k;
    EXPECT_EQ(r.long_line, whole.long_line) << "chunk " << k;
  }
  return whole;
}

TEST(DataScanner, SimpleMessage) {
  const ScanResult r = scanEverySplit("Subject: x\r\n\r\nbody\r\n.\r\nNEXT");
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.body, "Subject: x\r\n\r\nbody\r\n");
  EXPECT_EQ(r.consumed, 23u);  // NEXT is left alone
  EXPECT_FALSE(r.bare_cr || r.bare_lf || r.long_line);
}

TEST(DataScanner, EmptyMessage) {
  const ScanResult r = scanEverySplit(".\r\n");
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.consumed, 3u);
}

TEST(DataScanner, EmptyLineMessage) {
  const ScanResult r = scanEverySplit("\r\n.\r\n");
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.body, "\r\n");
}

TEST(DataScanner, DotUnstuffing) {
  // RFC 5321 4.5.2: the first dot of a line with more characters is removed.
  const ScanResult r = scanEverySplit("..\r\n...x\r\n.a.b\r\nx.y\r\n..\r\n.\r\n");
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.body, ".\r\n..x\r\na.b\r\nx.y\r\n.\r\n");
  EXPECT_FALSE(r.bare_cr || r.bare_lf);
}

TEST(DataScanner, NoEndWithoutCrlfDotCrlf) {
  const ScanResult r = scanEverySplit("abc\r\n.\rx\r\n. \r\n");
  EXPECT_FALSE(r.done);
}

TEST(DataScanner, SmugglingPayloadsAreNotTerminators) {
  // Each of these appears after a first line; none may end the data, and each leaves a
  // bare CR or LF on record. The real end follows. What is handed out has bare LFs as
  // CR LF and keeps every dot that does not follow CR LF.
  struct Case {
    const char* trick;
    const char* stored;
  };
  for (const Case& c : {Case{"\n.\n", "\r\n.\r\n"}, Case{"\r.\r", "\r.\r"}, Case{"\r\n.\n", "\r\n.\r\n"},
                        Case{"\n.\r\n", "\r\n.\r\n"}, Case{"\r.\r\n", "\r.\r\n"}, Case{"\r\n.\r", "\r\n\r"},
                        Case{"\n.\r", "\r\n.\r"}, Case{"\r\n.\rMAIL FROM:<x@y>\r\n", "\r\n\rMAIL FROM:<x@y>\r\n"}}) {
    const std::string in = std::string("Subject: s\r\n\r\nhi") + c.trick +
                           "MAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nx\r\n.\r\n";
    const ScanResult r = scanEverySplit(in);
    EXPECT_TRUE(r.done) << c.trick;
    EXPECT_EQ(r.consumed, in.size()) << c.trick;
    EXPECT_TRUE(r.bare_cr || r.bare_lf) << c.trick;
    EXPECT_EQ(r.body, std::string("Subject: s\r\n\r\nhi") + c.stored +
                          "MAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nx\r\n")
        << c.trick;
  }
}

TEST(DataScanner, BareLfIsALineEndStoredAsCrLf) {
  const ScanResult r = scanEverySplit("a\nb\r\n\n\nc\n.\r\n");
  EXPECT_FALSE(r.done);  // "\n.\r\n" is not the end
  EXPECT_EQ(r.body, "a\r\nb\r\n\r\n\r\nc\r\n.\r\n");
  EXPECT_TRUE(r.bare_lf);
  EXPECT_FALSE(r.bare_cr);
  // The line after a "\n.\r\n" data line starts after CR LF: the real end.
  const ScanResult e = scanEverySplit("x\n.\r\n.\r\nNEXT");
  EXPECT_TRUE(e.done);
  EXPECT_EQ(e.body, "x\r\n.\r\n");
  EXPECT_EQ(e.consumed, 8u);
}

TEST(DataScanner, NoTransparencyAfterABareLf) {
  // The dot after a bare LF is data: not removed, never a terminator.
  EXPECT_EQ(scanEverySplit("x\n..y\r\n..z\r\n.\r\n").body, "x\r\n..y\r\n.z\r\n");
  EXPECT_EQ(scanEverySplit("x\n.\n.\r\n.\r\n").body, "x\r\n.\r\n.\r\n");
  // A lone dot after CR LF ended by a bare LF: no other characters, so it stays.
  EXPECT_EQ(scanEverySplit("a\r\n.\nb\r\n.\r\n").body, "a\r\n.\r\nb\r\n");
  EXPECT_EQ(scanEverySplit(".\n.\r\n").body, ".\r\n.\r\n");
  EXPECT_FALSE(scanEverySplit(".\n.\r\n").done);
  // A dot then more characters after CR LF is a transparency dot, whatever ends the line.
  EXPECT_EQ(scanEverySplit("a\r\n.x\n.\r\n").body, "a\r\nx\r\n.\r\n");
}

TEST(DataScanner, LongLineStopsTheOutputAtTheBound) {
  // The output is the same at every split: the lines before, then the first `bound`
  // octets of the long line, then nothing; the scan still finds the end.
  ScanResult r = scanEverySplit("ok\r\n0123456789abc\r\nmore\r\n.\r\nNEXT", 10);
  EXPECT_TRUE(r.done);
  EXPECT_TRUE(r.long_line);
  EXPECT_EQ(r.body, "ok\r\n0123456789");
  EXPECT_EQ(r.consumed, 28u);
  // Bound - 1, bound, bound + 1 octets with CR LF.
  r = scanEverySplit("12345678\r\n.\r\n", 10);
  EXPECT_FALSE(r.long_line);
  r = scanEverySplit("123456789\r\n.\r\n", 10);  // 11 > 10
  EXPECT_TRUE(r.long_line);
  EXPECT_EQ(r.body, "123456789\r");
  r = scanEverySplit("1234567\r\n.\r\n", 10);
  EXPECT_FALSE(r.long_line);
  EXPECT_EQ(r.body, "1234567\r\n");
  // A bare-LF line counts its stored CR LF: 8 + 2 fits, 9 + 2 does not.
  EXPECT_FALSE(scanEverySplit("12345678\n.\r\n.\r\n", 10).long_line);
  r = scanEverySplit("123456789\nx\r\n.\r\n", 10);
  EXPECT_TRUE(r.long_line);
  EXPECT_EQ(r.body, "123456789");
  // The transparency dot is not counted; a lone dot line with a bare LF counts 3.
  EXPECT_FALSE(scanEverySplit("..1234567\r\n.\r\n", 10).long_line);
  EXPECT_TRUE(scanEverySplit("..12345678\r\n.\r\n", 10).long_line);
  EXPECT_FALSE(scanEverySplit("\r\n.\n\r\n.\r\n", 3).long_line);
  r = scanEverySplit("\r\n.\n\r\n.\r\n", 2);
  EXPECT_TRUE(r.long_line);
  EXPECT_EQ(r.body, "\r\n");
}

TEST(DataScanner, BareLineEndings) {
  EXPECT_TRUE(scanEverySplit("a\nb\r\n.\r\n").bare_lf);
  EXPECT_FALSE(scanEverySplit("a\nb\r\n.\r\n").bare_cr);
  EXPECT_TRUE(scanEverySplit("a\rb\r\n.\r\n").bare_cr);
  EXPECT_FALSE(scanEverySplit("a\rb\r\n.\r\n").bare_lf);
  EXPECT_TRUE(scanEverySplit("a\r\r\n.\r\n").bare_cr);
  EXPECT_TRUE(scanEverySplit("\n\r\n.\r\n").bare_lf);
  EXPECT_TRUE(scanEverySplit(".\n\r\n.\r\n").bare_lf);
  EXPECT_TRUE(scanEverySplit(".\rx\r\n.\r\n").bare_cr);
  const ScanResult clean = scanEverySplit("a\r\nb\r\n\r\n.\r\n");
  EXPECT_FALSE(clean.bare_cr || clean.bare_lf);
}

TEST(DataScanner, BareCrBodyBytesAreKept) {
  // ".\rx" at a line start: the dot is a transparency dot; CR and x are body.
  const ScanResult r = scanEverySplit(".\rx\r\n.\r\n");
  EXPECT_EQ(r.body, "\rx\r\n");
}

TEST(DataScanner, LineLengthBoundary) {
  // With a bound of 1000 octets including CRLF (RFC 5321 4.5.3.1.6's figure), 998 text
  // octets is the maximum.
  for (size_t n : {997u, 998u, 999u, 1000u, 1001u}) {
    const std::string in = std::string(n, 'x') + "\r\n.\r\n";
    const ScanResult r = scanAll(in);
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.long_line, n > 998) << n;
    EXPECT_EQ(scanAll(in, 7).long_line, n > 998) << n;
  }
  // The transparency dot is not counted.
  EXPECT_FALSE(scanAll("." + std::string(998, '.') + "\r\n.\r\n").long_line);
  EXPECT_TRUE(scanAll("." + std::string(999, '.') + "\r\n.\r\n").long_line);
  // No limit.
  EXPECT_FALSE(scanAll(std::string(5000, 'x') + "\r\n.\r\n", 0, 0).long_line);
}

TEST(DataScanner, LargeBlockIsOneView) {
  std::string in;
  for (int i = 0; i < 2000; ++i) in += "line of text that is about seventy octets long, more or less!!\r\n";
  const std::string body = in;
  in += ".\r\n";
  const ScanResult r = scanAll(in);
  EXPECT_EQ(r.body, body);
  EXPECT_EQ(r.segments, 1u);
}

TEST(DataScanner, DoneConsumesNothingMore) {
  DataScanner s;
  s.reset(1000);
  std::string body;
  auto sink = [&](const char* p, size_t n) { body.append(p, n); };
  EXPECT_EQ(s.scan(".\r\nabc", sink), 3u);
  EXPECT_TRUE(s.done());
  EXPECT_EQ(s.scan("more", sink), 0u);
  EXPECT_EQ(body, "");
}

TEST(DataScanner, BinaryOctetsPassThrough) {
  std::string content;
  for (int c = 0; c < 256; ++c) {
    if (c != '\r' && c != '\n') content += static_cast<char>(c);
  }
  const ScanResult r = scanEverySplit(content + "\r\n.\r\n");
  EXPECT_EQ(r.body, content + "\r\n");
}

}  // namespace
}  // namespace mx::smtp
