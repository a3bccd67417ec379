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
#include <string>
#include <string_view>

namespace mx::mime {

// Decodes base64, skipping whitespace; other bytes outside the alphabet are skipped and make
// the result false. '=' ends a 4-character quantum (its partial bytes are kept), and decoding
// resumes after it, so concatenated base64 streams decode whole. A trailing partial quantum of
// 2 or 3 characters yields its 1 or 2 bytes (missing padding: returns false); 1 is dropped.
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
