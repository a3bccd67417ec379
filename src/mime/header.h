// mime/header.h — decoders for the values of header fields: unfolding (RFC 5322 section
// 2.2.3), unstructured text with RFC 2047 encoded words (sections 2, 5 and 6.2), Content-Type
// and Content-Disposition with RFC 2231 parameters (RFC 2045 section 5.1, RFC 2183, RFC 2231
// sections 3-5), address lists (RFC 5322 section 3.4 and obsolete forms of 4.4), message-id
// lists (section 3.6.4), and dates (section 3.3 plus obsolete zones of 4.3).
//
// All decoders take raw field values (folding kept) and return UTF-8. They are tolerant:
// they always return something, and note what they had to repair in DecodeNotes.
// Trust: untrusted values of any length; every function is linear in the value's length.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mime/message.h"

namespace mx::mime {

// What a decoder had to repair (each maps to an ErrorCode).
struct DecodeNotes {
  // Input: the charset to try for raw 8-bit text that is not UTF-8 before windows-1252 (the
  // message's declared body charset: mailers that send raw 8-bit headers use it). Empty:
  // windows-1252 only.
  std::string_view fallback_charset;
  bool encoded_word_invalid = false;  // ENCODED_WORD_INVALID
  bool raw_8bit = false;              // HEADER_8BIT: raw bytes that were not UTF-8
  bool charset_unknown = false;       // CHARSET_UNKNOWN
  bool charset_error = false;         // CHARSET_DECODE_ERROR
  bool param_invalid = false;         // PARAM_INVALID
  bool address_invalid = false;       // ADDRESS_INVALID
  std::string charset;                // the offending charset, if any
};

// Unfolds (RFC 5322 section 2.2.3): the line breaks of folds are removed and nothing else,
// so the blanks around a fold stay; leading/trailing blanks are trimmed. Appends to `out`.
void appendUnfolded(std::string_view raw, std::string& out);
std::string unfold(std::string_view raw);

// True if `s` contains "=?" (a possible encoded word).
bool mayHaveEncodedWords(std::string_view s);

// Unfolds and decodes unstructured text: encoded words are decoded (blanks between adjacent
// words dropped, adjacent words of one charset joined as bytes before conversion), and raw
// 8-bit text is taken as UTF-8, else in notes->fallback_charset if it converts cleanly, else
// windows-1252. Appends UTF-8 to `out`.
void decodeUnstructured(std::string_view raw, std::string& out, DecodeNotes* notes);
std::string decodeUnstructured(std::string_view raw, DecodeNotes* notes);

// Content-Type / Content-Disposition. For Content-Disposition `type` holds the disposition
// type and `subtype` stays empty.
struct ContentTypeValue {
  std::string type;     // lower-cased; empty if missing
  std::string subtype;  // lower-cased; empty if missing
  std::vector<Param> params;
};
ContentTypeValue parseContentType(std::string_view raw, DecodeNotes* notes);

// Finds a parameter by (lower-case) name.
const Param* findParam(const std::vector<Param>& params, std::string_view name);

// Parses an address list (also mailbox lists and single mailboxes) and appends to `out`.
void parseAddressList(std::string_view raw, std::vector<Address>& out, DecodeNotes* notes);

// Parses a list of msg-ids ("<a@b> <c@d>"); angle brackets removed. Tolerates ids without
// brackets (the whole trimmed word), comments, and commas. Appends to `out`; returns false
// if something was not in msg-id form.
bool parseMessageIds(std::string_view raw, std::vector<std::string>& out);

struct DateTime {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int offset_minutes = 0;       // east of UTC
  bool offset_unknown = false;  // "-0000" or an obsolete military zone (RFC 5322 4.3)
};
// Parses an RFC 5322 date-time (with obsolete forms: 2-digit years, named zones, missing
// seconds or weekday, extra comments). Returns false if it is not a valid date.
bool parseDate(std::string_view raw, DateTime* out);
// "2024-01-09T02:31:35+09:00" ("-00:00" when the offset is unknown, RFC 3339 section 4.3).
std::string formatRfc3339(const DateTime& dt);

// Subject with reply/forward prefixes ("Re:", "Fwd:", "AW:", "[list] ", ...) removed and
// blanks collapsed (RFC 5256 section 2.1, simplified).
std::string normalizeSubject(std::string_view subject);

// Raw header bytes to UTF-8: as they are when valid UTF-8 (RFC 6532), else in
// `fallback_charset` when that converts them without error, else windows-1252. Returns
// false when the bytes were not UTF-8.
bool appendHeaderText(std::string_view text, std::string_view fallback_charset, std::string& out);

// Case-insensitive ASCII equality.
bool equalsIgnoreCase(std::string_view a, std::string_view b);
void toLowerAscii(std::string& s);

}  // namespace mx::mime
