// mime/charset.cc — see charset.h. RFC 3629 (UTF-8), RFC 2152 (UTF-7), WHATWG Encoding
// (windows-1252 for Latin-1 labels), glibc iconv(3) for everything else.
// Trust: untrusted labels and bytes. Labels longer than 64 bytes are not looked up at all;
// failed iconv_open() results are cached too, so junk labels cannot make us call it again
// and again.
#include "mime/charset.h"

#include <errno.h>
#include <iconv.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace mx::mime {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";

void appendCodepoint(std::string& out, uint32_t cp) {
  char b[4];
  if (cp < 0x80) {
    out += static_cast<char>(cp);
    return;
  }
  if (cp < 0x800) {
    b[0] = static_cast<char>(0xC0 | (cp >> 6));
    b[1] = static_cast<char>(0x80 | (cp & 0x3F));
    out.append(b, 2);
  } else if (cp < 0x10000) {
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      out += kReplacement;
      return;
    }
    b[0] = static_cast<char>(0xE0 | (cp >> 12));
    b[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    b[2] = static_cast<char>(0x80 | (cp & 0x3F));
    out.append(b, 3);
  } else if (cp <= 0x10FFFF) {
    b[0] = static_cast<char>(0xF0 | (cp >> 18));
    b[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    b[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    b[3] = static_cast<char>(0x80 | (cp & 0x3F));
    out.append(b, 4);
  } else {
    out += kReplacement;
  }
}

// windows-1252 0x80..0x9F; the five unassigned bytes map to the C1 controls (WHATWG).
constexpr uint16_t kCp1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

// UTF-8 encodings of windows-1252 bytes 0x80..0xFF: length in [0], bytes after.
struct Cp1252Table {
  std::array<std::array<char, 4>, 128> e{};
  Cp1252Table() {
    for (int b = 0x80; b < 0x100; ++b) {
      const uint32_t cp = b < 0xA0 ? kCp1252High[b - 0x80] : static_cast<uint32_t>(b);
      std::string s;
      appendCodepoint(s, cp);
      e[b - 0x80][0] = static_cast<char>(s.size());
      for (size_t i = 0; i < s.size(); ++i) e[b - 0x80][1 + i] = s[i];
    }
  }
};
const Cp1252Table& cp1252() {
  static const Cp1252Table t;
  return t;
}

void appendCp1252(std::string_view in, std::string& out) {
  const auto& t = cp1252();
  const char* p = in.data();
  const char* end = p + in.size();
  while (p < end) {
    const char* run = p;
    while (p < end && static_cast<unsigned char>(*p) < 0x80) ++p;
    out.append(run, static_cast<size_t>(p - run));
    if (p >= end) break;
    const auto& enc = t.e[static_cast<unsigned char>(*p) - 0x80];
    out.append(&enc[1], static_cast<size_t>(enc[0]));
    ++p;
  }
}

// Length of the valid UTF-8 sequence at p (*p >= 0x80), or 0.
inline size_t utf8SeqLen(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = p[0];
  const size_t avail = static_cast<size_t>(end - p);
  if (c >= 0xC2 && c <= 0xDF) {
    return (avail >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;   // overlong
    if (c == 0xED && p[1] >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) {
      return 0;
    }
    if (c == 0xF0 && p[1] < 0x90) return 0;   // overlong
    if (c == 0xF4 && p[1] >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

enum class Kind { kUtf8, kAscii, kCp1252, kUtf7, kIconv, kUnknown };

struct Resolved {
  Kind kind;
  std::string iconv_name;
};

std::string normalizeLabel(std::string_view label) {
  std::string s;
  s.reserve(label.size());
  for (char c : label) {
    if (c == '"' || c == '\'' || c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    s += (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
  // RFC 2231 section 5: "charset*language".
  if (size_t star = s.find('*'); star != std::string::npos) s.resize(star);
  return s;
}

const std::unordered_map<std::string_view, std::string_view>& aliasTable() {
  // label -> "" for UTF-8, "cp1252", "utf7", or an iconv name.
  static const std::unordered_map<std::string_view, std::string_view> t = {
      {"utf-8", ""},
      {"utf8", ""},
      {"unicode-1-1-utf-8", ""},
      {"x-unicode20utf8", ""},
      {"unicode-2-0-utf-8", ""},
      {"us-ascii", "ascii"},
      {"ascii", "ascii"},
      {"ansi_x3.4-1968", "ascii"},
      {"iso646-us", "ascii"},
      {"us", "ascii"},
      {"cp367", "ascii"},
      {"ibm367", "ascii"},
      {"iso-ir-6", "ascii"},
      {"646", "ascii"},
      {"default", "ascii"},
      {"x-unknown", "ascii"},
      {"unknown-8bit", "ascii"},
      {"x-user-defined", "ascii"},
      {"unknown", "ascii"},
      {"us-ascii-8bit", "ascii"},
      {"iso-8859-1", "cp1252"},
      {"iso8859-1", "cp1252"},
      {"iso_8859-1", "cp1252"},
      {"latin1", "cp1252"},
      {"latin-1", "cp1252"},
      {"l1", "cp1252"},
      {"cp819", "cp1252"},
      {"ibm819", "cp1252"},
      {"iso-ir-100", "cp1252"},
      {"iso_8859-1:1987", "cp1252"},
      {"8859-1", "cp1252"},
      {"iso88591", "cp1252"},
      {"windows-1252", "cp1252"},
      {"cp1252", "cp1252"},
      {"x-cp1252", "cp1252"},
      {"win-1252", "cp1252"},
      {"windows1252", "cp1252"},
      {"ms-ansi", "cp1252"},
      {"utf-7", "utf7"},
      {"utf7", "utf7"},
      {"unicode-1-1-utf-7", "utf7"},
      {"csunicode11utf7", "utf7"},
      {"x-unicode-2-0-utf-7", "utf7"},
      {"gb2312", "GB18030"},
      {"gbk", "GB18030"},
      {"x-gbk", "GB18030"},
      {"cp936", "GB18030"},
      {"euc-cn", "GB18030"},
      {"csgb2312", "GB18030"},
      {"chinese", "GB18030"},
      {"gb_2312-80", "GB18030"},
      {"gb18030", "GB18030"},
      {"x-euc-cn", "GB18030"},
      {"ks_c_5601-1987", "CP949"},
      {"ks_c_5601", "CP949"},
      {"ks_c_5601-1989", "CP949"},
      {"euc-kr", "CP949"},
      {"x-euc-kr", "CP949"},
      {"ksc5601", "CP949"},
      {"ksc_5601", "CP949"},
      {"cp949", "CP949"},
      {"windows-949", "CP949"},
      {"korean", "CP949"},
      {"shift_jis", "CP932"},
      {"shift-jis", "CP932"},
      {"sjis", "CP932"},
      {"x-sjis", "CP932"},
      {"ms_kanji", "CP932"},
      {"csshiftjis", "CP932"},
      {"windows-31j", "CP932"},
      {"cp932", "CP932"},
      {"x-ms-cp932", "CP932"},
      {"shiftjis", "CP932"},
      {"iso-2022-jp", "ISO-2022-JP-3"},
      {"csiso2022jp", "ISO-2022-JP-3"},
      {"euc-jp", "EUC-JP-MS"},
      {"x-euc-jp", "EUC-JP-MS"},
      {"big5", "BIG5-HKSCS"},
      {"x-x-big5", "BIG5-HKSCS"},
      {"cn-big5", "BIG5-HKSCS"},
      {"csbig5", "BIG5-HKSCS"},
      {"big5-hkscs", "BIG5-HKSCS"},
      {"iso-8859-8-i", "ISO-8859-8"},
      {"iso-8859-6-i", "ISO-8859-6"},
      {"iso-8859-8-e", "ISO-8859-8"},
      {"iso-8859-6-e", "ISO-8859-6"},
      {"logical", "ISO-8859-8"},
      {"tis-620", "CP874"},
      {"windows-874", "CP874"},
      {"x-mac-roman", "MACINTOSH"},
      {"macintosh", "MACINTOSH"},
      {"mac", "MACINTOSH"},
      {"x-mac-cyrillic", "MAC-CYRILLIC"},
      {"unicode", "UTF-16LE"},
      {"unicodefffe", "UTF-16BE"},
      {"ucs-2", "UCS-2"},
      {"utf-16", "UTF-16"},
      {"utf-32", "UTF-32"},
  };
  return t;
}

// Per-thread cache of conversion descriptors, most recent first.
class IconvCache {
 public:
  ~IconvCache() {
    for (auto& e : entries_) {
      if (e.cd != invalid()) iconv_close(e.cd);
    }
  }
  // Returns the descriptor for `name` (reset to its initial state), or invalid().
  iconv_t get(const std::string& name) {
    for (size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].name == name) {
        if (i != 0) std::swap(entries_[i], entries_[0]);
        iconv_t cd = entries_[0].cd;
        if (cd != invalid()) iconv(cd, nullptr, nullptr, nullptr, nullptr);
        return cd;
      }
    }
    iconv_t cd = iconv_open("UTF-8", name.c_str());
    if (entries_.size() >= kMax) {
      if (entries_.back().cd != invalid()) iconv_close(entries_.back().cd);
      entries_.pop_back();
    }
    entries_.insert(entries_.begin(), Entry{name, cd});
    return cd;
  }
  static iconv_t invalid() { return reinterpret_cast<iconv_t>(-1); }

 private:
  static constexpr size_t kMax = 24;
  struct Entry {
    std::string name;
    iconv_t cd;
  };
  std::vector<Entry> entries_;
};

IconvCache& iconvCache() {
  thread_local IconvCache cache;
  return cache;
}

Resolved resolve(std::string_view label) {
  if (label.empty()) return {Kind::kAscii, {}};
  if (label.size() > 64) return {Kind::kUnknown, {}};
  std::string norm = normalizeLabel(label);
  if (norm.empty()) return {Kind::kAscii, {}};
  const auto& t = aliasTable();
  if (auto it = t.find(norm); it != t.end()) {
    if (it->second.empty()) return {Kind::kUtf8, {}};
    if (it->second == "ascii") return {Kind::kAscii, {}};
    if (it->second == "cp1252") return {Kind::kCp1252, {}};
    if (it->second == "utf7") return {Kind::kUtf7, {}};
    return {Kind::kIconv, std::string(it->second)};
  }
  // "x-" prefixed labels are often a known charset with a vendor prefix.
  std::string name = norm;
  for (char& c : name) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  for (char c : name) {
    // iconv names are [A-Z0-9-_.:()/]; anything else is junk. "//" would select iconv
    // options (//TRANSLIT, //IGNORE), which a message must not choose.
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                    c == '.' || c == ':' || c == '(' || c == ')' || c == '/';
    if (!ok) return {Kind::kUnknown, {}};
  }
  if (name.find("//") != std::string::npos) return {Kind::kUnknown, {}};
  return {Kind::kIconv, name};
}

bool convertIconv(iconv_t cd, std::string_view in, std::string& out) {
  bool clean = true;
  const size_t base = out.size();
  size_t cap = in.size() * 2 + 32;
  out.resize(base + cap);
  size_t used = 0;
  char* inp = const_cast<char*>(in.data());
  size_t inleft = in.size();
  auto room = [&](size_t need) {
    if (cap - used < need) {
      cap = cap * 2 + need;
      out.resize(base + cap);
    }
  };
  for (;;) {
    char* outp = out.data() + base + used;
    size_t outleft = cap - used;
    const size_t r =
        iconv(cd, inleft ? &inp : nullptr, inleft ? &inleft : nullptr, &outp, &outleft);
    used = static_cast<size_t>(outp - (out.data() + base));
    if (r != static_cast<size_t>(-1)) {
      if (inleft == 0) {
        // Flush: emit whatever the shift state still holds (ISO-2022-JP returns to ASCII).
        room(16);
        outp = out.data() + base + used;
        outleft = cap - used;
        iconv(cd, nullptr, nullptr, &outp, &outleft);
        used = static_cast<size_t>(outp - (out.data() + base));
        break;
      }
      continue;
    }
    if (errno == E2BIG) {
      room(in.size() + 64);
      continue;
    }
    clean = false;
    room(4);
    std::memcpy(out.data() + base + used, kReplacement, 3);
    used += 3;
    if (errno == EILSEQ && inleft > 0) {
      ++inp;
      --inleft;
      if (inleft == 0) break;
      continue;
    }
    break;  // EINVAL: an incomplete sequence at the end of the input
  }
  out.resize(base + used);
  return clean;
}

// RFC 2152 "modified base64": the base64 alphabet without "=".
struct Base64Values {
  int8_t v[256];
  Base64Values() {
    for (auto& x : v) x = -1;
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) v[static_cast<unsigned char>(a[i])] = static_cast<int8_t>(i);
  }
};

bool convertUtf7(std::string_view in, std::string& out) {
  static const Base64Values kV;
  bool clean = true;
  size_t i = 0;
  const size_t n = in.size();
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(in[i]);
    if (c != '+') {
      if (c < 0x80) {
        out += static_cast<char>(c);
      } else {
        out += kReplacement;
        clean = false;
      }
      ++i;
      continue;
    }
    ++i;
    if (i < n && in[i] == '-') {
      out += '+';
      ++i;
      continue;
    }
    uint32_t bits = 0;
    int nbits = 0;
    uint32_t high = 0;  // a pending high surrogate
    while (i < n && kV.v[static_cast<unsigned char>(in[i])] >= 0) {
      bits =
          ((bits << 6) | static_cast<uint32_t>(kV.v[static_cast<unsigned char>(in[i])])) & 0x3FFFFF;
      nbits += 6;
      ++i;
      if (nbits >= 16) {
        const uint32_t unit = (bits >> (nbits - 16)) & 0xFFFF;
        nbits -= 16;
        if (unit >= 0xD800 && unit <= 0xDBFF) {
          if (high) {
            out += kReplacement;
            clean = false;
          }
          high = unit;
        } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
          if (high) {
            appendCodepoint(out, 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00));
            high = 0;
          } else {
            out += kReplacement;
            clean = false;
          }
        } else {
          if (high) {
            out += kReplacement;
            clean = false;
            high = 0;
          }
          appendCodepoint(out, unit);
        }
      }
    }
    if (high) {
      out += kReplacement;
      clean = false;
    }
    if (i < n && in[i] == '-') ++i;  // the explicit end of a shifted run is absorbed
  }
  return clean;
}

}  // namespace

size_t validUtf8Prefix(std::string_view s) {
  const auto* begin = reinterpret_cast<const unsigned char*>(s.data());
  const auto* p = begin;
  const auto* end = p + s.size();
  while (p < end) {
    while (end - p >= 16) {
      uint64_t a, b;
      std::memcpy(&a, p, 8);
      std::memcpy(&b, p + 8, 8);
      if ((a | b) & 0x8080808080808080ull) break;
      p += 16;
    }
    while (p < end && *p < 0x80) {
      ++p;
      if (end - p >= 16 && ((reinterpret_cast<uintptr_t>(p) & 7) == 0)) break;
    }
    if (p >= end) break;
    if (*p < 0x80) continue;
    const size_t n = utf8SeqLen(p, end);
    if (n == 0) return static_cast<size_t>(p - begin);
    p += n;
  }
  return s.size();
}

bool isValidUtf8(std::string_view s) { return validUtf8Prefix(s) == s.size(); }

bool appendUtf8Sanitized(std::string_view in, std::string& out) {
  size_t ok = validUtf8Prefix(in);
  if (ok == in.size()) {
    out.append(in);
    return true;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const auto* end = p + in.size();
  out.append(in.data(), ok);
  p += ok;
  while (p < end) {
    if (*p < 0x80) {
      out += static_cast<char>(*p++);
      continue;
    }
    const size_t n = utf8SeqLen(p, end);
    if (n == 0) {
      out += kReplacement;
      ++p;
    } else {
      out.append(reinterpret_cast<const char*>(p), n);
      p += n;
    }
  }
  return false;
}

bool sanitizeUtf8InPlace(std::string& s) {
  if (validUtf8Prefix(s) == s.size()) return true;
  std::string fixed;
  fixed.reserve(s.size() + 16);
  appendUtf8Sanitized(s, fixed);
  s.swap(fixed);
  return false;
}

bool appendUtf8OrLatin(std::string_view in, std::string& out) {
  if (isValidUtf8(in)) {
    out.append(in);
    return true;
  }
  appendCp1252(in, out);
  return false;
}

bool isUtf8Compatible(std::string_view charset) { return resolve(charset).kind == Kind::kUtf8; }

bool isKnownCharset(std::string_view charset) {
  Resolved r = resolve(charset);
  if (r.kind == Kind::kUnknown) return false;
  if (r.kind != Kind::kIconv) return true;
  return iconvCache().get(r.iconv_name) != IconvCache::invalid();
}

ConvertStatus convertToUtf8(std::string_view charset, std::string_view in, std::string& out) {
  const size_t start = out.size();
  Resolved r = resolve(charset);
  ConvertStatus status = ConvertStatus::kOk;
  switch (r.kind) {
    case Kind::kUtf8:
      if (!appendUtf8Sanitized(in, out)) status = ConvertStatus::kReplaced;
      break;
    case Kind::kAscii:
      // 8-bit bytes in text labelled US-ASCII (or not labelled): UTF-8 if they form it,
      // else the usual single-byte meaning.
      if (!appendUtf8OrLatin(in, out)) status = ConvertStatus::kFallback;
      break;
    case Kind::kCp1252:
      appendCp1252(in, out);
      break;
    case Kind::kUtf7:
      if (!convertUtf7(in, out)) status = ConvertStatus::kReplaced;
      break;
    case Kind::kIconv: {
      iconv_t cd = iconvCache().get(r.iconv_name);
      if (cd != IconvCache::invalid()) {
        if (!convertIconv(cd, in, out)) status = ConvertStatus::kReplaced;
        // UCS-4 style converters pass through values that are not Unicode scalar values
        // (surrogates, above U+10FFFF): re-check what iconv wrote.
        if (validUtf8Prefix(std::string_view(out).substr(start)) != out.size() - start) {
          std::string fixed;
          appendUtf8Sanitized(std::string_view(out).substr(start), fixed);
          out.resize(start);
          out += fixed;
          status = ConvertStatus::kReplaced;
        }
        break;
      }
      [[fallthrough]];
    }
    case Kind::kUnknown:
      appendUtf8OrLatin(in, out);
      status = ConvertStatus::kUnknownCharset;
      break;
  }
  // A byte order mark at the start is an encoding artefact, not text.
  if (out.size() - start >= 3 && std::memcmp(out.data() + start, "\xEF\xBB\xBF", 3) == 0) {
    out.erase(start, 3);
  }
  return status;
}

}  // namespace mx::mime
