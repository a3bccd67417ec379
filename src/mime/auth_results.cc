// mime/auth_results.cc — see auth_results.h. RFC 8601 sections 2.2 (syntax), 2.7 (result
// values), 5 (which fields to trust); RFC 8617 (arc), RFC 7208 (spf results, incl. hardfail
// from older software), RFC 6376/7489 (dkim, dmarc).
// Trust: untrusted values; each loop consumes at least one byte.
#include "mime/auth_results.h"

#include <optional>

#include "mime/charset.h"
#include "mime/header.h"

namespace mx::mime {
namespace {

inline bool isWs(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
inline char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  // Skips blanks and comments; the text of the first comment skipped since the last
  // takeComment() is kept.
  void skipCfws() {
    while (i_ < s_.size()) {
      if (isWs(s_[i_])) {
        ++i_;
        continue;
      }
      if (s_[i_] != '(') return;
      int depth = 0;
      const size_t start = i_;
      for (; i_ < s_.size(); ++i_) {
        if (s_[i_] == '\\') {
          ++i_;
          continue;
        }
        if (s_[i_] == '(') ++depth;
        if (s_[i_] == ')' && --depth == 0) {
          ++i_;
          break;
        }
      }
      if (!comment_) {
        std::string_view body = s_.substr(start + 1, i_ - start - 1);
        if (!body.empty() && body.back() == ')') body.remove_suffix(1);
        std::string c, u;
        appendUnfolded(body, c);
        appendUtf8OrLatin(c, u);
        comment_ = std::move(u);
      }
    }
  }
  std::optional<std::string> takeComment() {
    auto c = std::move(comment_);
    comment_.reset();
    return c;
  }
  bool atEnd() {
    skipCfws();
    return i_ >= s_.size();
  }
  char peek() { return i_ < s_.size() ? s_[i_] : '\0'; }
  void advance() { ++i_; }
  // A value: a quoted string or a run up to blank, ';', '(' (and '=' / '/' / '.' when asked).
  std::string value(bool stop_at_eq, bool stop_at_slash = false, bool stop_at_dot = false) {
    skipCfws();
    std::string v;
    if (peek() == '"') {
      ++i_;
      while (i_ < s_.size() && s_[i_] != '"') {
        if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
        if (s_[i_] != '\r' && s_[i_] != '\n') v += s_[i_];
        ++i_;
      }
      if (i_ < s_.size()) ++i_;
      return v;
    }
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (isWs(c) || c == ';' || c == '(' || (stop_at_eq && c == '=') ||
          (stop_at_slash && c == '/') || (stop_at_dot && c == '.')) {
        break;
      }
      v += c;
      ++i_;
    }
    return v;
  }
  void skipToSemicolon() {
    while (i_ < s_.size() && s_[i_] != ';') {
      if (s_[i_] == '(') {
        skipCfws();
        continue;
      }
      if (s_[i_] == '"') {
        value(false);
        continue;
      }
      ++i_;
    }
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
  std::optional<std::string> comment_;
};

std::string lower(std::string s) {
  for (char& c : s) c = lowerAscii(c);
  return s;
}

std::string utf8(std::string_view s) {
  std::string out;
  appendUtf8OrLatin(s, out);
  return out;
}

}  // namespace

bool parseAuthenticationResults(std::string_view raw, uint32_t header_index,
                                const std::vector<std::string>& trusted_ids,
                                std::vector<AuthResult>& out) {
  Lexer lx(raw);
  bool clean = true;
  std::string authserv = utf8(lx.value(false));
  if (authserv.empty()) return false;
  lx.takeComment();
  bool trusted = false;
  for (const auto& t : trusted_ids) trusted = trusted || equalsIgnoreCase(t, authserv);
  // Optional authres-version (a number) before the first ';'.
  lx.skipCfws();
  if (lx.peek() != ';' && !lx.atEnd()) {
    std::string v = lx.value(false);
    bool digits = !v.empty();
    for (char c : v) digits = digits && c >= '0' && c <= '9';
    if (!digits) {
      // "authserv-id none" without a ';' is valid; anything else is not.
      if (lower(v) != "none") clean = false;
      lx.skipToSemicolon();
    }
  }
  while (!lx.atEnd()) {
    if (lx.peek() != ';') {
      clean = false;
      lx.skipToSemicolon();
      continue;
    }
    lx.advance();
    if (lx.atEnd()) break;
    lx.takeComment();
    std::string method = lower(lx.value(true, true));
    if (method.empty()) {
      clean = false;
      lx.skipToSemicolon();
      continue;
    }
    if (method == "none") {
      lx.skipToSemicolon();
      continue;
    }
    AuthResult r;
    r.authserv_id = authserv;
    r.header_index = header_index;
    r.trusted = trusted;
    lx.skipCfws();
    if (lx.peek() == '/') {
      lx.advance();
      std::string v = lx.value(true);
      int n = 0;
      bool ok = !v.empty() && v.size() < 6;
      for (char c : v) {
        ok = ok && c >= '0' && c <= '9';
        if (ok) n = n * 10 + (c - '0');
      }
      if (ok) r.method_version = n;
      lx.skipCfws();
    }
    if (lx.peek() != '=') {
      clean = false;
      lx.skipToSemicolon();
      continue;
    }
    lx.advance();
    r.result = utf8(lower(lx.value(false)));
    r.method = utf8(method);
    lx.skipCfws();
    r.comment = lx.takeComment();
    // reason and properties up to the next ';'.
    while (!lx.atEnd() && lx.peek() != ';') {
      std::string key = lower(lx.value(true));
      lx.skipCfws();
      if (key.empty() || lx.peek() != '=') {
        clean = false;
        lx.skipToSemicolon();
        break;
      }
      lx.advance();
      std::string val = utf8(lx.value(false));
      if (key == "reason") {
        r.reason = std::move(val);
      } else {
        r.properties.emplace_back(utf8(key), std::move(val));
      }
    }
    out.push_back(std::move(r));
  }
  return clean;
}

std::string_view canonicalAuthResult(std::string_view result) {
  static constexpr std::string_view kKnown[] = {
      "pass",      "fail",   "softfail", "neutral", "none",    "temperror",
      "permerror", "policy", "hardfail", "unknown", "discard", "declined",
      "nxdomain",  "signed", "nodata",   "invalid", "skipped"};
  for (std::string_view k : kKnown) {
    if (equalsIgnoreCase(k, result)) return k;
  }
  return "unknown";
}

AuthSummary summarizeAuthResults(const std::vector<AuthResult>& results) {
  AuthSummary s;
  bool spf = false, dkim = false, dmarc = false, arc = false;
  for (const auto& r : results) {
    if (!r.trusted) continue;
    const std::string_view v = canonicalAuthResult(r.result);
    if (r.method == "spf" && !spf) {
      s.spf = v;
      spf = true;
    } else if (r.method == "dkim") {
      if (!dkim || v == "pass") s.dkim = v;
      dkim = true;
    } else if (r.method == "dmarc" && !dmarc) {
      s.dmarc = v;
      dmarc = true;
    } else if (r.method == "arc" && !arc) {
      s.arc = v;
      arc = true;
    }
  }
  return s;
}

}  // namespace mx::mime
