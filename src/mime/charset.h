// mime/charset.h — conversion of text in a declared charset to UTF-8 (RFC 2045 section
// 5.1 "charset", RFC 2046 section 4.1.2, RFC 2047, RFC 2231; UTF-7 after RFC 2152).
//
// Fast paths need no iconv call: UTF-8 (validated, invalid bytes become U+FFFD), US-ASCII
// and ISO-8859-1 (decoded as windows-1252, as browsers and mail readers do, because mail
// labelled Latin-1 routinely carries 0x80-0x9F "smart quotes"), windows-1252, and UTF-7.
// Every other label goes to glibc iconv after alias normalisation (gb2312 -> GB18030,
// ks_c_5601-1987 -> CP949, shift_jis -> CP932, ...), with one cached conversion descriptor
// per charset per thread. Bytes a converter rejects become U+FFFD and the result says so.
//
// Trust: labels and text are untrusted. The output is always valid UTF-8, whatever the input.
// Thread safety: the functions may be called from any number of threads (the iconv cache is
// thread_local).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mx::mime {

enum class ConvertStatus {
  kOk,              // converted exactly
  kReplaced,        // some input was invalid in that charset and became U+FFFD
  kUnknownCharset,  // the label is unknown: treated as UTF-8, else windows-1252
  kFallback,        // US-ASCII (or no label) but 8-bit and not UTF-8: read as windows-1252
};

// Appends `in`, decoded from `charset` (a MIME label, any case; empty means US-ASCII, the
// RFC 2045 default), to `out` as UTF-8. A leading byte order mark is dropped.
ConvertStatus convertToUtf8(std::string_view charset, std::string_view in, std::string& out);

// True when the label names UTF-8 (text that needs only validation).
bool isUtf8Compatible(std::string_view charset);

// True when `charset` can be converted (known to the fast paths or to iconv).
bool isKnownCharset(std::string_view charset);

// UTF-8 well-formedness (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
bool isValidUtf8(std::string_view s);
// Index of the first byte that is not part of a valid sequence, or s.size().
size_t validUtf8Prefix(std::string_view s);

// Appends `in` to `out`, replacing each byte of an invalid sequence with U+FFFD. Returns false
// if anything was replaced.
bool appendUtf8Sanitized(std::string_view in, std::string& out);

// Replaces invalid sequences in `s` in place (reallocating only when there are some).
bool sanitizeUtf8InPlace(std::string& s);

// Appends text that is valid UTF-8 as it is; otherwise decodes it as windows-1252 (the usual
// meaning of raw 8-bit header bytes). Returns false when the fallback was used.
bool appendUtf8OrLatin(std::string_view in, std::string& out);

}  // namespace mx::mime
