// mime/decode.cc — see decode.h. RFC 2045 sections 6.7 (quoted-printable) and 6.8 (base64),
// RFC 2047 section 4.2 (Q encoding), uuencode as written by POSIX uuencode(1).
//
// Speed: base64 is most of the bytes of real mail (attachments), so its decoder has three
// tiers: an AVX2 kernel that turns 32 clean characters into 24 bytes (chosen at run time),
// a scalar loop over 8-character groups through a lookup table, and a byte-at-a-time path
// that handles line breaks, padding and junk. Each tier falls to the next only on a group
// that is not clean, so a 76-column line costs two AVX2 steps plus a dozen scalar bytes.
// Trust: any bytes; every read is bounds-checked against `end`, writes go to a buffer sized
// from the input length beforehand.
#include "mime/decode.h"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mx::mime {
namespace {

constexpr uint8_t kWhite = 0x80;
constexpr uint8_t kPad = 0x81;
constexpr uint8_t kBad = 0xFF;

struct Base64Table {
  uint8_t v[256];
  constexpr Base64Table() : v() {
    for (int i = 0; i < 256; ++i) v[i] = kBad;
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) v[static_cast<uint8_t>(alphabet[i])] = static_cast<uint8_t>(i);
    for (unsigned char c : {' ', '\t', '\r', '\n', '\f', '\v'}) v[c] = kWhite;
    v[static_cast<unsigned char>('=')] = kPad;
  }
};
constexpr Base64Table kB64;

struct HexTable {
  int8_t v[256];
  constexpr HexTable() : v() {
    for (int i = 0; i < 256; ++i) v[i] = -1;
    for (int i = 0; i < 10; ++i) v['0' + i] = static_cast<int8_t>(i);
    for (int i = 0; i < 6; ++i) {
      v['A' + i] = static_cast<int8_t>(10 + i);
      v['a' + i] = static_cast<int8_t>(10 + i);
    }
  }
};
constexpr HexTable kHex;

#if defined(__x86_64__)
// Decodes 32 base64 characters at `in` into 24 bytes at `out` (which must have 32 writable
// bytes). Returns false, writing nothing useful, if any of the 32 is outside the alphabet.
// Bytes of c in [lo, hi] (signed compares: bytes >= 0x80 are negative, so never in range).
__attribute__((target("avx2"))) inline __m256i inRange(__m256i c, char lo, char hi) {
  return _mm256_and_si256(_mm256_cmpgt_epi8(c, _mm256_set1_epi8(static_cast<char>(lo - 1))),
                          _mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(hi + 1)), c));
}

__attribute__((target("avx2"))) bool decodeBlockAvx2(const uint8_t* in, uint8_t* out) {
  const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in));
  const __m256i upper = inRange(c, 'A', 'Z');
  const __m256i lower = inRange(c, 'a', 'z');
  const __m256i digit = inRange(c, '0', '9');
  const __m256i plus = _mm256_cmpeq_epi8(c, _mm256_set1_epi8('+'));
  const __m256i slash = _mm256_cmpeq_epi8(c, _mm256_set1_epi8('/'));
  const __m256i valid = _mm256_or_si256(_mm256_or_si256(upper, lower),
                                        _mm256_or_si256(digit, _mm256_or_si256(plus, slash)));
  if (static_cast<uint32_t>(_mm256_movemask_epi8(valid)) != 0xFFFFFFFFu) return false;
  // value = c + offset, the offset chosen by class (the classes are disjoint).
  __m256i off = _mm256_and_si256(upper, _mm256_set1_epi8(-65));
  off = _mm256_or_si256(off, _mm256_and_si256(lower, _mm256_set1_epi8(-71)));
  off = _mm256_or_si256(off, _mm256_and_si256(digit, _mm256_set1_epi8(4)));
  off = _mm256_or_si256(off, _mm256_and_si256(plus, _mm256_set1_epi8(19)));
  off = _mm256_or_si256(off, _mm256_and_si256(slash, _mm256_set1_epi8(16)));
  const __m256i v = _mm256_add_epi8(c, off);
  // Pairs of 6-bit values into 12 bits, pairs of those into 24 bits per 32-bit lane.
  const __m256i ab = _mm256_maddubs_epi16(v, _mm256_set1_epi32(0x01400140));
  const __m256i abcd = _mm256_madd_epi16(ab, _mm256_set1_epi32(0x00011000));
  // Each lane holds 0x00XXYYZZ; output wants XX YY ZZ.
  // clang-format off
  const __m256i shuf = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
                                        2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
  // clang-format on
  const __m256i packed = _mm256_shuffle_epi8(abcd, shuf);
  const __m256i joined =
      _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), joined);
  return true;
}

bool haveAvx2() {
  static const bool have = __builtin_cpu_supports("avx2");
  return have;
}
#endif

