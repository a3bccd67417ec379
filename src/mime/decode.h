// mime/decode.h — Content-Transfer-Encoding decoders for MIME bodies: base64 (RFC 2045
// section 6.8), quoted-printable (RFC 2045 section 6.7), the RFC 2047 section 4.2 "Q"
// variant for encoded words, and uuencode (x-uuencode, POSIX uuencode(1) format).
//
// All decoders are tolerant, one-pass, and append to a caller-owned std::string (which
// keeps its capacity across calls, so a reused buffer costs no allocation). They never fail:
// bytes they cannot make sense of are skipped or passed through, and the return value says
// whether the input was clean so the caller can record a BASE64_INVALID / QP_INVALID entry.
//
// Trust: input is untrusted bytes of any length; output size is bounded by the input size
// (base64: 3/4 of it; QP: twice it, for LF input; Q and uuencode: at most the input size).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mx::mime {

// Incremental base64 (RFC 2045 section 6.8): feed the pieces of one body in order with
// update(), then call finish() once. Whitespace is skipped; other bytes outside the alphabet
// are skipped and make the input unclean. The first '=' ends the data ("the occurrence of any
// '=' characters may be taken as evidence that the end of the data has been reached"): the
// partial quantum it closes is kept, and nothing after it is decoded. Bytes after it other
// than '=' and whitespace (a mailing-list footer appended in plain text) make the input
// unclean and are reported by trailingAt(). A final partial quantum of 2 or 3 characters
// without padding yields its 1 or 2 bytes (unclean); a lone character is dropped (unclean).
// One object per body; not thread-safe; reusable after reset().
class Base64Decoder {
 public:
  // Appends the decoded bytes of `in` to `out`.
  void update(std::string_view in, std::string& out);
  // Flushes a partial final quantum into `out`. Returns clean().
  bool finish(std::string& out);
  void reset() { *this = Base64Decoder(); }

  bool clean() const { return clean_; }
  bool ended() const { return ended_; }  // the '=' that ends the data was seen
  // Offset (in the concatenated input) of the first byte after the end of the data that is
  // not '=' or whitespace; -1 if none. trailingBytes(): how many such bytes in all.
  int64_t trailingAt() const { return trailing_at_; }
  uint64_t trailingBytes() const { return trailing_bytes_; }

 private:
  uint64_t consumed_ = 0;  // input bytes fed so far
  int64_t trailing_at_ = -1;
  uint64_t trailing_bytes_ = 0;
  uint32_t acc_ = 0;
  int n_ = 0;  // characters in the pending quantum
  bool clean_ = true;
  bool ended_ = false;
};

// Decodes a whole base64 body with Base64Decoder; returns whether it was clean.
bool decodeBase64(std::string_view in, std::string& out);

// Decodes a quoted-printable body. Hard line breaks become CRLF, their canonical form
// (RFC 2045 section 6.7 rule 4), also in a message stored with LF endings; soft breaks ("="
// at the end of a line) are removed; trailing blanks of each line are dropped (rule 3). "="
// not followed by two hex digits is kept literally and makes the result false. Lower-case
// hex digits are accepted.
bool decodeQuotedPrintable(std::string_view in, std::string& out);

// Decodes the text of an RFC 2047 "Q" encoded word: "_" is a space, "=XX" a byte.
bool decodeQEncoding(std::string_view in, std::string& out);

// Decodes uuencoded data: an optional "begin MODE NAME" line, length-prefixed lines, and
// "end". Lines that are not uuencode are skipped (and make the result false).
bool decodeUuencode(std::string_view in, std::string& out);

// Number of bytes decodeBase64 would produce for clean input of this length (an upper bound
// for any input): used to reserve output.
inline size_t base64DecodedBound(size_t n) { return n / 4 * 3 + 3; }

}  // namespace mx::mime
