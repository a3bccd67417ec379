// mime/parser.cc — see parser.h. The entity tree (RFC 2045 section 3, RFC 2046 section
// 5.1.1 delimiters, 5.1.7 unrecognised subtypes as mixed, 5.2.1 message/rfc822, RFC 6532
// section 3.5 message/global), header blocks (RFC 5322 sections 2.1-2.2), body selection for
// multipart/alternative (RFC 2046 section 5.1.4: the last alternative is preferred) and
// multipart/related (RFC 2387 section 3.1: the start part, else the first).
//
// Shape: one pass over the buffer per nesting level. A header block is walked line by line
// with memchr; a multipart body is searched for its delimiter with memmem (glibc's is
// sublinear for needles this long), and each part is then parsed within its own range, so a
// missing inner close delimiter cannot swallow the outer message. Leaves are decoded once:
// text bodies straight into their UTF-8 string, attachments 64 KiB of input at a time into a
// reused per-thread buffer (or into Part::data when the caller keeps the bytes), each piece
// hashed (SHA-256, core/sha256.h) while it is still in cache.
// Trust: untrusted input; every pointer is checked against the end of its range, recursion
// is bounded by max_depth (clamped to 256), part count by max_parts.
#include "mime/parser.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/sha256.h"
#include "mime/auth_results.h"
#include "mime/charset.h"
#include "mime/decode.h"
#include "mime/header.h"

namespace mx::mime {

std::string_view errorCodeName(ErrorCode code) {
  static constexpr std::string_view kNames[] = {"NO_HEADERS",
                                                "HEADER_MALFORMED",
                                                "HEADER_FOLDING",
                                                "HEADER_8BIT",
                                                "HEADER_DUPLICATE",
                                                "ENCODED_WORD_INVALID",
                                                "ADDRESS_INVALID",
                                                "DATE_INVALID",
                                                "MESSAGE_ID_INVALID",
                                                "BOUNDARY_MISSING",
                                                "BOUNDARY_NOT_FOUND",
                                                "CLOSE_DELIMITER_MISSING",
                                                "MULTIPART_EMPTY",
                                                "CTE_UNKNOWN",
                                                "CTE_INVALID_FOR_TYPE",
                                                "BASE64_INVALID",
                                                "QP_INVALID",
                                                "UUENCODE_INVALID",
                                                "CHARSET_UNKNOWN",
                                                "CHARSET_DECODE_ERROR",
                                                "CHARSET_REFUSED",
                                                "PARAM_INVALID",
                                                "NESTING_TOO_DEEP",
                                                "SIZE_LIMIT",
                                                "NUL_BYTES",
                                                "LINE_TOO_LONG",
                                                "OBSOLETE_SYNTAX",
                                                "OTHER",
                                                "PART_LIMIT",
                                                "HEADER_LIMIT"};
  const size_t i = static_cast<size_t>(code);
  return i < std::size(kNames) ? kNames[i] : "OTHER";
}

std::string_view severityName(Severity s) {
  switch (s) {
    case Severity::kWarning:
      return "warning";
    case Severity::kError:
      return "error";
    case Severity::kFatal:
      return "fatal";
  }
  return "error";
}

std::string_view partRoleName(PartRole r) {
  switch (r) {
    case PartRole::kContainer:
      return "container";
    case PartRole::kMessage:
      return "message";
    case PartRole::kBodyText:
      return "body-text";
    case PartRole::kBodyHtml:
      return "body-html";
    case PartRole::kAttachment:
      return "attachment";
    case PartRole::kInline:
      return "inline";
    case PartRole::kOther:
      return "other";
  }
  return "other";
}

namespace {

#if defined(__x86_64__)
bool haveAvx2() {
  static const bool have = __builtin_cpu_supports("avx2");
  return have;
}

#endif

constexpr size_t kMaxLineLength = 998;  // RFC 5322 section 2.1.1, without the CRLF

// What one pass over the message's lines finds.
struct LineScan {
  bool crlf = false;      // some LF follows a CR
  bool lf = false;        // some LF does not
  int64_t long_at = -1;   // offset of the first line longer than kMaxLineLength
  size_t long_len = 0;    // its length without the line break
};

// Notes a line [start, nl) that ends at the LF `nl` (or at the end of the input).
inline void noteLine(std::string_view s, size_t start, size_t nl, bool at_lf, LineScan* r) {
  if (r->long_at >= 0 || nl - start <= kMaxLineLength) return;
  size_t len = nl - start;
  if (at_lf && s[nl - 1] == '\r') --len;
  if (len > kMaxLineLength) {
    r->long_at = static_cast<int64_t>(start);
    r->long_len = len;
  }
}

#if defined(__x86_64__)
// From q, the first '\n' followed by `needle` (which starts with "--"), scanning for
// "\n--" 32 bytes at a time (memchr for the last few); returns it, or null.
__attribute__((target("avx2"))) const char* findLfDashDashAvx2(const char* q, const char* e,
                                                               std::string_view needle) {
  const __m256i kLf = _mm256_set1_epi8('\n');
  const __m256i kDash = _mm256_set1_epi8('-');
  const size_t n = needle.size();
  while (e - q >= 34) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
    const __m256i d1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 1));
    const __m256i d2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 2));
    uint32_t m = static_cast<uint32_t>(_mm256_movemask_epi8(
        _mm256_and_si256(_mm256_cmpeq_epi8(a, kLf),
                         _mm256_and_si256(_mm256_cmpeq_epi8(d1, kDash),
                                          _mm256_cmpeq_epi8(d2, kDash)))));
    while (m) {
      const char* c = q + __builtin_ctz(m);
      if (static_cast<size_t>(e - c - 1) >= n && std::memcmp(c + 1, needle.data(), n) == 0) {
        return c;
      }
      m &= m - 1;
    }
    q += 32;
  }
  // The tail: plain bytes, so that the caller's scalar loop can take over.
  while (q < e) {
    q = static_cast<const char*>(std::memchr(q, '\n', static_cast<size_t>(e - q)));
    if (!q) return nullptr;
    if (static_cast<size_t>(e - q - 1) >= n && std::memcmp(q + 1, needle.data(), n) == 0) {
      return q;
    }
    ++q;
  }
  return nullptr;
}

// Scans 32-byte blocks for LF, noting whether one follows a CR (CRLF) or not (bare LF), and
// the first line longer than 998 bytes; stops early once all three were seen. Returns how
// many bytes it covered (a multiple of 32) and, in *line_start, where the current line
// began; the caller scans the rest.
__attribute__((target("avx2"))) size_t scanLinesAvx2(std::string_view s, LineScan* r,
                                                     size_t* line_start) {
  const char* p = s.data();
  const size_t n = s.size() / 32 * 32;
  const __m256i kLf = _mm256_set1_epi8('\n');
  const __m256i kCr = _mm256_set1_epi8('\r');
  uint32_t carry = 0;  // 1 when the previous block ended with CR
  size_t start = 0;
  size_t i = 0;
  for (; i < n; i += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
    const uint32_t nl = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, kLf)));
    const uint32_t cr = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, kCr)));
    if (nl) {
      const uint32_t after_cr = (cr << 1) | carry;
      if (nl & after_cr) r->crlf = true;
      if (nl & ~after_cr) r->lf = true;
      // Only the block's first LF can end a long line; the others end lines < 32 bytes.
      noteLine(s, start, i + static_cast<size_t>(__builtin_ctz(nl)), true, r);
      start = i + 32 - static_cast<size_t>(__builtin_clz(nl));
      if (r->crlf && r->lf && r->long_at >= 0) {
        i += 32;
        break;
      }
    }
    carry = cr >> 31;
  }
  *line_start = start;
  return i;
}
#endif

