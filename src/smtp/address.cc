// smtp/address.cc — see address.h. A hand-written recursive-descent parser over the
// RFC 5321 section 4.1.2 grammar; each function consumes from a cursor and reports
// success, so no backtracking beyond one token is needed.
// Trust: untrusted input; every read is bounds-checked against the view.
#include "smtp/address.h"

#include "smtp/ascii.h"

namespace mx::smtp {
namespace {

class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool atEnd() const { return pos_ >= s_.size(); }
  char peek() const { return atEnd() ? '\0' : s_[pos_]; }
  bool consume(char c) {
    if (atEnd() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  size_t pos() const { return pos_; }
  void advance(size_t n) { pos_ += n; }
  std::string_view remaining() const { return s_.substr(pos_); }
  std::string_view slice(size_t from) const { return s_.substr(from, pos_ - from); }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

// Consumes one UTF-8 non-ASCII sequence (RFC 6531 UTF8-non-ascii). Returns false, consuming
// nothing, if the next octet does not start a well-formed one.
bool consumeUtf8(Cursor& c, bool& non_ascii) {
  const size_t n = utf8SequenceLength(c.remaining());
  if (n == 0) return false;
  c.advance(n);
  non_ascii = true;
  return true;
}

// sub-domain = Let-dig [Ldh-str]; RFC 6531 adds U-label, taken here as any label whose
// non-ASCII characters are well-formed UTF-8 (IDNA2008 validity is the resolver's business).
bool consumeSubDomain(Cursor& c, bool allow_utf8, bool& non_ascii) {
  bool any = false;
  bool last_hyphen = false;
  while (!c.atEnd()) {
    const char ch = c.peek();
    if (isAlnum(ch)) {
      c.advance(1);
      last_hyphen = false;
    } else if (ch == '-' && any) {
      c.advance(1);
      last_hyphen = true;
    } else if (isNonAscii(ch) && allow_utf8) {
      if (!consumeUtf8(c, non_ascii)) return false;
      last_hyphen = false;
    } else {
      break;
    }
    any = true;
  }
  return any && !last_hyphen;
}

bool consumeDomain(Cursor& c, bool allow_utf8, bool& non_ascii) {
  if (!consumeSubDomain(c, allow_utf8, non_ascii)) return false;
  while (c.peek() == '.') {
    c.advance(1);
    if (!consumeSubDomain(c, allow_utf8, non_ascii)) return false;
  }
  return true;
}

// Snum = 1*3DIGIT ; representing a decimal integer value in the range 0 through 255
bool consumeSnum(Cursor& c) {
  size_t digits = 0;
  unsigned v = 0;
  while (digits < 3 && isDigit(c.peek())) {
    v = v * 10 + static_cast<unsigned>(c.peek() - '0');
    c.advance(1);
    ++digits;
  }
  return digits > 0 && v <= 255 && !isDigit(c.peek());
}

bool isIpv4Literal(std::string_view s) {
  Cursor c(s);
  for (int i = 0; i < 4; ++i) {
    if (i > 0 && !c.consume('.')) return false;
    if (!consumeSnum(c)) return false;
  }
  return c.atEnd();
}

bool isHex(char ch) { return isDigit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'); }

// Counts the IPv6-hex groups of a ':'-separated list; returns -1 on a malformed list.
// When allow_v4_tail, the last element may be an IPv4 address (counted as 2 groups, and
// reported through has_v4).
int countHexGroups(std::string_view s, bool allow_v4_tail, bool& has_v4) {
  if (s.empty()) return 0;
  int groups = 0;
  size_t start = 0;
  while (true) {
    const size_t colon = s.find(':', start);
    const std::string_view part =
        s.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start);
    if (colon == std::string_view::npos && allow_v4_tail && part.find('.') != std::string_view::npos) {
      if (!isIpv4Literal(part)) return -1;
      has_v4 = true;
      return groups + 2;
    }
    if (part.empty() || part.size() > 4) return -1;
    for (char ch : part) {
      if (!isHex(ch)) return -1;
    }
    ++groups;
    if (colon == std::string_view::npos) return groups;
    start = colon + 1;
  }
}

// RFC 5321 4.1.3 IPv6-addr = IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp.
// Note the RFC 5321 rule that "::" stands for at least two groups: at most 6 explicit
// groups (4 plus the IPv4 part) may accompany it.
bool isIpv6Literal(std::string_view s) {
  const size_t dc = s.find("::");
  if (dc == std::string_view::npos) {
    bool v4 = false;
    return countHexGroups(s, true, v4) == 8;
  }
  if (s.find("::", dc + 1) != std::string_view::npos) return false;
  bool v4_left = false;
  bool v4_right = false;
  const int left = countHexGroups(s.substr(0, dc), false, v4_left);
  const int right = countHexGroups(s.substr(dc + 2), true, v4_right);
  if (left < 0 || right < 0) return false;
  // "1:::2" would leave an empty group on one side; countHexGroups rejects it.
  return left + right <= 6;
}

// General-address-literal = Standardized-tag ":" 1*dcontent; dcontent = %d33-90 / %d94-126
bool isGeneralLiteral(std::string_view s) {
  const size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) return false;
  const std::string_view tag = s.substr(0, colon);
  for (size_t i = 0; i < tag.size(); ++i) {
    const char ch = tag[i];
    // Standardized-tag = Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig
    if (!(isAlnum(ch) || (ch == '-' && i + 1 < tag.size()))) return false;
  }
  for (char ch : s.substr(colon + 1)) {
    const auto u = static_cast<unsigned char>(ch);
    if (!((u >= 33 && u <= 90) || (u >= 94 && u <= 126))) return false;
  }
  return true;
}

bool consumeAddressLiteral(Cursor& c) {
  const size_t start = c.pos();
  if (!c.consume('[')) return false;
  const size_t close = c.remaining().find(']');
  if (close == std::string_view::npos) return false;
  c.advance(close + 1);
  return isValidAddressLiteral(c.slice(start));
}

// Dot-string = Atom *("." Atom); Atom = 1*atext (RFC 6531: atext =/ UTF8-non-ascii).
bool consumeDotString(Cursor& c, bool& non_ascii) {
  bool atom = false;
  while (!c.atEnd()) {
    const char ch = c.peek();
    if (isAtext(ch)) {
      c.advance(1);
      atom = true;
    } else if (isNonAscii(ch)) {
      if (!consumeUtf8(c, non_ascii)) return false;
      atom = true;
    } else if (ch == '.') {
      if (!atom) return false;  // leading or doubled dot
      c.advance(1);
      atom = false;
    } else {
      break;
    }
  }
  return atom;  // also rejects a trailing dot
}

// Quoted-string = DQUOTE *QcontentSMTP DQUOTE
// qtextSMTP = %d32-33 / %d35-91 / %d93-126 ; quoted-pairSMTP = %d92 %d32-126
bool consumeQuotedString(Cursor& c, bool& non_ascii) {
  if (!c.consume('"')) return false;
  while (!c.atEnd()) {
    const char ch = c.peek();
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"') {
      c.advance(1);
      return true;
    }
    if (ch == '\\') {
      c.advance(1);
      const auto q = static_cast<unsigned char>(c.peek());
      if (c.atEnd() || q < 32 || q > 126) return false;
      c.advance(1);
    } else if (u >= 32 && u <= 126) {
      c.advance(1);
    } else if (isNonAscii(ch)) {
      if (!consumeUtf8(c, non_ascii)) return false;
    } else {
      return false;  // controls, including CR, LF, NUL and TAB
    }
  }
  return false;  // unterminated
}

}  // namespace

bool isValidDomain(std::string_view s, bool allow_utf8) {
  Cursor c(s);
  bool non_ascii = false;
  return consumeDomain(c, allow_utf8, non_ascii) && c.atEnd();
}

bool isValidAddressLiteral(std::string_view s) {
  if (s.size() < 3 || s.front() != '[' || s.back() != ']') return false;
  const std::string_view inner = s.substr(1, s.size() - 2);
  if (inner.find(']') != std::string_view::npos || inner.find('[') != std::string_view::npos) return false;
  if (isIpv4Literal(inner)) return true;
  if (startsWithIgnoreCase(inner, "IPv6:")) return isIpv6Literal(inner.substr(5));
  // A tag that is not IPv6 but looks like an IPv4 attempt is still a general literal by
  // grammar only if it has a tag; "[1.2.3.999]" has none and is rejected here.
  return isGeneralLiteral(inner);
}

ParsedPath parsePath(std::string_view in, const PathRules& rules) {
  ParsedPath out;
  auto fail = [&out](PathError e) {
    out.error = e;
    return out;
  };
  Cursor c(in);
  if (!c.consume('<')) return fail(PathError::kSyntax);

  // Reverse-path = Path / "<>"
  if (c.consume('>')) {
    if (!rules.allow_null) return fail(PathError::kSyntax);
    out.null_path = true;
    out.rest = c.remaining();
    return out;
  }

  // UTF-8 is parsed whatever the rules say, so that a well-formed non-ASCII address can be
  // told apart (553 5.6.7) from a malformed one (501).
  bool non_ascii = false;
  // A-d-l = At-domain *( "," At-domain ) ":"   (RFC 5321 4.1.2; ignored per 4.1.1.3 and
  // Appendix C: "servers MUST ... ignore the route information").
  if (c.peek() == '@') {
    do {
      if (!c.consume('@')) return fail(PathError::kSyntax);
      if (!consumeDomain(c, /*allow_utf8=*/true, non_ascii)) return fail(PathError::kSyntax);
    } while (c.consume(','));
    if (!c.consume(':')) return fail(PathError::kSyntax);
    out.source_route = true;
  }

  const size_t mailbox_start = c.pos();
  if (c.peek() == '"') {
    if (!consumeQuotedString(c, non_ascii)) return fail(PathError::kSyntax);
  } else {
    if (!consumeDotString(c, non_ascii)) return fail(PathError::kSyntax);
  }
  out.local_part = c.slice(mailbox_start);

  if (c.peek() == '>' && rules.allow_postmaster && !out.source_route &&
      equalsIgnoreCase(out.local_part, "postmaster")) {
    // RFC 5321 4.1.1.3: RCPT TO:<Postmaster> without a domain MUST be accepted.
    c.advance(1);
    out.postmaster = true;
    out.mailbox = out.local_part;
    out.rest = c.remaining();
    if (c.pos() > kMaxPath) return fail(PathError::kTooLong);
    return out;
  }

  if (!c.consume('@')) return fail(PathError::kSyntax);
  const size_t domain_start = c.pos();
  if (c.peek() == '[') {
    if (!consumeAddressLiteral(c)) return fail(PathError::kSyntax);
    out.address_literal = true;
  } else {
    if (!consumeDomain(c, true, non_ascii)) return fail(PathError::kSyntax);
  }
  out.domain = c.slice(domain_start);
  out.mailbox = c.slice(mailbox_start);
  if (!c.consume('>')) return fail(PathError::kSyntax);
  out.rest = c.remaining();
  out.non_ascii = non_ascii;

  // RFC 5321 4.5.3.1.1-3. The path length counts the brackets and any route.
  if (out.local_part.size() > kMaxLocalPart || out.domain.size() > kMaxDomain ||
      c.pos() > kMaxPath) {
    return fail(PathError::kTooLong);
  }
  // RFC 6531 section 3.4: without SMTPUTF8, a non-ASCII address is refused (553 5.6.7).
  if (non_ascii && !rules.allow_utf8) return fail(PathError::kNonAscii);
  return out;
}

}  // namespace mx::smtp
