// smtp/ascii.cc — see ascii.h. UTF-8 per RFC 3629 section 4 (the table of well-formed
// byte sequences), as required for SMTPUTF8 addresses by RFC 6531 section 3.3.
// Trust: untrusted input of any length.
#include "smtp/ascii.h"

#include <limits>

namespace mx::smtp {

size_t utf8SequenceLength(std::string_view s) {
  if (s.empty()) return 0;
  const auto b0 = static_cast<unsigned char>(s[0]);
  auto cont = [&](size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) {
    if (i >= s.size()) return false;
    const auto b = static_cast<unsigned char>(s[i]);
    return b >= lo && b <= hi;
  };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 == 0xE0) return cont(1, 0xA0, 0xBF) && cont(2) ? 3 : 0;
  if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (b0 == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;  // no surrogates
  if (b0 == 0xF0) return cont(1, 0x90, 0xBF) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xF1 && b0 <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

bool isValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (!isNonAscii(s[i])) {
      ++i;
      continue;
    }
    const size_t n = utf8SequenceLength(s.substr(i));
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool hasNonAscii(std::string_view s) {
  for (char c : s) {
    if (isNonAscii(c)) return true;
  }
  return false;
}

bool parseDecimal(std::string_view s, size_t max_digits, uint64_t& out) {
  if (s.empty() || s.size() > max_digits) return false;
  uint64_t v = 0;
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  for (char c : s) {
    if (!isDigit(c)) return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    v = (v > (kMax - d) / 10) ? kMax : v * 10 + d;
  }
  out = v;
  return true;
}

}  // namespace mx::smtp
