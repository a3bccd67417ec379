// mime/message.h — ParsedMessage: what mx::mime::parse() makes of one message (RFC 5322
// fields, the RFC 2045/2046 entity tree flattened in pre-order, decoded text bodies, the
// attachments, RFC 8601 Authentication-Results, a threading key, and errors[]).
//
// Ownership: a ParsedMessage holds std::string_views into the raw buffer it was parsed from
// (header names and raw values, part byte ranges): that buffer must outlive it. Everything
// decoded (subject, addresses, text bodies, parameters) is owned. The few bodies that had to
// be decoded before they could be parsed (a base64 message/rfc822) live in `owned_`.
// Trust: the values are decoded from untrusted input; every string in here is valid UTF-8
// except HeaderField::name/raw_value, the raw byte views (Part::header_block/body), Part::data,
// and ParseError::field/detail, which may carry the input's bytes (toJson converts them).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mx::mime {

// Stable error codes (schemas/parsed-email.schema.json "Error.code"; docs/mime.md lists
// what each means). Append only: the JSON names are part of the schema.
enum class ErrorCode : uint8_t {
  kNoHeaders,
  kHeaderMalformed,
  kHeaderFolding,
  kHeader8bit,
  kHeaderDuplicate,
  kEncodedWordInvalid,
  kAddressInvalid,
  kDateInvalid,
  kMessageIdInvalid,
  kBoundaryMissing,
  kBoundaryNotFound,
  kCloseDelimiterMissing,
  kMultipartEmpty,
  kCteUnknown,
  kCteInvalidForType,
  kBase64Invalid,
  kQpInvalid,
  kUuencodeInvalid,
  kCharsetUnknown,
  kCharsetDecodeError,
  kCharsetRefused,
  kParamInvalid,
  kNestingTooDeep,
  kSizeLimit,
  kNulBytes,
  kLineTooLong,
  kObsoleteSyntax,
  kOther,
  kPartLimit,    // schema version 2
  kHeaderLimit,  // schema version 2
};

// The JSON name of a code ("NO_HEADERS", ...).
std::string_view errorCodeName(ErrorCode code);

enum class Severity : uint8_t {
  kWarning,  // recovered; the output is complete
  kError,    // the output for that field or part is lossy
  kFatal,    // the message could not be structured (or a limit cut it short)
};
std::string_view severityName(Severity s);

struct ParseError {
  ErrorCode code;
  Severity severity;
  int32_t part = -1;    // index into ParsedMessage::parts, -1 for the message as a whole
  std::string field;    // header name or output field, empty if none
  int64_t offset = -1;  // byte offset in the raw message, -1 if unknown
  std::string detail;   // human-readable, may be empty
};

// One header field, as written. `raw_value` is everything after the colon up to (not
// including) the line break that ends the field: folding and RFC 2047 words are kept.
struct HeaderField {
  std::string_view name;
  std::string_view raw_value;
  int64_t offset = -1;  // of the field's first byte in the raw message (-1: in a decoded body)
  uint32_t length = 0;  // bytes including the final line break
};

struct Param {
  std::string name;   // lower-cased
  std::string value;  // RFC 2231 / RFC 2047 decoded, UTF-8
};

enum class TransferEncoding : uint8_t {
  kNone,  // no Content-Transfer-Encoding field (7bit)
  k7bit,
  k8bit,
  kBinary,
  kBase64,
  kQuotedPrintable,
  kUuencode,
  kUnknown,  // unrecognised: the body is taken as it is (CTE_UNKNOWN)
};

enum class PartRole : uint8_t {
  kContainer,   // multipart/*
  kMessage,     // message/rfc822, message/global: its child is the encapsulated message
  kBodyText,    // an inline text/plain part shown as the message text
  kBodyHtml,    // an inline text/html part
  kAttachment,  // a file
  kInline,      // an inline resource (an image in multipart/related, disposition inline)
  kOther,       // anything else: reports, unchosen alternatives, calendar data, ...
};
std::string_view partRoleName(PartRole r);

struct Part {
  std::string part_id;  // "1", "1.2", "1.2.1" (see schema PartId)
  int32_t parent = -1;  // index into parts
  uint32_t depth = 0;
  bool nested = false;  // inside an encapsulated message (message/rfc822)
  std::vector<uint32_t> children;

  // Layout. `header_block` and `body` view the raw buffer, or a decoded buffer of an
  // enclosing base64/QP message/rfc822 part (then `offset` is -1).
  std::string_view header_block;
  std::string_view body;     // transfer-encoded body (for a multipart: preamble..epilogue)
  int64_t offset = -1;       // of the entity (its header block) in the raw message
  uint32_t first_field = 0;  // this entity's fields: ParsedMessage::fields[first_field ..
  uint32_t field_count = 0;  //   first_field + field_count)

  std::string content_type;  // lower-cased "type/subtype"; defaulted when absent or invalid
  bool content_type_given = false;
  // The Content-Type value as written (unfolded, UTF-8) when it was invalid and the default
  // was used instead (RFC 2045 section 5.2); absent otherwise.
  std::optional<std::string> content_type_raw;
  std::vector<Param> params;  // Content-Type parameters
  std::string charset;        // lower-cased charset parameter ("" when none)
  TransferEncoding encoding = TransferEncoding::kNone;
  std::string transfer_encoding;           // lower-cased token as given ("" when none)
  std::optional<std::string> disposition;  // lower-cased
  std::vector<Param> disposition_params;
  std::optional<std::string> filename;     // decoded: disposition filename, else CT name
  std::optional<std::string> content_id;   // without angle brackets
  std::optional<std::string> description;  // Content-Description, decoded