// The first "--boundary" (`needle`) at or after `pos` that starts a line of [b, e) (b
// itself counts as a line start), or null. RFC 2046 5.1.1: a delimiter is CRLF "--"
// boundary, so only "\n--" positions are candidates; in base64 and most text they are rare,
// and finding them 32 bytes at a time is several times faster than memmem's search for the
// whole needle everywhere (a twentieth of the parse time before).
const char* findDelimiter(const char* b, const char* pos, const char* e, std::string_view needle) {
  const size_t n = needle.size();
  auto matchAt = [&](const char* p) {
    return static_cast<size_t>(e - p) >= n && std::memcmp(p, needle.data(), n) == 0;
  };
  if (pos == b && matchAt(b)) return b;
  const char* q = pos > b ? pos - 1 : pos;  // q: the '\n' before a candidate
#if defined(__x86_64__)
  if (haveAvx2()) {
    q = findLfDashDashAvx2(q, e, needle);
    return q ? q + 1 : nullptr;
  }
#endif
  while (q < e) {
    q = static_cast<const char*>(std::memchr(q, '\n', static_cast<size_t>(e - q)));
    if (!q) return nullptr;
    if (matchAt(q + 1)) return q + 1;
    ++q;
  }
  return nullptr;
}

constexpr uint32_t kHardMaxDepth = 256;
// Encoded bytes decoded (and hashed) at a time: the decoded piece stays in L2.
constexpr size_t kDecodePiece = 64 * 1024;

inline char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool nameIs(std::string_view name, std::string_view lower_literal) {
  if (name.size() != lower_literal.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (lowerAscii(name[i]) != lower_literal[i]) return false;
  }
  return true;
}

