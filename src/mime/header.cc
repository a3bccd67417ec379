// mime/header.cc — see header.h. RFC 5322 sections 2.2.3, 3.3, 3.4, 3.6.4, 4.3, 4.4;
// RFC 2047 sections 2, 4, 5, 6.2; RFC 2045 section 5.1; RFC 2183; RFC 2231 sections 3-5;
// RFC 5256 section 2.1 (base subject, simplified).
// Trust: untrusted values; all loops advance at least one byte per iteration and look at
// each byte a bounded number of times.
#include "mime/header.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>

#include "mime/charset.h"
#include "mime/decode.h"

namespace mx::mime {
namespace {

inline bool isBlank(char c) { return c == ' ' || c == '\t'; }
inline bool isWs(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
inline char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
inline bool isDigit(char c) { return c >= '0' && c <= '9'; }
inline bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isWs(s.front())) s.remove_prefix(1);
  while (!s.empty() && isWs(s.back())) s.remove_suffix(1);
  return s;
}

// Collapses each run of blanks to one space and trims.
void appendCollapsed(std::string_view s, std::string& out) {
  bool pending = false;
  bool any = false;
  for (char c : s) {
    if (isWs(c)) {
      pending = any;
      continue;
    }
    if (pending) out += ' ';
    pending = false;
    any = true;
    out += c;
  }
}

std::string collapsed(std::string_view s) {
  std::string out;
  appendCollapsed(s, out);
  return out;
}

// Skips blanks and (nested) comments from position i; stores the first comment's text.
size_t skipCfws(std::string_view s, size_t i, std::string* first_comment = nullptr) {
  while (i < s.size()) {
    if (isWs(s[i])) {
      ++i;
      continue;
    }
    if (s[i] != '(') break;
    int depth = 0;
    const size_t start = i;
    for (; i < s.size(); ++i) {
      const char c = s[i];
      if (c == '\\') {
        ++i;
        continue;
      }
      if (c == '(') ++depth;
      if (c == ')' && --depth == 0) {
        ++i;
        break;
      }
    }
    if (first_comment && first_comment->empty()) {
      std::string_view body = s.substr(start + 1, i - start - 1);
      if (!body.empty() && body.back() == ')') body.remove_suffix(1);
      *first_comment = collapsed(body);
    }
  }
  return i;
}

// Reads a quoted string starting at s[i] == '"'; returns the position after the closing
// quote (or the end) and appends the unescaped content, folding removed.
size_t readQuoted(std::string_view s, size_t i, std::string& out) {
  ++i;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"') return i + 1;
    if (c == '\\' && i + 1 < s.size()) {
      out += s[i + 1];
      i += 2;
      continue;
    }
    if (c == '\r' || c == '\n') {
      ++i;
      continue;
    }
    out += c;
    ++i;
  }
  return i;
}

struct EncodedWord {
  std::string_view charset;
  char encoding;  // 'B' or 'Q'
  std::string_view text;
  size_t end;  // position after "?="
};

// Parses an encoded word starting at s[pos] == '=' and s[pos+1] == '?'. Returns false if
// this is not one; *looked_like is set when it had the "=?cs?X?" shape but was broken.
bool parseEncodedWord(std::string_view s, size_t pos, EncodedWord* w, bool* looked_like) {
  *looked_like = false;
  size_t i = pos + 2;
  const size_t cs_begin = i;
  while (i < s.size() && s[i] != '?' && !isWs(s[i]) && i - cs_begin <= 64) ++i;
  if (i >= s.size() || s[i] != '?' || i == cs_begin) return false;
  w->charset = s.substr(cs_begin, i - cs_begin);
  ++i;
  if (i + 1 >= s.size() || s[i + 1] != '?') return false;
  const char e = s[i];
  if (e == 'B' || e == 'b') {
    w->encoding = 'B';
  } else if (e == 'Q' || e == 'q') {
    w->encoding = 'Q';
  } else {
    *looked_like = true;
    return false;
  }
  i += 2;
  // The encoded text runs to "?=" and holds no "?" (RFC 2047 section 2). Blanks are not
  // allowed either, but some mailers put them in Q words; accept them.
  const size_t text_begin = i;
  while (i < s.size() && s[i] != '?') ++i;
  if (i + 1 >= s.size() || s[i + 1] != '=') {
    *looked_like = true;
    return false;
  }
  w->text = s.substr(text_begin, i - text_begin);
  if (w->encoding == 'B') {
    for (char c : w->text) {
      if (isWs(c)) {
        *looked_like = true;
        return false;
      }
    }
  }
  w->end = i + 2;
  return true;
}