  PartRole role = PartRole::kOther;
  bool is_multipart() const { return role == PartRole::kContainer; }
  bool is_leaf() const {
    return children.empty() && role != PartRole::kContainer && role != PartRole::kMessage;
  }

  // Leaves only (after decoding):
  std::optional<uint64_t> size;  // transfer-decoded bytes
  std::string sha256;            // hex; set for attachments when hashing is on
  int32_t attachment = -1;       // index into ParsedMessage::attachments
  std::string text;              // body-text / body-html parts: the decoded UTF-8 text
  bool text_truncated = false;   // text longer than ParseOptions::max_text_bytes
  std::string data;              // attachments, with ParseOptions::keep_attachment_data
  bool data_kept = false;        // `data` holds the decoded bytes
};

// A mailbox (RFC 5322 section 3.4); fields are absent rather than empty.
struct Address {
  std::optional<std::string> name;     // decoded display name
  std::optional<std::string> address;  // addr-spec; absent for an empty group, or for a
                                       // bare word that is not an address
  std::optional<std::string> group;    // the group's display name, for group members
};

// One method result of an Authentication-Results field (RFC 8601 section 2.2).
struct AuthResult {
  std::string authserv_id;
  uint32_t header_index = 0;  // 0 = the topmost Authentication-Results field
  bool trusted = false;       // authserv_id is one of ParseOptions::trusted_authserv_ids
  std::string method;         // lower-cased
  std::optional<int> method_version;
  std::string result;  // lower-cased
  std::optional<std::string> reason;
  std::optional<std::string> comment;  // the comment after the result, if any
  std::vector<std::pair<std::string, std::string>> properties;  // "ptype.property" -> value
};

struct AuthSummary {
  // From trusted results only; "none" when there is none.
  std::string spf = "none";
  std::string dkim = "none";
  std::string dmarc = "none";
  std::string arc = "none";
};

struct ThreadInfo {
  std::optional<std::string> root_id;
  std::optional<std::string> parent_id;
  std::optional<std::string> normalized_subject;
  std::optional<std::string> key;  // "t:<root id>", or "s:<normalised subject>" without ids
};

enum class LineEndings : uint8_t { kNone, kCrlf, kLf, kMixed };

struct ParsedMessage {
  std::string_view raw;    // the whole input (not truncated)
  size_t parsed_size = 0;  // bytes parsed (< raw.size() when max_total_size cut it)
  LineEndings line_endings = LineEndings::kNone;
  size_t header_size = 0;  // bytes of the top-level header block incl. blank line

  // Charset tried for raw 8-bit header bytes that are not UTF-8, before windows-1252: the
  // top-level charset parameter, else the first text part's ("" if none).
  std::string header_charset;

  std::vector<HeaderField> fields;  // all entities' fields; parts[i] says which are its own
  // The top-level fields are fields[0 .. top_field_count).
  uint32_t top_field_count = 0;

  std::optional<std::string> subject;
  std::vector<Address> from;
  std::optional<Address> sender;
  std::vector<Address> reply_to;
  std::vector<Address> to;
  std::vector<Address> cc;
  std::vector<Address> bcc;
  std::optional<std::string> date;      // RFC 3339 with the original offset
  std::optional<std::string> date_raw;  // unfolded field text
  std::optional<std::string> message_id;
  std::vector<std::string> in_reply_to;
  std::vector<std::string> references;
  ThreadInfo thread;

  std::vector<Part> parts;  // parts[0] is the message's root entity (part id "1")
  // Body selection (indices into parts, -1 for none).
  int32_t text_part = -1;
  int32_t html_part = -1;
  std::vector<uint32_t> text_parts;  // all body-text parts in display order
  std::vector<uint32_t> html_parts;
  std::vector<uint32_t> attachments;  // indices into parts, in pre-order

  std::vector<AuthResult> auth_results;
  AuthSummary auth_summary;

  std::vector<ParseError> errors;
  bool truncated = false;  // a limit stopped parsing; errors[] says which

  // Buffers that parts view into, beyond `raw` (decoded encapsulated messages).
  std::vector<std::unique_ptr<std::string>> owned_;

  // Convenience accessors.
  const Part& root() const { return parts.front(); }
  std::string_view textBody() const {
    return text_part >= 0 ? std::string_view(parts[text_part].text) : std::string_view();
  }
  std::string_view htmlBody() const {
    return html_part >= 0 ? std::string_view(parts[html_part].text) : std::string_view();
  }
  // The fields of part `i` (the top-level fields for i == 0).
  std::pair<const HeaderField*, const HeaderField*> fieldsOf(size_t i) const {
    const Part& p = parts[i];
    const HeaderField* b = fields.data() + p.first_field;
    return {b, b + p.field_count};
  }
  bool hasErrorCode(ErrorCode c) const {
    for (const auto& e : errors) {
      if (e.code == c) return true;
    }
    return false;
  }
};

}  // namespace mx::mime