std::string_view trimView(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool isTextBodyType(const std::string& ct) { return ct == "text/plain" || ct == "text/html"; }

// Reused decode buffer for attachments (capacity kept between messages).
std::string& scratch() {
  thread_local std::string s;
  return s;
}

// The attachment hash, reused between attachments and messages (one EVP context per thread).
mx::Sha256& attachmentHasher() {
  thread_local mx::Sha256 h;
  return h;
}

// After one huge attachment, give the memory back rather than keep it per thread forever.
void trimScratch() {
  constexpr size_t kKeep = 8u << 20;
  std::string& s = scratch();
  if (s.capacity() > kKeep) std::string().swap(s);
}

// What a subtree of a multipart/alternative can show. `weak_text`: only the text of a
// multipart that could not be split (no boundary, no delimiter), which loses to real text.
struct Provides {
  bool text = false;
  bool html = false;
  bool weak_text = false;
};

class Parser {
 public:
  Parser(std::string_view raw, const ParseOptions& options, ParsedMessage& m)
      : raw_(raw),
        opt_(options),
        m_(m),
        max_depth_(std::min(options.max_depth, kHardMaxDepth)),
        max_parts_(std::max<uint32_t>(options.max_parts, 1)) {}  // the root always exists

  void run() {
    m_.raw = raw_;
    std::string_view input = raw_;
    if (input.size() > opt_.max_total_size) {
      input = input.substr(0, opt_.max_total_size);
      addError(ErrorCode::kSizeLimit, Severity::kFatal, -1, "", static_cast<int64_t>(input.size()),
               "message larger than max_total_size; the rest was not parsed");
      m_.truncated = true;
    }
    m_.parsed_size = input.size();
    m_.parts.reserve(8);
    parseEntity(input, -1, 0, "1", false, false);
    m_.top_field_count = m_.parts[0].field_count;
    m_.header_size = m_.parts[0].header_block.size();
    chooseHeaderCharset();
    scanLines(input);
    interpretTopFields();
    assignRoles();
    decodeLeaves();
  }

 private:
  // Offset of p in the raw message, or -1 when p points into a decoded buffer.
  int64_t offsetOf(const char* p) const {
    const auto a = reinterpret_cast<uintptr_t>(p);
    const auto b = reinterpret_cast<uintptr_t>(raw_.data());
    if (a >= b && a <= b + raw_.size()) return static_cast<int64_t>(a - b);
    return -1;
  }

  void addError(ErrorCode code, Severity sev, int32_t part, std::string_view field, int64_t offset,
                std::string detail) {
    // A hostile message could repeat one defect a million times; keep the list bounded.
    if (m_.errors.size() >= 1000) return;
    ParseError e;
    e.code = code;
    e.severity = sev;
    e.part = part;
    e.field.assign(field);
    e.offset = offset;
    e.detail = std::move(detail);
    m_.errors.push_back(std::move(e));
  }

  void noteDecode(const DecodeNotes& n, int32_t part, std::string_view field, int64_t offset) {
    if (n.encoded_word_invalid) {
      addError(ErrorCode::kEncodedWordInvalid, Severity::kWarning, part, field, offset, "");
    }
    if (n.raw_8bit) {
      addError(ErrorCode::kHeader8bit, Severity::kWarning, part, field, offset,
               "raw 8-bit bytes that are not UTF-8, read as windows-1252");
    }
    if (n.charset_unknown) {
      addError(ErrorCode::kCharsetUnknown, Severity::kWarning, part, field, offset, n.charset);
    }
    if (n.charset_error) {
      addError(ErrorCode::kCharsetDecodeError, Severity::kError, part, field, offset, n.charset);
    }
    if (n.param_invalid) {
      addError(ErrorCode::kParamInvalid, Severity::kWarning, part, field, offset, "");
    }
    if (n.address_invalid) {
      addError(ErrorCode::kAddressInvalid, Severity::kWarning, part, field, offset, "");
    }
  }

  // ---------------------------------------------------------------- the tree

  // Parses one entity (header block + body). Returns its index, or -1 past max_parts.
  int32_t parseEntity(std::string_view entity, int32_t parent, uint32_t depth, std::string part_id,
                      bool nested, bool digest_child) {
    if (m_.parts.size() >= max_parts_) {
      if (!part_limit_reported_) {
        part_limit_reported_ = true;
        m_.truncated = true;
        addError(ErrorCode::kPartLimit, Severity::kFatal, parent, "", offsetOf(entity.data()),
                 "more than max_parts entities; the rest are not listed");
      }
      return -1;
    }
    const auto idx = static_cast<int32_t>(m_.parts.size());
    m_.parts.emplace_back();
    leafish_.push_back(false);
    weak_text_.push_back(false);
    raw8_params_.push_back(false);
    {
      Part& p = m_.parts.back();
      p.part_id = std::move(part_id);
      p.parent = parent;
      p.depth = depth;
      p.nested = nested;
      p.offset = offsetOf(entity.data());
    }
    if (parent >= 0) m_.parts[parent].children.push_back(static_cast<uint32_t>(idx));
    const char* body = parseHeaderBlock(entity, idx, parent < 0);
    {
      Part& p = m_.parts[idx];
      p.header_block = std::string_view(entity.data(), static_cast<size_t>(body - entity.data()));
      p.body = std::string_view(body, static_cast<size_t>(entity.data() + entity.size() - body));
    }
    interpretContentFields(idx, digest_child);
    const std::string& ct = m_.parts[idx].content_type;
    const bool multipart = ct.compare(0, 10, "multipart/") == 0;
    const bool message = ct == "message/rfc822" || ct == "message/global";
    if (multipart || message) {
      if (depth + 1 >= max_depth_) {
        m_.truncated = true;
        addError(ErrorCode::kNestingTooDeep, Severity::kFatal, idx, "", m_.parts[idx].offset,
                 "nesting deeper than max_depth; this entity is kept as one opaque part");
        leafish_[idx] = true;
      } else if (multipart) {
        splitMultipart(idx, depth, nested);
      } else {
        parseEncapsulated(idx, depth);
      }
    }
    return idx;
  }

  // Walks the header block at the start of `entity`, appending its fields to m_.fields.
  // Returns where the body starts.
  const char* parseHeaderBlock(std::string_view entity, int32_t idx, bool top) {
    const char* const begin = entity.data();
    const char* const end = begin + entity.size();
    const char* p = begin;
    const auto first = static_cast<uint32_t>(m_.fields.size());
    m_.parts[idx].first_field = first;
    int64_t cur = -1;  // index of the field being continued
    const char* cur_start = nullptr;
    bool any = false;
    const char* body = end;
    // An mbox "From " separator line before the first field ("From sender date"): not a
    // field, unlike "From  : John" (blanks before the colon, RFC 5322 section 4.5).
    if (top && entity.size() >= 5 && std::memcmp(p, "From ", 5) == 0) {
      const void* nl = std::memchr(p, '\n', entity.size());
      const char* line_end = nl ? static_cast<const char*>(nl) : end;
      const char* name_end = nullptr;
      if (!fieldColon(p, line_end, &name_end)) p = nl ? line_end + 1 : end;
    }
    const char* const fields_begin = p;
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      const char* line_end = nl ? nl : end;
      const char* content_end = line_end;
      if (content_end > p && content_end[-1] == '\r') --content_end;
      const char* next = nl ? nl + 1 : end;
      if (content_end == p) {  // the blank line
        body = next;
        break;
      }
      if (*p == ' ' || *p == '\t') {
        bool blank = true;
        for (const char* q = p; q < content_end && blank; ++q) blank = (*q == ' ' || *q == '\t');
        if (cur >= 0) {
          if (blank) {
            addError(ErrorCode::kHeaderFolding, Severity::kWarning, idx, m_.fields[cur].name,
                     offsetOf(p), "a folded line holds only blanks");
          }
          HeaderField& f = m_.fields[cur];
          f.raw_value = std::string_view(f.raw_value.data(),
                                         static_cast<size_t>(content_end - f.raw_value.data()));
          f.length = static_cast<uint32_t>(next - cur_start);
          p = next;
          if (static_cast<size_t>(p - begin) > opt_.max_header_bytes) {
            body = skipOversizedHeader(p, end, idx);
            break;
          }
          continue;
        }
        if (blank) {  // blanks before any field: taken as the empty line
          body = next;
          break;
        }
      }
      const char* name_end = nullptr;
      const char* colon = fieldColon(p, content_end, &name_end);
      // (Never for a "--" line: that is a delimiter right after a part's fields.)
      const bool dashes = content_end - p >= 2 && p[0] == '-' && p[1] == '-';
      if (!colon && any && !dashes && nextLineIsKnownField(next, end)) {
        // A stray line amid the fields (a value wrapped without indentation, junk): the
        // block clearly goes on, so skip the line rather than start the body here.
        addError(ErrorCode::kHeaderMalformed, Severity::kWarning, idx, "", offsetOf(p),
                 "line without a colon inside the header block; skipped");
        cur = -1;
        p = next;
        continue;
      }
      const bool valid = colon != nullptr;
      if (valid) {
        for (const char* q = p; q < name_end; ++q) {
          if (static_cast<unsigned char>(*q) >= 127) {
            addError(ErrorCode::kHeaderMalformed, Severity::kWarning, idx, "", offsetOf(p),
                     "8-bit bytes in a field name");
            break;
          }
        }
      }
      if (!valid) {
        if (!any) {
          // No header block: the entity is all body (RFC 2045 allows a part without fields
          // only after a blank line, but real mail and mbox files omit it).
          if (top) {
            addError(ErrorCode::kNoHeaders, Severity::kError, idx, "", offsetOf(begin),
                     "no header block; the whole input is taken as a text body");
          } else {
            addError(ErrorCode::kNoHeaders, Severity::kWarning, idx, "", offsetOf(begin),
                     "part without header block");
          }
          body = fields_begin;
        } else {
          addError(ErrorCode::kHeaderMalformed, Severity::kWarning, idx, "", offsetOf(p),
                   "line without a colon ends the header block (no blank line)");
          body = p;
        }
        break;
      }
      HeaderField f;
      f.name = std::string_view(p, static_cast<size_t>(name_end - p));
      f.raw_value = std::string_view(colon + 1, static_cast<size_t>(content_end - colon - 1));
      if (name_end != colon) {
        addError(ErrorCode::kObsoleteSyntax, Severity::kWarning, idx, f.name, offsetOf(p),
                 "blank between field name and colon");
      }
      f.offset = offsetOf(p);
      f.length = static_cast<uint32_t>(next - p);
      cur = static_cast<int64_t>(m_.fields.size());
      cur_start = p;
      m_.fields.push_back(f);
      any = true;
      p = next;
      if (static_cast<size_t>(p - begin) > opt_.max_header_bytes) {
        body = skipOversizedHeader(p, end, idx);
        break;
      }
    }
    const size_t block = static_cast<size_t>(body - begin);
    if (block && std::memchr(begin, 0, block)) {
      addError(ErrorCode::kNulBytes, Severity::kWarning, idx, "", offsetOf(begin),
               "NUL bytes in the header block");
    }
    m_.parts[idx].field_count = static_cast<uint32_t>(m_.fields.size()) - first;
    return body;
  }

  // If [p, content_end) is "name: value", returns the colon and sets *name_end (the name may
  // be followed by blanks: obsolete syntax, RFC 5322 section 4.5). Names may not hold
  // controls or blanks; 8-bit bytes are let through (and reported by the caller).
  static const char* fieldColon(const char* p, const char* content_end, const char** name_end) {
    const char* colon =
        static_cast<const char*>(std::memchr(p, ':', static_cast<size_t>(content_end - p)));
    if (!colon || colon == p) return nullptr;
    const char* e = colon;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t')) --e;
    if (e == p) return nullptr;
    for (const char* q = p; q < e; ++q) {
      const auto c = static_cast<unsigned char>(*q);
      if (c <= 32 || c == 127) return nullptr;
    }
    *name_end = e;
    return colon;
  }

  // True if the line at p is a field with a name every mailer writes (so that the header
  // block certainly continues there).
  static bool nextLineIsKnownField(const char* p, const char* end) {
    if (p >= end) return false;
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const char* line_end = nl ? nl : end;
    const char* name_end = nullptr;
    if (!fieldColon(p, line_end, &name_end)) return false;
    static constexpr std::string_view kKnown[] = {"from",
                                                  "to",
                                                  "cc",
                                                  "bcc",
                                                  "subject",
                                                  "date",
                                                  "message-id",
                                                  "reply-to",
                                                  "sender",
                                                  "in-reply-to",
                                                  "references",
                                                  "mime-version",
                                                  "content-type",
                                                  "content-transfer-encoding",
                                                  "content-disposition",
                                                  "content-id",
                                                  "received",
                                                  "return-path",
                                                  "x-mailer",
                                                  "user-agent"};
    const std::string_view name(p, static_cast<size_t>(name_end - p));
    for (std::string_view k : kKnown) {
      if (nameIs(name, k)) return true;
    }
    return false;
  }

  // Past max_header_bytes: skip to the blank line without collecting fields.
  const char* skipOversizedHeader(const char* p, const char* end, int32_t idx) {
    m_.truncated = true;
    addError(ErrorCode::kHeaderLimit, Severity::kFatal, idx, "", offsetOf(p),
             "header block larger than max_header_bytes; later fields are ignored");
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      if (!nl) return end;
      const char* next = nl + 1;
      if (next < end && *next == '\n') return next + 1;
      if (end - next >= 2 && next[0] == '\r' && next[1] == '\n') return next + 2;
      p = next;
    }
    return end;
  }

  void interpretContentFields(int32_t idx, bool digest_child) {
    auto [fb, fe] = m_.fieldsOf(static_cast<size_t>(idx));
    const HeaderField* ct_field = nullptr;
    const HeaderField* cte_field = nullptr;
    const HeaderField* cd_field = nullptr;
    const HeaderField* cid_field = nullptr;
    const HeaderField* desc_field = nullptr;
    for (const HeaderField* f = fb; f != fe; ++f) {
      const std::string_view n = f->name;
      if (n.size() < 10 || lowerAscii(n[0]) != 'c' || lowerAscii(n[7]) != '-') continue;
      const HeaderField** slot = nullptr;
      if (nameIs(n, "content-type")) {
        slot = &ct_field;
      } else if (nameIs(n, "content-transfer-encoding")) {
        slot = &cte_field;
      } else if (nameIs(n, "content-disposition")) {
        slot = &cd_field;
      } else if (nameIs(n, "content-id")) {
        slot = &cid_field;
      } else if (nameIs(n, "content-description")) {
        slot = &desc_field;
      }
      if (!slot) continue;
      if (*slot) {
        addError(ErrorCode::kHeaderDuplicate, Severity::kWarning, idx, n, f->offset,
                 "the first one is used");
        continue;
      }
      *slot = f;
    }
    Part& p = m_.parts[idx];
    bool malformed_ct = false;
    if (ct_field) {
      DecodeNotes notes;
      ContentTypeValue v = parseContentType(ct_field->raw_value, &notes);
      noteDecode(notes, idx, ct_field->name, ct_field->offset);
      if (notes.raw_8bit) raw8_params_[idx] = true;
      const bool no_type = v.type.empty() || v.type.find_first_of("\"=") != std::string::npos;
      if (no_type || v.subtype.empty()) {
        // RFC 2045 section 5.2: a syntactically invalid Content-Type (no type, or a type
        // without "/subtype": "BINARY", "application-x-gzip") is taken as the default,
        // text/plain; charset=us-ascii. No type is guessed from the word. The parameters
        // stay (a name= still names the file) and the field is kept as written.
        addError(ErrorCode::kHeaderMalformed, Severity::kWarning, idx, ct_field->name,
                 ct_field->offset,
                 no_type ? "no media type; the default text/plain is used"
                         : "media type without a subtype; the default text/plain is used");
        std::string raw;
        appendUtf8OrLatin(trimView(unfold(ct_field->raw_value)), raw);
        p.content_type_raw = std::move(raw);
        if (!digest_child) malformed_ct = true;
      } else {
        p.content_type_given = true;
        p.content_type = v.type + "/" + v.subtype;
      }
      p.params = std::move(v.params);
    }
    if (p.content_type.empty()) p.content_type = digest_child ? "message/rfc822" : "text/plain";
    if (malformed_ct) {
      p.charset = "us-ascii";  // the default's charset, whatever the broken field said
    } else if (const Param* cs = findParam(p.params, "charset")) {
      p.charset.assign(trimView(cs->value));  // params are UTF-8 already
      toLowerAscii(p.charset);
    }
    if (cte_field) {
      std::string t;
      for (char c : trimView(cte_field->raw_value)) {
        if (c == '(' || c == ';' || c == ' ' || c == '\t' || c == '\r' || c == '\n') break;
        t += lowerAscii(c);
      }
      if (!isValidUtf8(t)) {
        std::string u;
        appendUtf8OrLatin(t, u);
        t.swap(u);
      }
      p.transfer_encoding = t;
      if (t == "7bit") {
        p.encoding = TransferEncoding::k7bit;
      } else if (t == "8bit") {
        p.encoding = TransferEncoding::k8bit;
      } else if (t == "binary") {
        p.encoding = TransferEncoding::kBinary;
      } else if (t == "base64") {
        p.encoding = TransferEncoding::kBase64;
      } else if (t == "quoted-printable") {
        p.encoding = TransferEncoding::kQuotedPrintable;
      } else if (t == "x-uuencode" || t == "uuencode" || t == "x-uue" || t == "uue") {
        p.encoding = TransferEncoding::kUuencode;
      } else if (t.empty()) {
        p.encoding = TransferEncoding::kNone;
      } else {
        p.encoding = TransferEncoding::kUnknown;
        addError(ErrorCode::kCteUnknown, Severity::kWarning, idx, cte_field->name,
                 cte_field->offset, t);
      }
      if (p.content_type.compare(0, 10, "multipart/") == 0 &&
          (p.encoding == TransferEncoding::kBase64 ||
           p.encoding == TransferEncoding::kQuotedPrintable ||
           p.encoding == TransferEncoding::kUuencode)) {
        // RFC 2045 section 6.4: a multipart is never encoded; the field is ignored.
        addError(ErrorCode::kCteInvalidForType, Severity::kWarning, idx, cte_field->name,
                 cte_field->offset, t);
        p.encoding = TransferEncoding::kNone;
      }
    }
    if (cd_field) {
      DecodeNotes notes;
      ContentTypeValue v = parseContentType(cd_field->raw_value, &notes);
      noteDecode(notes, idx, cd_field->name, cd_field->offset);
      if (notes.raw_8bit) raw8_params_[idx] = true;
      if (!v.type.empty()) p.disposition = v.type;
      p.disposition_params = std::move(v.params);
    }
    const Param* fn = findParam(p.disposition_params, "filename");
    if (!fn || trimView(fn->value).empty()) fn = findParam(p.params, "name");
    if (fn) {
      std::string_view t = trimView(fn->value);
      if (!t.empty()) p.filename = std::string(t);
    }
    if (cid_field) {
      std::vector<std::string> ids;
      parseMessageIds(cid_field->raw_value, ids);
      if (!ids.empty()) p.content_id = std::move(ids.front());
    }
    if (desc_field) {
      DecodeNotes notes;
      p.description = decodeUnstructured(desc_field->raw_value, &notes);
      noteDecode(notes, idx, desc_field->name, desc_field->offset);
    }
  }

  void splitMultipart(int32_t idx, uint32_t depth, bool nested) {
    std::string needle = "--";
    {
      const Param* b = findParam(m_.parts[idx].params, "boundary");
      if (b) needle.append(b->value);
    }
    const Part& p = m_.parts[idx];
    const bool digest = p.content_type == "multipart/digest";
    if (needle.size() == 2) {
      addError(ErrorCode::kBoundaryMissing, Severity::kError, idx, "Content-Type", p.offset,
               "multipart without a boundary parameter; the body is kept as text");
      leafish_[idx] = true;
      weak_text_[idx] = true;
      return;
    }
    const char* const b = p.body.data();
    const char* const e = b + p.body.size();
    const std::string part_id = p.part_id;
    const int64_t part_offset = p.offset;
    struct Delim {
      const char* start;  // the "--"
      const char* next;   // the line after
      bool close;
    };
    std::vector<Delim> delims;
    const char* pos = b;
    while (pos < e) {
      const char* hit = findDelimiter(b, pos, e, needle);
      if (!hit) break;
      if (hit != b && hit[-1] != '\n') {
        pos = hit + 1;
        continue;
      }
      const char* after = hit + needle.size();
      const bool close = e - after >= 2 && after[0] == '-' && after[1] == '-';
      const char* q = close ? after + 2 : after;
      if (!close) {
        while (q < e && (*q == ' ' || *q == '\t')) ++q;
        if (q < e && *q != '\r' && *q != '\n') {
          pos = after;  // a longer boundary that starts with ours
          continue;
        }
      }
      const char* nl = static_cast<const char*>(std::memchr(q, '\n', static_cast<size_t>(e - q)));
      delims.push_back(Delim{hit, nl ? nl + 1 : e, close});
      if (close) break;  // the epilogue follows (RFC 2046 section 5.1.1)
      pos = nl ? nl + 1 : e;
    }
    if (delims.empty()) {
      addError(ErrorCode::kBoundaryNotFound, Severity::kError, idx, "", part_offset,
               "no delimiter line for the boundary; the body is kept as text");
      leafish_[idx] = true;
      weak_text_[idx] = true;
      return;
    }
    if (!delims.back().close) {
      addError(ErrorCode::kCloseDelimiterMissing, Severity::kWarning, idx, "", part_offset,
               "the last part runs to the end of the enclosing entity");
    }
    // One allocation for all the children rather than repeated doubling (a message with
    // 100k parts would otherwise move the whole vector ~17 times).
    const size_t room = std::min<size_t>(delims.size(), max_parts_);
    if (m_.parts.capacity() < m_.parts.size() + room) m_.parts.reserve(m_.parts.size() + room);
    int n = 0;
    for (size_t k = 0; k + 1 <= delims.size(); ++k) {
      if (delims[k].close) break;
      const char* start = delims[k].next;
      const char* stop = e;
      if (k + 1 < delims.size()) {
        // The line break before a delimiter belongs to the delimiter.
        stop = delims[k + 1].start;
        if (stop > start && stop[-1] == '\n') --stop;
        if (stop > start && stop[-1] == '\r') --stop;
      }
      if (stop < start) stop = start;
      if (k + 1 == delims.size()) {
        // A delimiter at the very end of a truncated message opens nothing.
        bool blank = true;
        for (const char* q = start; q < stop && blank; ++q) {
          blank = *q == ' ' || *q == '\t' || *q == '\r' || *q == '\n';
        }
        if (blank) break;
      }
      ++n;
      const int32_t child =
          parseEntity(std::string_view(start, static_cast<size_t>(stop - start)), idx, depth + 1,
                      part_id + "." + std::to_string(n), nested, digest);
      if (child < 0) break;
    }
    if (n == 0) {
      addError(ErrorCode::kMultipartEmpty, Severity::kWarning, idx, "", part_offset,
               "multipart without body parts");
    }
  }

  void parseEncapsulated(int32_t idx, uint32_t depth) {
    const Part& p = m_.parts[idx];
    std::string_view body = p.body;
    if (p.encoding == TransferEncoding::kBase64 ||
        p.encoding == TransferEncoding::kQuotedPrintable ||
        p.encoding == TransferEncoding::kUuencode) {
      // Not allowed by RFC 2046 section 5.2.1, but seen: decode, then parse the result.
      auto buf = std::make_unique<std::string>();
      decodeTransfer(p.encoding, body, *buf, idx);
      body = *buf;
      m_.owned_.push_back(std::move(buf));
    }
    const std::string id = m_.parts[idx].part_id + ".1";
    parseEntity(body, idx, depth + 1, id, true, false);
  }

  // Appends the transfer-decoded body; records a decoding error against part idx.
  void decodeTransfer(TransferEncoding enc, std::string_view body, std::string& out, int32_t idx) {
    bool clean = true;
    ErrorCode code = ErrorCode::kOther;
    switch (enc) {
      case TransferEncoding::kBase64: {
        Base64Decoder d;
        d.update(body, out);
        d.finish(out);
        noteBase64(d, body, idx);
        return;
      }
      case TransferEncoding::kQuotedPrintable:
        clean = decodeQuotedPrintable(body, out);
        code = ErrorCode::kQpInvalid;
        break;
      case TransferEncoding::kUuencode:
        clean = decodeUuencode(body, out);
        code = ErrorCode::kUuencodeInvalid;
        break;
      default:
        out.append(body);
        break;
    }
    if (!clean) {
      addError(code, Severity::kWarning, idx, "", m_.parts[idx].offset,
               "body not cleanly encoded; decoded best-effort");
    }
  }

  // Records BASE64_INVALID for a body decoded by `d`; `body` is what it was fed.
  void noteBase64(const Base64Decoder& d, std::string_view body, int32_t idx) {
    if (d.clean()) return;
    if (d.trailingAt() >= 0) {
      // RFC 2045 section 6.8: the data ended at its '=' padding; what follows (typically a
      // mailing-list footer appended in plain text) is not base64 and was not decoded.
      addError(ErrorCode::kBase64Invalid, Severity::kWarning, idx, "",
               offsetOf(body.data() + d.trailingAt()),
               std::to_string(d.trailingBytes()) +
                   " bytes after the final '=' padding were not decoded");
      return;
    }
    addError(ErrorCode::kBase64Invalid, Severity::kWarning, idx, "", m_.parts[idx].offset,
             "body not cleanly encoded; decoded best-effort");
  }

  // ---------------------------------------------------------------- fields

  // Mailers that put raw 8-bit text in headers use the message's charset for it (a Big5
  // subject over a Big5 body); try that before windows-1252. Parameters that held such bytes
  // are decoded again with it.
  void chooseHeaderCharset() {
    std::string cs = m_.parts[0].charset;
    for (size_t i = 1; cs.empty() && i < m_.parts.size(); ++i) {
      const Part& p = m_.parts[i];
      if (p.content_type.compare(0, 5, "text/") == 0) cs = p.charset;
    }
    m_.header_charset = std::move(cs);
    for (size_t i = 0; i < raw8_params_.size(); ++i) {
      if (raw8_params_[i]) redecodeParams(static_cast<int32_t>(i));
    }
  }

  const HeaderField* firstField(int32_t idx, std::string_view lower_name) const {
    auto [fb, fe] = m_.fieldsOf(static_cast<size_t>(idx));
    for (const HeaderField* f = fb; f != fe; ++f) {
      if (nameIs(f->name, lower_name)) return f;
    }
    return nullptr;
  }

  void redecodeParams(int32_t idx) {
    Part& p = m_.parts[idx];
    const std::string fallback = !p.charset.empty() ? p.charset : m_.header_charset;
    if (fallback.empty()) return;
    DecodeNotes notes;  // already reported on the first pass
    notes.fallback_charset = fallback;
    if (const HeaderField* ct = firstField(idx, "content-type")) {
      p.params = parseContentType(ct->raw_value, &notes).params;
    }
    if (const HeaderField* cd = firstField(idx, "content-disposition")) {
      p.disposition_params = parseContentType(cd->raw_value, &notes).params;
    }
    const Param* fn = findParam(p.disposition_params, "filename");
    if (!fn || trimView(fn->value).empty()) fn = findParam(p.params, "name");
    if (fn && !trimView(fn->value).empty()) p.filename = std::string(trimView(fn->value));
  }

  void interpretTopFields() {
    const Part& root = m_.parts[0];
    bool seen_subject = false, seen_from = false, seen_sender = false, seen_date = false,
         seen_mid = false, seen_irt = false, seen_refs = false;
    uint32_t ar_index = 0;
    for (uint32_t i = 0; i < root.field_count; ++i) {
      const HeaderField& f = m_.fields[root.first_field + i];
      const std::string_view n = f.name;
      auto dup = [&](bool& seen) {
        if (seen) {
          addError(ErrorCode::kHeaderDuplicate, Severity::kWarning, 0, n, f.offset,
                   "the first one is used");
          return true;
        }
        seen = true;
        return false;
      };
      DecodeNotes notes;
      notes.fallback_charset = m_.header_charset;
      switch (lowerAscii(n.empty() ? '\0' : n[0])) {
        case 's':
          if (nameIs(n, "subject")) {
            if (dup(seen_subject)) break;
            m_.subject = decodeUnstructured(f.raw_value, &notes);
          } else if (nameIs(n, "sender")) {
            if (dup(seen_sender)) break;
            std::vector<Address> a;
            parseAddressList(f.raw_value, a, &notes);
            if (!a.empty()) m_.sender = std::move(a.front());
          }
          break;
        case 'f':
          if (nameIs(n, "from")) {
            if (dup(seen_from)) break;
            parseAddressList(f.raw_value, m_.from, &notes);
          }
          break;
        case 't':
          if (nameIs(n, "to")) parseAddressList(f.raw_value, m_.to, &notes);
          break;
        case 'c':
          if (nameIs(n, "cc")) parseAddressList(f.raw_value, m_.cc, &notes);
          break;
        case 'b':
          if (nameIs(n, "bcc")) parseAddressList(f.raw_value, m_.bcc, &notes);
          break;
        case 'r':
          if (nameIs(n, "reply-to")) {
            parseAddressList(f.raw_value, m_.reply_to, &notes);
          } else if (nameIs(n, "references")) {
            if (dup(seen_refs)) break;
            if (!parseMessageIds(f.raw_value, m_.references)) {
              addError(ErrorCode::kMessageIdInvalid, Severity::kWarning, 0, n, f.offset, "");
            }
          }
          break;
        case 'd':
          if (nameIs(n, "date")) {
            if (dup(seen_date)) break;
            m_.date_raw = unfold(f.raw_value);
            std::string utf8;
            appendHeaderText(*m_.date_raw, m_.header_charset, utf8);
            m_.date_raw = std::move(utf8);
            DateTime dt;
            if (parseDate(f.raw_value, &dt)) {
              m_.date = formatRfc3339(dt);
            } else {
              addError(ErrorCode::kDateInvalid, Severity::kWarning, 0, n, f.offset, *m_.date_raw);
            }
          }
          break;
        case 'm':
          if (nameIs(n, "message-id")) {
            if (dup(seen_mid)) break;
            std::vector<std::string> ids;
            const bool ok = parseMessageIds(f.raw_value, ids);
            if (!ids.empty()) m_.message_id = std::move(ids.front());
            if (!ok || ids.size() != 1) {
              addError(ErrorCode::kMessageIdInvalid, Severity::kWarning, 0, n, f.offset, "");
            }
          }
          break;
        case 'i':
          if (nameIs(n, "in-reply-to")) {
            if (dup(seen_irt)) break;
            // In-Reply-To often carries free text next to the id; keep only the ids.
            std::vector<std::string> ids;
            parseMessageIds(f.raw_value, ids);
            for (auto& id : ids) {
              if (id.find('@') != std::string::npos) m_.in_reply_to.push_back(std::move(id));
            }
          }
          break;
        case 'a':
          if (nameIs(n, "authentication-results")) {
            parseAuthenticationResults(f.raw_value, ar_index++, opt_.trusted_authserv_ids,
                                       m_.auth_results);
          }
          break;
        default:
          break;
      }
      noteDecode(notes, 0, n, f.offset);
    }
    m_.auth_summary = summarizeAuthResults(m_.auth_results);

    // Threading (RFC 5322 section 3.6.4; RFC 5256 REFERENCES, simplified to a key).
    ThreadInfo& t = m_.thread;
    if (!m_.in_reply_to.empty()) {
      t.parent_id = m_.in_reply_to.front();
    } else if (!m_.references.empty()) {
      t.parent_id = m_.references.back();
    }
    if (!m_.references.empty()) {
      t.root_id = m_.references.front();
    } else if (t.parent_id) {
      t.root_id = t.parent_id;
    } else if (m_.message_id) {
      t.root_id = m_.message_id;
    }
    if (m_.subject) t.normalized_subject = normalizeSubject(*m_.subject);
    if (t.root_id) {
      t.key = "t:" + *t.root_id;
    } else if (t.normalized_subject && !t.normalized_subject->empty()) {
      std::string k = *t.normalized_subject;
      toLowerAscii(k);
      t.key = "s:" + k;
    }
  }

  // One pass over the parsed input: which line endings it uses, and the first line longer
  // than RFC 5322 section 2.1.1 allows (998 bytes without the CRLF). The SMTP side accepts
  // and stores such messages as they are; they parse like any other, and LINE_TOO_LONG
  // (once per message) says where the first one starts and in which part.
  void scanLines(std::string_view s) {
    LineScan r;
    size_t start = 0;
    size_t p = 0;
#if defined(__x86_64__)
    if (haveAvx2()) {
      p = scanLinesAvx2(s, &r, &start);  // the scalar loop below does the tail
    }
#endif
    while (p < s.size() && !(r.crlf && r.lf && r.long_at >= 0)) {
      const void* hit = std::memchr(s.data() + p, '\n', s.size() - p);
      if (!hit) break;
      const size_t nl = static_cast<size_t>(static_cast<const char*>(hit) - s.data());
      if (nl > 0 && s[nl - 1] == '\r') {
        r.crlf = true;
      } else {
        r.lf = true;
      }
      noteLine(s, start, nl, true, &r);
      start = nl + 1;
      p = nl + 1;
    }
    if (r.long_at < 0) noteLine(s, start, s.size(), false, &r);
    m_.line_endings = r.crlf && r.lf ? LineEndings::kMixed
                      : r.crlf       ? LineEndings::kCrlf
                      : r.lf         ? LineEndings::kLf
                                     : LineEndings::kNone;
    if (r.long_at >= 0) {
      // The innermost entity holding the line.
      int32_t part = 0;
      for (size_t i = 0; i < m_.parts.size(); ++i) {
        const Part& q = m_.parts[i];
        if (q.offset < 0 || q.offset > r.long_at) continue;
        const auto len = static_cast<int64_t>(q.header_block.size() + q.body.size());
        if (r.long_at < q.offset + len && q.depth >= m_.parts[part].depth) {
          part = static_cast<int32_t>(i);
        }
      }
      addError(ErrorCode::kLineTooLong, Severity::kWarning, part, "", r.long_at,
               "a line of " + std::to_string(r.long_len) +
                   " bytes (RFC 5322 section 2.1.1: at most 998); parsed as is");
    }
  }

  // ---------------------------------------------------------------- roles and bodies

  struct Mode {
    bool text_ok = true;
    bool html_ok = true;
    bool resource = false;  // a non-root part of multipart/related
  };

  bool isContainer(uint32_t i) const {
    const Part& p = m_.parts[i];
    return !leafish_[i] && p.content_type.compare(0, 10, "multipart/") == 0;
  }
  bool isMessage(uint32_t i) const {
    return !leafish_[i] && !m_.parts[i].children.empty() && !isContainer(i);
  }

  bool attachmentLike(const Part& p) const {
    const bool attach_disp = p.disposition && *p.disposition == "attachment";
    const bool inline_disp = p.disposition && *p.disposition == "inline";
    return attach_disp || (p.filename && !inline_disp);
  }

  // The root of multipart/related `i` (RFC 2387 section 3.1): the `start` part, else the
  // first. Requires children.
  uint32_t relatedRoot(uint32_t i) const {
    const Part& p = m_.parts[i];
    uint32_t root = p.children.front();
    if (const Param* start = findParam(p.params, "start")) {
      std::vector<std::string> ids;
      parseMessageIds(start->value, ids);
      for (uint32_t c : p.children) {
        if (!ids.empty() && m_.parts[c].content_id == ids.front()) root = c;
      }
    }
    return root;
  }

  Provides provides(uint32_t i) const {
    Provides r;
    const Part& p = m_.parts[i];
    if (isContainer(i)) {
      if (p.children.empty()) return r;
      // A multipart/related shows its root; the other parts are resources the root refers
      // to (RFC 2387), so an inline text/plain resource does not make it a text alternative.
      if (p.content_type == "multipart/related") return provides(relatedRoot(i));
      for (uint32_t c : p.children) {
        Provides s = provides(c);
        r.text = r.text || s.text;
        r.html = r.html || s.html;
        r.weak_text = r.weak_text || s.weak_text;
      }
      return r;
    }
    if (isMessage(i) || attachmentLike(p)) return r;
    if (weak_text_[i]) {
      r.weak_text = true;
    } else if (p.content_type == "text/plain" || leafish_[i]) {
      r.text = true;
    }
    if (p.content_type == "text/html") r.html = true;
    return r;
  }

  void walk(uint32_t i, Mode mode) {
    Part& p = m_.parts[i];
    if (isContainer(i)) {
      p.role = PartRole::kContainer;
      const std::vector<uint32_t> kids = p.children;
      if (p.content_type == "multipart/alternative") {
        // RFC 2046 section 5.1.4: the last alternative that can show it is preferred; the
        // text of an unsplittable multipart only when no alternative has real text.
        int64_t text_child = -1, weak_child = -1, html_child = -1;
        for (uint32_t c : kids) {
          Provides s = provides(c);
          if (s.text) text_child = c;
          if (s.weak_text) weak_child = c;
          if (s.html) html_child = c;
        }
        if (text_child < 0) text_child = weak_child;
        for (uint32_t c : kids) {
          Mode cm = mode;
          cm.text_ok = mode.text_ok && static_cast<int64_t>(c) == text_child;
          cm.html_ok = mode.html_ok && static_cast<int64_t>(c) == html_child;
          walk(c, cm);
        }
      } else if (p.content_type == "multipart/related" && !kids.empty()) {
        const uint32_t root = relatedRoot(i);
        for (uint32_t c : kids) {
          Mode cm = mode;
          if (c != root) cm.resource = true;
          walk(c, cm);
        }
      } else {
        for (uint32_t c : kids) walk(c, mode);
      }
      return;
    }
    if (isMessage(i)) {
      p.role = PartRole::kMessage;
      walk(p.children.front(), Mode{});
      return;
    }
    // A leaf.
    const bool inline_disp = p.disposition && *p.disposition == "inline";
    const bool text_type = isTextBodyType(p.content_type) || leafish_[i];
    if (text_type && !attachmentLike(p) && !mode.resource) {
      const bool html = p.content_type == "text/html";
      if (html) {
        p.role = mode.html_ok ? PartRole::kBodyHtml : PartRole::kOther;
      } else {
        p.role = mode.text_ok ? PartRole::kBodyText : PartRole::kOther;
      }
      return;
    }
    if (mode.resource || (inline_disp && !attachmentLike(p))) {
      p.role = PartRole::kInline;
      return;
    }
    if (attachmentLike(p)) {
      p.role = PartRole::kAttachment;
      return;
    }
    if (p.content_type.compare(0, 5, "text/") == 0 ||
        p.content_type.compare(0, 8, "message/") == 0) {
      p.role = PartRole::kOther;  // reports, calendar data, headers-only parts
      return;
    }
    p.role = PartRole::kAttachment;  // a file without a name
  }

  void assignRoles() {
    walk(0, Mode{});
    for (uint32_t i = 0; i < m_.parts.size(); ++i) {
      Part& p = m_.parts[i];
      switch (p.role) {
        case PartRole::kBodyText:
          m_.text_parts.push_back(i);
          break;
        case PartRole::kBodyHtml:
          m_.html_parts.push_back(i);
          break;
        case PartRole::kAttachment:
        case PartRole::kInline:
          p.attachment = static_cast<int32_t>(m_.attachments.size());
          m_.attachments.push_back(i);
          break;
        case PartRole::kOther:
          // Unchosen text/plain|html alternatives repeat the body: not attachments.
          // Everything else is, so that no leaf is lost (an unsplittable multipart that lost
          // to a real text alternative included).
          if (!isTextBodyType(p.content_type) && p.children.empty()) {
            p.attachment = static_cast<int32_t>(m_.attachments.size());
            m_.attachments.push_back(i);
          }
          break;
        default:
          break;
      }
    }
    // body.text/html come from the message's own parts, never from inside an encapsulated
    // message (RFC 2046 section 5.2.1: that is a message of its own), even when the
    // message has none; an unsplittable multipart's text only when there is no real text.
    auto preferred = [&](const std::vector<uint32_t>& list) -> int32_t {
      int32_t weak = -1;
      for (uint32_t i : list) {
        if (m_.parts[i].nested) continue;
        if (!weak_text_[i]) return static_cast<int32_t>(i);
        if (weak < 0) weak = static_cast<int32_t>(i);
      }
      return weak;
    };
    m_.text_part = preferred(m_.text_parts);
    m_.html_part = preferred(m_.html_parts);
  }

  void decodeLeaves() {
    for (uint32_t i = 0; i < m_.parts.size(); ++i) {
      Part& p = m_.parts[i];
      if (p.role == PartRole::kContainer || p.role == PartRole::kMessage) continue;
      if (p.role == PartRole::kBodyText || p.role == PartRole::kBodyHtml) {
        decodeText(i);
      } else {
        decodeBinary(i);
      }
    }
    trimScratch();
  }

  void decodeText(uint32_t i) {
    Part& p = m_.parts[i];
    const bool identity = p.encoding != TransferEncoding::kBase64 &&
                          p.encoding != TransferEncoding::kQuotedPrintable &&
                          p.encoding != TransferEncoding::kUuencode;
    std::string_view bytes;
    std::string& buf = scratch();
    buf.clear();
    if (identity) {
      bytes = p.body;
    } else if (isUtf8Compatible(p.charset) && p.body.size() <= opt_.max_text_bytes) {
      // The common case: decode straight into the text, then validate it in place.
      decodeTransfer(p.encoding, p.body, p.text, static_cast<int32_t>(i));
      p.size = p.text.size();
      if (p.text.size() >= 3 && std::memcmp(p.text.data(), "\xEF\xBB\xBF", 3) == 0) {
        p.text.erase(0, 3);
      }
      if (!sanitizeUtf8InPlace(p.text)) {
        addError(ErrorCode::kCharsetDecodeError, Severity::kError, static_cast<int32_t>(i), "",
                 p.offset,
                 (p.charset.empty() ? std::string("utf-8") : p.charset) +
                     ": invalid bytes replaced by U+FFFD");
      }
      return;
    } else {
      decodeTransfer(p.encoding, p.body, buf, static_cast<int32_t>(i));
      bytes = buf;
    }
    Part& q = p;  // decodeTransfer only appends to errors, so `p` stays valid
    q.size = bytes.size();
    if (bytes.size() > opt_.max_text_bytes) {
      bytes = bytes.substr(0, opt_.max_text_bytes);
      q.text_truncated = true;
      addError(ErrorCode::kSizeLimit, Severity::kError, static_cast<int32_t>(i), "", q.offset,
               "text body longer than max_text_bytes; truncated");
    }
    q.text.reserve(bytes.size() + bytes.size() / 8);
    const ConvertStatus st = convertToUtf8(q.charset, bytes, q.text);
    if (st == ConvertStatus::kUnknownCharset) {
      addError(ErrorCode::kCharsetUnknown, Severity::kWarning, static_cast<int32_t>(i), "",
               q.offset, q.charset + ": read as UTF-8, else windows-1252");
    } else if (st == ConvertStatus::kReplaced) {
      addError(ErrorCode::kCharsetDecodeError, Severity::kError, static_cast<int32_t>(i), "",
               q.offset,
               (q.charset.empty() ? std::string("utf-8") : q.charset) +
                   ": invalid bytes replaced by U+FFFD");
    } else if (st == ConvertStatus::kFallback) {
      addError(ErrorCode::kCharsetDecodeError, Severity::kWarning, static_cast<int32_t>(i), "",
               q.offset, "8-bit text labelled US-ASCII (or unlabelled) read as windows-1252");
    }
  }

  // Attachments and other non-body leaves: the decoded size, the SHA-256 of the decoded
  // bytes, and the bytes themselves when the caller keeps them. base64 and quoted-printable
  // bodies are decoded piece by piece and each piece is hashed while it is still in cache
  // (and, unless kept, dropped), so a large attachment is never written out in full only to
  // be read again by the hash.
  void decodeBinary(uint32_t i) {
    Part& p = m_.parts[i];
    const bool listed = p.attachment >= 0;
    const bool keep = listed && opt_.keep_attachment_data;
    const bool hash = listed && opt_.hash_attachments;
    p.data_kept = keep;
    if (p.encoding != TransferEncoding::kBase64 &&
        p.encoding != TransferEncoding::kQuotedPrintable) {
      std::string_view bytes = p.body;
      if (p.encoding == TransferEncoding::kUuencode) {  // rare: decoded whole
        std::string& out = keep ? p.data : scratch();
        out.clear();
        decodeTransfer(p.encoding, p.body, out, static_cast<int32_t>(i));
        bytes = out;
      } else if (keep) {
        p.data.assign(bytes);
      }
      p.size = bytes.size();
      if (hash) p.sha256 = mx::sha256Hex(bytes);
      return;
    }
    // decodeTransfer/noteBase64 only append to errors, so `p` stays valid.
    std::string& out = keep ? p.data : scratch();
    out.clear();
    if (keep) out.reserve(p.body.size());  // bounds base64 and QP (CRLF) output alike
    mx::Sha256& hasher = attachmentHasher();
    if (hash) hasher.reset();
    const bool b64 = p.encoding == TransferEncoding::kBase64;
    Base64Decoder dec;
    bool qp_clean = true;
    uint64_t dropped = 0;  // decoded bytes already hashed and discarded
    const char* s = p.body.data();
    const char* const e = s + p.body.size();
    while (s < e) {
      const char* stop = e;
      if (static_cast<size_t>(e - s) > kDecodePiece) {
        stop = s + kDecodePiece;
        if (!b64) {
          // Quoted-printable is decoded line by line: cut after a line break.
          const void* nl = memrchr(s, '\n', kDecodePiece);
          if (nl) {
            stop = static_cast<const char*>(nl) + 1;
          } else {
            nl = std::memchr(stop, '\n', static_cast<size_t>(e - stop));
            stop = nl ? static_cast<const char*>(nl) + 1 : e;
          }
        }
      }
      const size_t before = out.size();
      const std::string_view piece(s, static_cast<size_t>(stop - s));
      if (b64) {
        dec.update(piece, out);
      } else {
        qp_clean = decodeQuotedPrintable(piece, out) && qp_clean;
      }
      if (hash) hasher.update(std::string_view(out).substr(before));
      if (!keep) {
        dropped += out.size();
        out.clear();
      }
      s = stop;
    }
    if (b64) {
      const size_t before = out.size();
      dec.finish(out);
      if (hash) hasher.update(std::string_view(out).substr(before));
      noteBase64(dec, p.body, static_cast<int32_t>(i));
    } else if (!qp_clean) {
      addError(ErrorCode::kQpInvalid, Severity::kWarning, static_cast<int32_t>(i), "", p.offset,
               "body not cleanly encoded; decoded best-effort");
    }
    Part& q = m_.parts[i];
    q.size = dropped + out.size();
    if (hash) q.sha256 = hasher.finishHex();
  }

  std::string_view raw_;
  const ParseOptions& opt_;
  ParsedMessage& m_;
  const uint32_t max_depth_;
  const uint32_t max_parts_;
  std::vector<bool> leafish_;  // a multipart that could not be split: treated as a leaf
  std::vector<bool> weak_text_;  // ... for want of a boundary or delimiter: its text loses
  std::vector<bool> raw8_params_;  // Content-Type/-Disposition held raw 8-bit parameter bytes
  bool part_limit_reported_ = false;
};

}  // namespace