// An addr-spec without its blanks and comments (RFC 5322 section 3.4.1 allows CFWS around
// the dots and the "@"); quoted local parts keep their quotes.
void appendAddrSpec(std::string_view s, std::string& out) {
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '(') {
      i = skipCfws(s, i);
      continue;
    }
    if (c == '"') {
      const size_t close = s.find('"', i + 1);
      const size_t end = close == std::string_view::npos ? s.size() : close + 1;
      out.append(s.substr(i, end - i));
      i = end;
      continue;
    }
    if (!isWs(c)) out += c;
    ++i;
  }
}

void appendPlain(std::string_view text, std::string& out, DecodeNotes* notes) {
  if (!appendHeaderText(text, notes ? notes->fallback_charset : std::string_view(), out) &&
      notes) {
    notes->raw_8bit = true;
  }
}

void flushPending(std::string& pending, std::string& pending_cs, std::string& out,
                  DecodeNotes* notes) {
  if (pending_cs.empty() && pending.empty()) return;
  const ConvertStatus st = convertToUtf8(pending_cs, pending, out);
  if (notes) {
    if (st == ConvertStatus::kUnknownCharset) {
      notes->charset_unknown = true;
      notes->charset = pending_cs;
    } else if (st == ConvertStatus::kReplaced) {
      notes->charset_error = true;
      notes->charset = pending_cs;
    }
  }
  pending.clear();
  pending_cs.clear();
}

// Decodes encoded words in already-unfolded text.
void decodeWords(std::string_view s, std::string& out, DecodeNotes* notes) {
  std::string pending;     // bytes of adjacent encoded words in one charset
  std::string pending_cs;  // their charset
  bool last_was_word = false;
  size_t i = 0;
  while (i < s.size()) {
    const char* hit = static_cast<const char*>(memmem(s.data() + i, s.size() - i, "=?", 2));
    if (!hit) break;
    const size_t pos = static_cast<size_t>(hit - s.data());
    EncodedWord w;
    bool looked_like = false;
    if (!parseEncodedWord(s, pos, &w, &looked_like)) {
      if (looked_like && notes) notes->encoded_word_invalid = true;
      flushPending(pending, pending_cs, out, notes);
      appendPlain(s.substr(i, pos + 2 - i), out, notes);
      i = pos + 2;
      last_was_word = false;
      continue;
    }
    std::string_view between = s.substr(i, pos - i);
    bool only_blanks = true;
    for (char c : between) only_blanks = only_blanks && isWs(c);
    // RFC 2047 section 6.2: blanks between two encoded words are not displayed.
    if (!(last_was_word && only_blanks)) {
      flushPending(pending, pending_cs, out, notes);
      appendPlain(between, out, notes);
    }
    if (!pending_cs.empty() && !equalsIgnoreCase(pending_cs, w.charset)) {
      flushPending(pending, pending_cs, out, notes);
    }
    pending_cs.assign(w.charset);
    const bool clean =
        w.encoding == 'B' ? decodeBase64(w.text, pending) : decodeQEncoding(w.text, pending);
    if (!clean && notes) notes->encoded_word_invalid = true;
    last_was_word = true;
    i = w.end;
  }
  flushPending(pending, pending_cs, out, notes);
  if (i < s.size()) appendPlain(s.substr(i), out, notes);
}

int monthFromName(std::string_view m) {
  static const char* kNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  if (m.size() < 3) return 0;
  char b[3] = {lowerAscii(m[0]), lowerAscii(m[1]), lowerAscii(m[2])};
  for (int i = 0; i < 12; ++i) {
    if (std::memcmp(b, kNames[i], 3) == 0) return i + 1;
  }
  return 0;
}

bool isLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
int daysInMonth(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && isLeap(y) ? 29 : kDays[m - 1];
}

// RFC 5322 section 4.3 zone names; returns false if unknown.
bool zoneFromName(std::string_view z, int* minutes, bool* unknown) {
  std::string s;
  for (char c : z) s += lowerAscii(c);
  struct Z {
    const char* n;
    int h;
  };
  static const Z kZones[] = {{"ut", 0},   {"utc", 0},  {"gmt", 0},  {"z", 0},
                             {"est", -5}, {"edt", -4}, {"cst", -6}, {"cdt", -5},
                             {"mst", -7}, {"mdt", -6}, {"pst", -8}, {"pdt", -7}};
  for (const auto& k : kZones) {
    if (s == k.n) {
      *minutes = k.h * 60;
      *unknown = false;
      return true;
    }
  }
  if (s.size() == 1 && isAlpha(s[0]) && s[0] != 'j') {
    // Military zones: their signs were defined backwards; RFC 5322 says treat as -0000.
    *minutes = 0;
    *unknown = true;
    return true;
  }
  return false;
}

