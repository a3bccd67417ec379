// fuzz/policy/recipient_glob_fuzz.cc — libFuzzer target for the recipient-rule glob matcher
// (policy/glob.h). Input: pattern, a NUL byte, text (no NUL: the text is all of it and the
// pattern "*"). Invariants: the iterative matcher agrees with a plain dynamic-programming
// reference on every input; "*" matches everything; a pattern without wildcards matches
// itself; appending "*" to a matching pattern keeps it matching.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "policy/glob.h"

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// match[i][j]: pattern[i..] matches text[j..].
bool reference(std::string_view p, std::string_view t) {
  std::vector<std::vector<char>> m(p.size() + 1, std::vector<char>(t.size() + 1, 0));
  m[p.size()][t.size()] = 1;
  for (size_t i = p.size(); i-- > 0;) {
    for (size_t j = t.size() + 1; j-- > 0;) {
      if (p[i] == '*') {
        m[i][j] = m[i + 1][j] || (j < t.size() && m[i][j + 1]);
      } else if (j < t.size() && (p[i] == '?' || lower(p[i]) == lower(t[j]))) {
        m[i][j] = m[i + 1][j + 1];
      }
    }
  }
  return m[0][0] != 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view pattern = "*", text = in;
  if (size_t nul = in.find('\0'); nul != std::string_view::npos) {
    pattern = in.substr(0, nul);
    text = in.substr(nul + 1);
  }
  // Bounded as the matcher's callers are (a pattern of checkGlob(), a path of RFC 5321).
  if (pattern.size() > 300 || text.size() > 600) return 0;
  const bool got = mx::policy::globMatch(pattern, text);
  if (got != reference(pattern, text)) std::abort();
  if (!mx::policy::globMatch("*", text)) std::abort();
  if (text.find_first_of("*?") == std::string_view::npos && !mx::policy::globMatch(text, text)) std::abort();
  if (got) {
    std::string more(pattern);
    more += '*';
    if (!mx::policy::globMatch(more, text)) std::abort();
  }
  return 0;
}