ParsedMessage parse(std::string_view raw, const ParseOptions& options) {
  ParsedMessage m;
  Parser(raw, options, m).run();
  return m;
}

bool decodeBody(const ParsedMessage& message, size_t part_index, std::string& out) {
  if (part_index >= message.parts.size()) return false;
  const Part& p = message.parts[part_index];
  if (p.role == PartRole::kContainer || p.role == PartRole::kMessage) return true;
  if (p.data_kept) {
    out.append(p.data);
    return true;
  }
  switch (p.encoding) {
    case TransferEncoding::kBase64:
      return decodeBase64(p.body, out);
    case TransferEncoding::kQuotedPrintable:
      return decodeQuotedPrintable(p.body, out);
    case TransferEncoding::kUuencode:
      return decodeUuencode(p.body, out);
    default:
      out.append(p.body);
      return true;
  }
}

std::string attachmentBytes(const ParsedMessage& message, size_t n) {
  std::string out;
  if (n < message.attachments.size()) decodeBody(message, message.attachments[n], out);
  return out;
}

std::string takeAttachmentBytes(ParsedMessage& message, size_t n) {
  if (n >= message.attachments.size()) return {};
  Part& p = message.parts[message.attachments[n]];
  if (!p.data_kept) return attachmentBytes(message, n);
  p.data_kept = false;
  return std::move(p.data);
}

std::vector<AttachmentInfo> listAttachments(const ParsedMessage& message) {
  std::vector<AttachmentInfo> out;
  out.reserve(message.attachments.size());
  for (size_t n = 0; n < message.attachments.size(); ++n) {
    const Part& p = message.parts[message.attachments[n]];
    AttachmentInfo a;
    a.n = n;
    a.part = message.attachments[n];
    a.part_id = p.part_id;
    if (p.filename) a.filename = std::string_view(*p.filename);
    a.content_type = p.content_type;
    if (p.disposition) a.disposition = std::string_view(*p.disposition);
    if (p.content_id) a.content_id = std::string_view(*p.content_id);
    a.is_inline = p.role == PartRole::kInline || (p.disposition && *p.disposition == "inline");
    a.nested = p.nested;
    a.size = p.size.value_or(0);
    a.sha256 = p.sha256;
    out.push_back(a);
  }
  return out;
}

}  // namespace mx::mime