std::string_view stripPrefixWord(std::string_view s) {
  // Reply/forward markers in several languages, followed by an optional counter and ':'.
  static const char* kPrefixes[] = {"re",  "fw",   "fwd", "aw",  "wg", "sv",
                                    "vs",  "antw", "tr",  "rif", "r",  "odp",
                                    "res", "enc",  "rv",  "ref", "vb", "doorst"};
  size_t n = 0;
  while (n < s.size() && isAlpha(s[n])) ++n;
  if (n == 0 || n > 6) return s;
  std::string w;
  for (size_t i = 0; i < n; ++i) w += lowerAscii(s[i]);
  bool known = false;
  for (const char* p : kPrefixes) known = known || w == p;
  if (!known) return s;
  size_t i = n;
  if (i < s.size() && (s[i] == '[' || s[i] == '(')) {
    const char close = s[i] == '[' ? ']' : ')';
    size_t j = i + 1;
    while (j < s.size() && isDigit(s[j])) ++j;
    if (j < s.size() && s[j] == close && j > i + 1) i = j + 1;
  }
  while (i < s.size() && isBlank(s[i])) ++i;
  if (i < s.size() && s[i] == ':') return s.substr(i + 1);
  if (s.substr(i, 3) == "\xEF\xBC\x9A") return s.substr(i + 3);  // full-width colon
  return s;
}

}  // namespace