// Grows `out` by `extra` writable bytes and returns a pointer to the first of them.
uint8_t* growFor(std::string& out, size_t extra, size_t* base) {
  *base = out.size();
  out.resize(*base + extra);
  return reinterpret_cast<uint8_t*>(out.data()) + *base;
}

}  // namespace

void Base64Decoder::update(std::string_view in, std::string& out) {
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  const auto* const end = p + in.size();
  const uint64_t at = consumed_;
  consumed_ += in.size();
  if (ended_) {
    // After the end of the data: only note what is not padding or whitespace.
    for (const uint8_t* q = p; q < end; ++q) {
      const uint8_t c = kB64.v[*q];
      if (c == kWhite || c == kPad) continue;
      if (trailing_at_ < 0) trailing_at_ = static_cast<int64_t>(at + static_cast<uint64_t>(q - p));
      ++trailing_bytes_;
      clean_ = false;
    }
    return;
  }
  size_t base;
  uint8_t* const o0 = growFor(out, base64DecodedBound(in.size()) + 32, &base);
  uint8_t* o = o0;
  uint32_t acc = acc_;
  int n = n_;
  while (p < end) {
    if (n == 0) {
#if defined(__x86_64__)
      if (end - p >= 32 && haveAvx2()) {
        while (end - p >= 32 && decodeBlockAvx2(p, o)) {
          p += 32;
          o += 24;
        }
      }
#endif
      while (end - p >= 8) {
        const uint64_t a = kB64.v[p[0]], b = kB64.v[p[1]], c = kB64.v[p[2]], d = kB64.v[p[3]];
        const uint64_t e = kB64.v[p[4]], f = kB64.v[p[5]], g = kB64.v[p[6]], h = kB64.v[p[7]];
        if ((a | b | c | d | e | f | g | h) & 0x80) break;
        const uint64_t v =
            (a << 42) | (b << 36) | (c << 30) | (d << 24) | (e << 18) | (f << 12) | (g << 6) | h;
        const uint64_t be = __builtin_bswap64(v << 16);
        std::memcpy(o, &be, 8);  // 6 useful bytes; the slack was reserved
        o += 6;
        p += 8;
      }
      if (end - p >= 4) {
        const uint32_t a = kB64.v[p[0]], b = kB64.v[p[1]], c = kB64.v[p[2]], d = kB64.v[p[3]];
        if (!((a | b | c | d) & 0x80)) {
          const uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
          o[0] = static_cast<uint8_t>(v >> 16);
          o[1] = static_cast<uint8_t>(v >> 8);
          o[2] = static_cast<uint8_t>(v);
          o += 3;
          p += 4;
          continue;
        }
      }
      // Line breaks between quanta: skip them without leaving the fast path.
      if (p < end && (*p == '\r' || *p == '\n')) {
        ++p;
        continue;
      }
      if (p >= end) break;
    }
    const uint8_t c = kB64.v[*p++];
    if (c < 64) {
      acc = (acc << 6) | c;
      if (++n == 4) {
        o[0] = static_cast<uint8_t>(acc >> 16);
        o[1] = static_cast<uint8_t>(acc >> 8);
        o[2] = static_cast<uint8_t>(acc);
        o += 3;
        n = 0;
        acc = 0;
      }
    } else if (c == kWhite) {
      continue;
    } else if (c == kPad) {
      // RFC 2045 section 6.8: '=' is padding at the end of the data, so the data ends here;
      // keep what the quantum carried. '=' where no padding can stand is a defect.
      if (n == 2) {
        *o++ = static_cast<uint8_t>(acc >> 4);
      } else if (n == 3) {
        *o++ = static_cast<uint8_t>(acc >> 10);
        *o++ = static_cast<uint8_t>(acc >> 2);
      } else {
        clean_ = false;
      }
      n = 0;
      acc = 0;
      ended_ = true;
      out.resize(base + static_cast<size_t>(o - o0));
      acc_ = 0;
      n_ = 0;
      // The rest of this piece goes through the after-the-end check.
      const uint64_t used = static_cast<uint64_t>(p - reinterpret_cast<const uint8_t*>(in.data()));
      consumed_ = at + used;
      update(in.substr(static_cast<size_t>(used)), out);
      return;
    } else {
      clean_ = false;
    }
  }
  acc_ = acc;
  n_ = n;
  out.resize(base + static_cast<size_t>(o - o0));
}

bool Base64Decoder::finish(std::string& out) {
  if (n_ == 2) {
    out += static_cast<char>(acc_ >> 4);
    clean_ = false;
  } else if (n_ == 3) {
    out += static_cast<char>(acc_ >> 10);
    out += static_cast<char>(acc_ >> 2);
    clean_ = false;
  } else if (n_ == 1) {
    clean_ = false;
  }
  n_ = 0;
  acc_ = 0;
  return clean_;
}

