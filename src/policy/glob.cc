// policy/glob.cc — see glob.h.
#include "policy/glob.h"

namespace mx::policy {
namespace {

char lowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool globMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0;
  // Where to resume after a mismatch: just past the last '*', and the text position that
  // '*' is now taken to end at (it grows by one octet per retry).
  size_t star = std::string_view::npos, star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = ++p;
      star_text = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || lowerAscii(pattern[p]) == lowerAscii(text[t]))) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string checkGlob(std::string_view pattern) {
  if (pattern.empty()) return "is empty";
  if (pattern.size() > kMaxGlobLength) return "is longer than " + std::to_string(kMaxGlobLength) + " octets";
  for (char c : pattern) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return "has a control character";
  }
  return {};
}

}  // namespace mx::policy