bool appendHeaderText(std::string_view text, std::string_view fallback_charset, std::string& out) {
  if (isValidUtf8(text)) {
    out.append(text);
    return true;
  }
  if (!fallback_charset.empty() && !isUtf8Compatible(fallback_charset)) {
    const size_t mark = out.size();
    if (convertToUtf8(fallback_charset, text, out) == ConvertStatus::kOk) return false;
    out.resize(mark);
  }
  appendUtf8OrLatin(text, out);
  return false;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

void toLowerAscii(std::string& s) {
  for (char& c : s) c = lowerAscii(c);
}

void appendUnfolded(std::string_view raw, std::string& out) {
  // RFC 5322 section 2.2.3: unfolding removes the CRLF of each fold and nothing else, so the
  // blanks on both sides of it stay ("Now\r\n    Available" is "Now    Available", as in
  // Python's email, GMime and postal-mime). A field value holds line breaks only where it
  // was folded, so every CR and LF goes; the value's own leading and trailing blanks are
  // trimmed.
  size_t i = 0;
  const size_t n = raw.size();
  while (i < n && isWs(raw[i])) ++i;
  size_t end = n;
  while (end > i && isWs(raw[end - 1])) --end;
  while (i < end) {
    const char* b = raw.data() + i;
    // The next LF, then a CR before it: each search stops at the next line end, so the
    // whole unfolding stays linear.
    const char* lf = static_cast<const char*>(std::memchr(b, '\n', end - i));
    const size_t span = lf ? static_cast<size_t>(lf - b) : end - i;
    const char* cr = static_cast<const char*>(std::memchr(b, '\r', span));
    const char* brk = cr ? cr : lf;
    if (!brk) {
      out.append(b, end - i);
      break;
    }
    out.append(b, static_cast<size_t>(brk - b));
    size_t j = static_cast<size_t>(brk - raw.data());
    while (j < end && (raw[j] == '\r' || raw[j] == '\n')) ++j;
    i = j;
  }
}

std::string unfold(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  appendUnfolded(raw, out);
  return out;
}

bool mayHaveEncodedWords(std::string_view s) {
  return s.size() >= 2 && memmem(s.data(), s.size(), "=?", 2) != nullptr;
}

// True when `s` ends inside an encoded word: "=?charset?X?text" without its "?=".
static bool endsInsideEncodedWord(std::string_view s) {
  // Only the tail can hold an open word: look back at most 256 bytes (keeps this O(1) per
  // fold, whatever the field's length).
  const size_t from = s.size() > 256 ? s.size() - 256 : 0;
  const size_t rel = s.substr(from).rfind("=?");
  if (rel == std::string_view::npos) return false;
  const size_t start = from + rel;
  std::string_view w = s.substr(start + 2);
  const size_t q1 = w.find('?');
  if (q1 == std::string_view::npos || q1 == 0) return false;
  if (w.size() < q1 + 3 || w[q1 + 2] != '?') return false;
  const char e = w[q1 + 1];
  if (e != 'B' && e != 'b' && e != 'Q' && e != 'q') return false;
  for (char c : w.substr(0, q1)) {
    if (isWs(c)) return false;
  }
  return w.find('?', q1 + 3) == std::string_view::npos;
}

void decodeUnstructured(std::string_view raw, std::string& out, DecodeNotes* notes) {
  std::string unfolded;
  appendUnfolded(raw, unfolded);
  if (unfolded.size() != raw.size() && mayHaveEncodedWords(raw)) {
    // Some mailers fold inside an encoded word; the fold is not part of its text. Redo
    // the unfolding, dropping folds (and their blanks) that fall inside a word.
    unfolded.clear();
    size_t i = 0;
    std::string_view r = trim(raw);
    bool inside = false;  // the text so far ends inside an encoded word
    while (i < r.size()) {
      const size_t brk = r.find_first_of("\r\n", i);
      if (brk == std::string_view::npos) {
        unfolded.append(r.substr(i));
        break;
      }
      size_t run = brk;
      while (run > i && isBlank(r[run - 1])) --run;
      const std::string_view piece = r.substr(i, run - i);
      unfolded.append(piece);
      // Only a piece that opens a word, or one that continues an open word, can leave us
      // inside one: other folds cost nothing.
      if (inside || piece.find("=?") != std::string_view::npos) {
        inside = endsInsideEncodedWord(unfolded);
      }
      size_t j = brk;
      while (j < r.size() && (r[j] == '\r' || r[j] == '\n')) ++j;
      size_t blanks_end = j;
      while (blanks_end < r.size() && isBlank(r[blanks_end])) ++blanks_end;
      if (inside) {
        // A fold inside an encoded word (a broken mailer's): the fold and the blanks
        // around it are not part of the word's text.
        j = blanks_end;
      } else {
        // Outside a word only the line break goes (RFC 5322 section 2.2.3).
        unfolded.append(r.substr(run, brk - run));
      }
      i = j;
    }
  }
  if (!mayHaveEncodedWords(unfolded)) {
    appendPlain(unfolded, out, notes);
    return;
  }
  decodeWords(unfolded, out, notes);
}

std::string decodeUnstructured(std::string_view raw, DecodeNotes* notes) {
  std::string out;
  decodeUnstructured(raw, out, notes);
  return out;
}

const Param* findParam(const std::vector<Param>& params, std::string_view name) {
  for (const auto& p : params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

// True if s[i..] reads "token=" (a parameter that lost its ';').
static bool looksLikeParam(std::string_view s, size_t i) {
  const size_t b = i;
  while (i < s.size() && s[i] != '=' && s[i] != ';' && s[i] != '"' && s[i] != '(' && !isWs(s[i])) {
    ++i;
  }
  return i > b && i < s.size() && s[i] == '=';
}

ContentTypeValue parseContentType(std::string_view s, DecodeNotes* notes) {
  ContentTypeValue v;
  size_t i = skipCfws(s, 0);
  auto readToken = [&](std::string& dst, bool stop_at_slash) {
    while (i < s.size()) {
      const char c = s[i];
      if (c == ';' || c == '(' || isWs(c) || (stop_at_slash && c == '/')) break;
      dst += lowerAscii(c);
      ++i;
    }
  };
  if (!looksLikeParam(s, i)) readToken(v.type, true);
  i = skipCfws(s, i);
  if (i < s.size() && s[i] == '/') {
    i = skipCfws(s, i + 1);
    if (!looksLikeParam(s, i)) readToken(v.subtype, false);
  }
  if (v.type.empty()) v.subtype.clear();  // "/plain" names no type
  if (!isValidUtf8(v.type) || !isValidUtf8(v.subtype)) {
    std::string t, st;
    appendPlain(v.type, t, notes);
    appendPlain(v.subtype, st, notes);
    v.type.swap(t);
    v.subtype.swap(st);
  }
  // Raw parameters before RFC 2231 assembly: name, value, and whether it was quoted.
  struct RawParam {
    std::string name;
    std::string value;
  };
  std::vector<RawParam> raw;
  while (i < s.size()) {
    i = skipCfws(s, i);
    if (i >= s.size()) break;
    if (s[i] != ';' && !looksLikeParam(s, i)) {
      // Junk between parameters: skip to the next ';'.
      if (notes) notes->param_invalid = true;
      while (i < s.size() && s[i] != ';') {
        if (s[i] == '"') {
          std::string ignored;
          i = readQuoted(s, i, ignored);
        } else {
          ++i;
        }
      }
      continue;
    }
    if (s[i] == ';') {
      i = skipCfws(s, i + 1);
    } else if (notes) {
      notes->param_invalid = true;  // a parameter without the ';' before it
    }
    if (i >= s.size()) break;
    RawParam p;
    while (i < s.size() && s[i] != '=' && s[i] != ';' && !isWs(s[i])) p.name += lowerAscii(s[i++]);
    i = skipCfws(s, i);
    if (i >= s.size() || s[i] != '=') {
      if (!p.name.empty() && notes) notes->param_invalid = true;
      continue;
    }
    i = skipCfws(s, i + 1);
    if (i < s.size() && s[i] == '"') {
      i = readQuoted(s, i, p.value);
    } else {
      // A token; tolerate tspecials and blanks in it (unquoted file names), up to ';', a
      // comment after a blank, or a blank before what looks like the next "name=".
      bool first = true;
      while (i < s.size()) {
        const size_t b = i;
        while (i < s.size() && s[i] != ';' && s[i] != '"' && !isWs(s[i])) ++i;
        if (!first) p.value += ' ';
        p.value.append(s.substr(b, i - b));
        first = false;
        size_t j = i;
        while (j < s.size() && isWs(s[j])) ++j;
        if (j >= s.size() || s[j] == ';' || s[j] == '"' || s[j] == '(' || j == i ||
            looksLikeParam(s, j)) {
          i = j;
          break;
        }
        i = j;
      }
      if (p.value.empty()) continue;  // "name=" with nothing: no parameter
    }
    if (p.name.empty() || p.name[0] == '*') {
      if (notes) notes->param_invalid = true;
      continue;
    }
    raw.push_back(std::move(p));
  }

  // RFC 2231: name*=cs'lang'pct, name*0=..., name*1*=...; collect sections per base name.
  struct Section {
    std::string value;
    bool extended;
  };
  struct Assembled {
    std::string name;
    std::string plain;  // the value of a plain name=value parameter
    bool has_plain = false;
    std::map<unsigned, Section> sections;
    bool has_sections = false;
  };
  std::vector<Assembled> out;
  std::unordered_map<std::string, size_t> by_name;  // a field may hold thousands of params
  auto slot = [&](const std::string& base) -> Assembled& {
    auto [it, inserted] = by_name.emplace(base, out.size());
    if (inserted) out.push_back(Assembled{base, {}, false, {}, false});
    return out[it->second];
  };
  for (auto& p : raw) {
    const size_t star = p.name.find('*');
    if (star == std::string::npos) {
      Assembled& a = slot(p.name);
      if (a.has_plain) {
        if (notes) notes->param_invalid = true;  // duplicate: the first one wins
        continue;
      }
      a.plain = std::move(p.value);
      a.has_plain = true;
      continue;
    }
    std::string base = p.name.substr(0, star);
    std::string_view rest = std::string_view(p.name).substr(star + 1);
    unsigned index = 0;
    bool extended = false;
    if (rest.empty()) {
      extended = true;  // name*=
    } else {
      size_t k = 0;
      while (k < rest.size() && isDigit(rest[k]) && k < 4) index = index * 10 + (rest[k++] - '0');
      if (k == 0 || (k < rest.size() && !(k + 1 == rest.size() && rest[k] == '*'))) {
        if (notes) notes->param_invalid = true;
        continue;
      }
      extended = k < rest.size();
    }
    Assembled& a = slot(base);
    a.has_sections = true;
    if (!a.sections.count(index)) a.sections[index] = Section{std::move(p.value), extended};
  }
  for (auto& a : out) {
    Param param;
    appendPlain(a.name, param.name, notes);
    if (a.has_sections) {
      std::string bytes;
      std::string charset;
      bool first = true;
      for (auto& [idx, sec] : a.sections) {
        std::string_view val = sec.value;
        if (sec.extended) {
          if (first && idx == 0) {
            // charset'language'value (both may be empty).
            const size_t q1 = val.find('\'');
            const size_t q2 = q1 == std::string_view::npos ? q1 : val.find('\'', q1 + 1);
            if (q2 != std::string_view::npos) {
              charset.assign(val.substr(0, q1));
              val = val.substr(q2 + 1);
            } else if (notes) {
              notes->param_invalid = true;
            }
          }
          for (size_t k = 0; k < val.size(); ++k) {
            if (val[k] == '%' && k + 2 < val.size()) {
              auto hex = [](char c) -> int {
                if (c >= '0' && c <= '9') return c - '0';
                c = lowerAscii(c);
                if (c >= 'a' && c <= 'f') return c - 'a' + 10;
                return -1;
              };
              const int hi = hex(val[k + 1]), lo = hex(val[k + 2]);
              if (hi >= 0 && lo >= 0) {
                bytes += static_cast<char>(hi * 16 + lo);
                k += 2;
                continue;
              }
            }
            bytes += val[k];
          }
        } else {
          bytes.append(val);
        }
        first = false;
      }
      const ConvertStatus st = convertToUtf8(charset, bytes, param.value);
      if (notes && st == ConvertStatus::kUnknownCharset) {
        notes->charset_unknown = true;
        notes->charset = charset;
      } else if (notes && st == ConvertStatus::kReplaced) {
        notes->charset_error = true;
        notes->charset = charset;
      }
      // Some mailers put an encoded word inside an RFC 2231 value as well.
      if (mayHaveEncodedWords(param.value)) {
        std::string again;
        decodeWords(param.value, again, notes);
        param.value.swap(again);
      }
    } else {
      // The widespread non-standard form: an encoded word inside a quoted parameter.
      if (mayHaveEncodedWords(a.plain)) {
        decodeWords(a.plain, param.value, notes);
      } else {
        appendPlain(a.plain, param.value, notes);
      }
    }
    v.params.push_back(std::move(param));
  }
  return v;
}

void parseAddressList(std::string_view s, std::vector<Address>& out, DecodeNotes* notes) {
  std::string phrase;   // display phrase, quoted strings unquoted, comments dropped
  std::string angle;    // the content of <...>
  std::string comment;  // the first comment (a name for "addr (Name)")
  bool has_angle = false;
  bool phrase_has_at = false;  // kept in step with `phrase` (cleared together)
  bool in_group = false;
  bool group_has_members = false;
  std::optional<std::string> group;

  auto emit = [&]() {
    Address a;
    std::string name;
    {
      std::string decoded;
      decodeUnstructured(phrase, decoded, notes);
      appendCollapsed(decoded, name);
    }
    if (has_angle) {
      std::string addr;
      std::string_view av = angle;
      // Obsolete route: <@a,@b:user@domain> (RFC 5322 section 4.4).
      if (!av.empty() && av.front() == '@') {
        const size_t colon = av.find(':');
        if (colon != std::string_view::npos) av = av.substr(colon + 1);
      }
      appendAddrSpec(av, addr);
      if (!addr.empty()) {
        std::string clean;
        appendPlain(addr, clean, notes);
        a.address = std::move(clean);
      }
      if (!name.empty()) {
        a.name = std::move(name);
      } else if (!comment.empty()) {
        a.name = decodeUnstructured(comment, notes);  // RFC 2047 words may be in comments
      }
    } else if (!name.empty()) {
      if (name.find('@') != std::string::npos) {
        std::string addr;
        appendAddrSpec(name, addr);
        std::string clean;
        appendPlain(addr, clean, notes);
        a.address = std::move(clean);
        if (!comment.empty()) a.name = decodeUnstructured(comment, notes);
      } else {
        a.name = std::move(name);  // a bare word: kept as a name without an address
        if (notes) notes->address_invalid = true;
      }
    } else {
      phrase.clear();
      phrase_has_at = false;
      angle.clear();
      comment.clear();
      has_angle = false;
      return;
    }
    if (in_group) {
      a.group = group;
      group_has_members = true;
    }
    out.push_back(std::move(a));
    phrase.clear();
    phrase_has_at = false;
    angle.clear();
    comment.clear();
    has_angle = false;
  };

  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"') {
      const size_t before = phrase.size();
      i = readQuoted(s, i, phrase);
      phrase_has_at = phrase_has_at || phrase.find('@', before) != std::string::npos;
      continue;
    }
    if (c == '(') {
      const size_t before = phrase.size();
      i = skipCfws(s, i, &comment);
      (void)before;
      phrase += ' ';
      continue;
    }
    if (c == '<') {
      const size_t close = s.find('>', i + 1);
      if (close == std::string_view::npos) {
        angle.assign(s.substr(i + 1));
        if (notes) notes->address_invalid = true;
        i = s.size();
      } else {
        angle.assign(s.substr(i + 1, close - i - 1));
        i = close + 1;
      }
      has_angle = true;
      continue;
    }
    if (c == ',') {
      emit();
      ++i;
      continue;
    }
    // "x@y:" is not a group name (a route, or junk); checking the raw phrase for "@" first
    // keeps "a@b:a@b:..." linear.
    if (c == ':' && !in_group && !has_angle && !phrase_has_at) {
      std::string name;
      std::string decoded;
      decodeUnstructured(phrase, decoded, notes);
      appendCollapsed(decoded, name);
      if (name.find('@') == std::string::npos) {
        group = std::move(name);
        in_group = true;
        group_has_members = false;
        phrase.clear();
        phrase_has_at = false;
        comment.clear();
        ++i;
        continue;
      }
    }
    if (c == ';') {
      emit();
      if (in_group) {
        if (!group_has_members) {
          Address a;
          a.group = group;
          out.push_back(std::move(a));
        }
        in_group = false;
        group.reset();
      }
      ++i;
      continue;
    }
    phrase += (c == '\r' || c == '\n') ? ' ' : c;
    phrase_has_at = phrase_has_at || c == '@';
    ++i;
  }
  emit();
  if (in_group && !group_has_members) {
    Address a;
    a.group = group;
    out.push_back(std::move(a));
  }
}

bool parseMessageIds(std::string_view s, std::vector<std::string>& out) {
  bool clean = true;
  size_t i = 0;
  while (i < s.size()) {
    i = skipCfws(s, i);
    while (i < s.size() && s[i] == ',') i = skipCfws(s, i + 1);
    if (i >= s.size()) break;
    std::string id;
    if (s[i] == '<') {
      size_t close = s.find('>', i + 1);
      if (close == std::string_view::npos) {
        clean = false;
        close = s.size();
      }
      // Obsolete syntax (RFC 5322 section 4.5.4): CFWS may stand around the '@' and the
      // dots ("<1234   @   local(blah)  .machine .example>"); comments go with the blanks,
      // except inside a [domain literal].
      const std::string_view inner = s.substr(i + 1, close - i - 1);
      bool literal = false;
      for (size_t k = 0; k < inner.size(); ++k) {
        const char c = inner[k];
        if (c == '[') literal = true;
        if (c == ']') literal = false;
        if (c == '(' && !literal) {
          k = skipCfws(inner, k) - 1;
          continue;
        }
        if (!isWs(c)) id += c;
      }
      i = close + 1;
    } else {
      clean = false;
      while (i < s.size() && !isWs(s[i]) && s[i] != '<' && s[i] != ',' && s[i] != '(') id += s[i++];
    }
    if (!id.empty()) {
      std::string utf8;
      if (!appendUtf8OrLatin(id, utf8)) clean = false;
      out.push_back(std::move(utf8));
    }
  }
  return clean;
}

bool parseDate(std::string_view s, DateTime* dt) {
  // Tokens: words of letters, numbers (with ':' for times), and signed zones.
  int day = -1, month = 0, year = -1, hh = -1, mm = -1, ss = 0;
  int zone = 0;
  bool zone_set = false, zone_unknown = false;
  size_t i = 0;
  int numbers_seen = 0;
  while (i < s.size()) {
    i = skipCfws(s, i);
    if (i >= s.size()) break;
    const char c = s[i];
    if (c == ',' || c == '.') {
      ++i;
      continue;
    }
    if (isAlpha(c)) {
      size_t b = i;
      while (i < s.size() && isAlpha(s[i])) ++i;
      std::string_view w = s.substr(b, i - b);
      if (month == 0 && w.size() >= 3 && monthFromName(w)) {
        month = monthFromName(w);
      } else if (hh >= 0 && !zone_set) {
        // Between the time and the zone only the zone may stand (RFC 5322 section 3.3).
        // An unknown alphabetic zone of 3-5 letters means -0000 (section 4.3); any other
        // word there is junk, and the date is not what it seems.
        int z;
        bool unk;
        if (!zoneFromName(w, &z, &unk)) {
          if (w.size() < 3 || w.size() > 5) return false;
          z = 0;
          unk = true;
        }
        zone = z;
        zone_unknown = unk;
        zone_set = true;
      }
      continue;
    }
    if ((c == '+' || c == '-') && hh >= 0 && !zone_set && i + 1 < s.size() && isDigit(s[i + 1])) {
      size_t b = ++i;
      int v = 0;
      while (i < s.size() && isDigit(s[i]) && i - b < 4) v = v * 10 + (s[i++] - '0');
      if (i < s.size() && s[i] == ':' && i - b == 2) {  // "+02:00"
        ++i;
        size_t b2 = i;
        while (i < s.size() && isDigit(s[i]) && i - b2 < 2) v = v * 10 + (s[i++] - '0');
      } else if (i - b <= 2) {
        v *= 100;  // "+2" or "+02"
      }
      while (i < s.size() && isDigit(s[i])) ++i;
      const int h = v / 100, m = v % 100;
      if (m > 59) return false;
      zone = (h * 60 + m) * (c == '-' ? -1 : 1);
      zone_unknown = (c == '-' && v == 0);
      zone_set = true;
      continue;
    }
    if (isDigit(c)) {
      size_t b = i;
      long v = 0;
      while (i < s.size() && isDigit(s[i]) && i - b < 9) v = v * 10 + (s[i++] - '0');
      while (i < s.size() && isDigit(s[i])) ++i;
      const size_t len = i - b;
      // The obsolete syntax allows CFWS around the colons of the time (RFC 5322 section 4.3:
      // "09(comment):   55  :  06").
      const size_t after = hh < 0 && len <= 2 ? skipCfws(s, i) : i;
      if (after < s.size() && s[after] == ':' && hh < 0) {
        // A time: hh:mm[:ss]
        hh = static_cast<int>(v);
        i = skipCfws(s, after + 1);
        int m = 0, k = 0;
        while (i < s.size() && isDigit(s[i]) && k < 2) m = m * 10 + (s[i++] - '0'), ++k;
        if (k == 0) return false;
        mm = m;
        const size_t colon = skipCfws(s, i);
        if (colon < s.size() && s[colon] == ':') {
          i = skipCfws(s, colon + 1);
          int sec = 0;
          k = 0;
          while (i < s.size() && isDigit(s[i]) && k < 2) sec = sec * 10 + (s[i++] - '0'), ++k;
          if (k == 0) return false;  // "10:00:t": junk where the seconds should be
          ss = sec;
          // Fractions of a second are dropped.
          if (i < s.size() && s[i] == '.') {
            ++i;
            while (i < s.size() && isDigit(s[i])) ++i;
          }
        }
        continue;
      }
      if (i < s.size() && s[i] == '-' && len == 4 && year < 0 && day < 0) {
        // ISO 8601 date: yyyy-mm-dd[Thh:mm:ss]
        year = static_cast<int>(v);
        ++i;
        int m = 0, k = 0;
        while (i < s.size() && isDigit(s[i]) && k < 2) m = m * 10 + (s[i++] - '0'), ++k;
        month = m;
        if (i < s.size() && s[i] == '-') ++i;
        int d = 0;
        k = 0;
        while (i < s.size() && isDigit(s[i]) && k < 2) d = d * 10 + (s[i++] - '0'), ++k;
        day = d;
        if (i < s.size() && (s[i] == 'T' || s[i] == 't')) ++i;
        continue;
      }
      ++numbers_seen;
      if (day < 0 && len <= 2 && (month == 0 || year < 0)) {
        day = static_cast<int>(v);
      } else if (year < 0) {
        if (len <= 2) {
          year = static_cast<int>(v) + (v < 50 ? 2000 : 1900);  // RFC 5322 section 4.3
        } else if (len == 3) {
          year = static_cast<int>(v) + 1900;
        } else {
          year = static_cast<int>(v);
        }
      }
      continue;
    }
    ++i;  // anything else is ignored
  }
  (void)numbers_seen;
  if (day < 1 || month < 1 || month > 12 || year < 0 || year > 9999 || hh < 0) return false;
  // The zone is not optional (RFC 5322 section 3.3): without it the instant is unknown.
  if (!zone_set) return false;
  if (day > daysInMonth(year, month) || hh > 23 || mm > 59 || ss > 60) return false;
  if (zone <= -24 * 60 || zone >= 24 * 60) return false;
  dt->year = year;
  dt->month = month;
  dt->day = day;
  dt->hour = hh;
  dt->minute = mm;
  dt->second = ss;
  dt->offset_minutes = zone;
  dt->offset_unknown = zone_unknown;
  return true;
}

std::string formatRfc3339(const DateTime& dt) {
  char buf[40];
  const int off = dt.offset_minutes < 0 ? -dt.offset_minutes : dt.offset_minutes;
  const char sign = (dt.offset_minutes < 0 || dt.offset_unknown) ? '-' : '+';
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", dt.year, dt.month,
                dt.day, dt.hour, dt.minute, dt.second, sign, off / 60, off % 60);
  return buf;
}

std::string normalizeSubject(std::string_view subject) {
  std::string_view s = trim(subject);
  for (int guard = 0; guard < 64; ++guard) {
    std::string_view before = s;
    s = trim(s);
    // "[list-tag] " prefixes.
    if (!s.empty() && s.front() == '[') {
      const size_t close = s.substr(0, 64).find(']');
      if (close != std::string_view::npos && close + 1 < s.size() && close < 64) {
        std::string_view rest = trim(s.substr(close + 1));
        if (!rest.empty()) s = rest;
      }
    }
    s = trim(stripPrefixWord(s));
    if (s.size() == before.size()) break;
  }
  // A trailing "(fwd)" (RFC 5256 subj-trailer).
  std::string out = collapsed(s);
  while (out.size() >= 5) {
    std::string tail = out.substr(out.size() - 5);
    toLowerAscii(tail);
    if (tail != "(fwd)") break;
    out.resize(out.size() - 5);
    while (!out.empty() && out.back() == ' ') out.pop_back();
  }
  return out;
}

}  // namespace mx::mime