bool decodeBase64(std::string_view in, std::string& out) {
  Base64Decoder d;
  d.update(in, out);
  return d.finish(out);
}

bool decodeQuotedPrintable(std::string_view in, std::string& out) {
  size_t base;
  // Each LF may become CRLF: at most twice the input.
  uint8_t* const o0 = growFor(out, in.size() * 2 + 2, &base);
  uint8_t* o = o0;
  const char* p = in.data();
  const char* const end = p + in.size();
  bool clean = true;
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const char* line_end = nl ? nl : end;
    const char* eol_begin = line_end;
    if (eol_begin > p && eol_begin[-1] == '\r') --eol_begin;
    // Rule 3: trailing blanks were added in transport and are not data.
    const char* content_end = eol_begin;
    while (content_end > p && (content_end[-1] == ' ' || content_end[-1] == '\t')) --content_end;
    bool soft = false;
    const char* q = p;
    while (q < content_end) {
      const char* eq =
          static_cast<const char*>(std::memchr(q, '=', static_cast<size_t>(content_end - q)));
      const char* run_end = eq ? eq : content_end;
      std::memcpy(o, q, static_cast<size_t>(run_end - q));
      o += run_end - q;
      if (!eq) break;
      if (eq + 1 == content_end) {
        soft = true;  // rule 5: "=" at the end of a line is a soft line break
        break;
      }
      if (content_end - eq >= 3) {
        const int hi = kHex.v[static_cast<uint8_t>(eq[1])];
        const int lo = kHex.v[static_cast<uint8_t>(eq[2])];
        if (hi >= 0 && lo >= 0) {
          *o++ = static_cast<uint8_t>((hi << 4) | lo);
          q = eq + 3;
          continue;
        }
      }
      // A bare "=": keep it as text, as most readers do.
      *o++ = '=';
      clean = false;
      q = eq + 1;
    }
    if (nl && !soft) {
      // A hard line break is a CRLF in canonical form (RFC 2045 section 6.7 rule 4),
      // whatever the message's own line endings.
      o[0] = '\r';
      o[1] = '\n';
      o += 2;
    }
    p = nl ? nl + 1 : end;
  }
  out.resize(base + static_cast<size_t>(o - o0));
  return clean;
}

bool decodeQEncoding(std::string_view in, std::string& out) {
  bool clean = true;
  const size_t n = in.size();
  for (size_t i = 0; i < n; ++i) {
    const char c = in[i];
    if (c == '_') {
      out += ' ';
    } else if (c == '=') {
      if (i + 2 < n) {
        const int hi = kHex.v[static_cast<uint8_t>(in[i + 1])];
        const int lo = kHex.v[static_cast<uint8_t>(in[i + 2])];
        if (hi >= 0 && lo >= 0) {
          out += static_cast<char>((hi << 4) | lo);
          i += 2;
          continue;
        }
      }
      out += '=';
      clean = false;
    } else {
      out += c;
    }
  }
  return clean;
}

bool decodeUuencode(std::string_view in, std::string& out) {
  bool clean = true;
  size_t pos = 0;
  bool begun = false;
  while (pos < in.size()) {
    size_t nl = in.find('\n', pos);
    if (nl == std::string_view::npos) nl = in.size();
    std::string_view line = in.substr(pos, nl - pos);
    pos = nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (!begun && line.substr(0, 6) == "begin ") {
      begun = true;
      continue;
    }
    if (line == "end") break;
    if (line.empty()) continue;
    const int len = (line[0] - 0x20) & 0x3F;
    if (len == 0) continue;  // the "`" line before "end"
    // Each group of 4 characters carries 3 bytes; "`" stands for 0.
    size_t need = (static_cast<size_t>(len) + 2) / 3 * 4;
    if (line.size() < 1 + need) {
      // Some encoders strip trailing spaces: pad with zeros rather than drop the line.
      if (line.size() < 1 + (static_cast<size_t>(len) * 4 + 2) / 3) clean = false;
    }
    int written = 0;
    for (size_t i = 1; written < len; i += 4) {
      auto ch = [&](size_t k) -> uint32_t {
        return k < line.size() ? (static_cast<uint32_t>(line[k] - 0x20) & 0x3F) : 0u;
      };
      const uint32_t v = (ch(i) << 18) | (ch(i + 1) << 12) | (ch(i + 2) << 6) | ch(i + 3);
      for (int k = 0; k < 3 && written < len; ++k, ++written) {
        out += static_cast<char>(v >> (16 - 8 * k));
      }
      if (i > line.size() + 4) break;
    }
  }
  return clean;
}

}  // namespace mx::mime
