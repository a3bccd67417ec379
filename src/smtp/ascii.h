// smtp/ascii.h — small ASCII helpers for the SMTP protocol core: case-insensitive
// comparison of verbs and keywords (RFC 5321 section 2.4: verbs and extension keywords
// are case-insensitive), character classes from the RFC 5321 section 4.1.2 grammar, and a
// strict UTF-8 validator for RFC 6531 addresses.
// Trust: every function takes untrusted bytes of any length and never reads past them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mx::smtp {

inline constexpr char asciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline constexpr bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (asciiLower(a[i]) != asciiLower(b[i])) return false;
  }
  return true;
}

inline constexpr bool startsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && equalsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

inline constexpr bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline constexpr bool isDigit(char c) { return c >= '0' && c <= '9'; }
inline constexpr bool isAlnum(char c) { return isAlpha(c) || isDigit(c); }
inline constexpr bool isNonAscii(char c) { return static_cast<unsigned char>(c) >= 0x80; }

// RFC 5322 section 3.2.3 atext, as used by RFC 5321 Atom.
inline constexpr bool isAtext(char c) {
  if (isAlnum(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '/': case '=': case '?': case '^': case '_': case '`': case '{':
    case '|': case '}': case '~':
      return true;
    default:
      return false;
  }
}

// Length of the well-formed UTF-8 sequence (RFC 3629 section 4) that starts at s[0], or 0
// if s does not start with one. Rejects overlong forms, surrogates and code points past
// U+10FFFF. Only sequences of two or more octets are accepted (s[0] >= 0x80).
size_t utf8SequenceLength(std::string_view s);

// True when all of s is well-formed UTF-8 (ASCII included).
bool isValidUtf8(std::string_view s);

// True when s holds an octet >= 0x80.
bool hasNonAscii(std::string_view s);

// Parses 1..max_digits decimal digits as the whole of s. Values that overflow uint64_t
// saturate to UINT64_MAX (callers compare against limits). Returns false on anything else.
bool parseDecimal(std::string_view s, size_t max_digits, uint64_t& out);

}  // namespace mx::smtp
