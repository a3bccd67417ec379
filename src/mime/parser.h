// mime/parser.h — the MIME parser's public entry points: parse one message held in one
// contiguous buffer into a ParsedMessage (message.h), and get the decoded bytes of its parts.
//
// Standards: RFC 5322 (fields, addresses, dates, message ids; obsolete syntax of section 4
// accepted), RFC 2045-2049 (MIME entities, transfer encodings, multipart, message/rfc822),
// RFC 2047 (encoded words, with adjacent words' bytes joined before charset conversion),
// RFC 2231 (parameter continuations, charsets, languages), RFC 6532 (UTF-8 header fields),
// RFC 8601 (Authentication-Results). Real-world deviations are accepted and recorded in
// ParsedMessage::errors (codes in docs/mime.md): LF-only line endings, no header block, a
// header block not ended by a blank line, missing or wrong boundaries, truncated parts,
// encoded words inside quoted strings and parameters, raw 8-bit header bytes, unknown
// charsets and transfer encodings.
//
// Trust: `raw` is untrusted bytes of any content. parse() never throws (other than
// std::bad_alloc, which the process treats as fatal), never aborts and never reads outside
// `raw`. Work is linear in the input size times the nesting depth, which ParseOptions
// bounds; memory is linear in the input size.
// Threads: parse() is re-entrant; call it from any number of threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mime/message.h"

namespace mx::mime {

struct ParseOptions {
  // Limits. Reaching one records an error (NESTING_TOO_DEEP, PART_LIMIT, HEADER_LIMIT,
  // SIZE_LIMIT), sets ParsedMessage::truncated, and parsing continues best-effort.
  uint32_t max_depth = 64;             // multipart / message nesting (clamped to 256)
  uint32_t max_parts = 10000;          // entities in the tree (at least 1: the root)
  size_t max_header_bytes = 1 << 20;   // per header block; fields beyond are skipped
  size_t max_total_size = 256u << 20;  // bytes of `raw` parsed; the rest is ignored
  size_t max_text_bytes = 16u << 20;   // per decoded text body kept (UTF-8 bytes)

  // Attachments: hash the decoded bytes (SHA-256, core/sha256.h), and/or keep them in
  // Part::data so the caller can store them without decoding twice.
  bool hash_attachments = true;
  bool keep_attachment_data = false;

  // Authentication-Results fields whose authserv-id is one of these (case-insensitive) are
  // trusted (RFC 8601 section 5): only they feed ParsedMessage::auth_summary.
  std::vector<std::string> trusted_authserv_ids;
};

// Parses one message. `raw` must outlive the result (and stay unchanged).
ParsedMessage parse(std::string_view raw, const ParseOptions& options = {});

// Appends the transfer-decoded bytes (base64 / quoted-printable / uuencode removed; no
// charset conversion) of leaf part `part_index` to `out`. For a part that is not a leaf,
// appends nothing. Uses Part::data when the parse kept it. Returns false if the body was
// not cleanly encoded (the bytes are still the best-effort decoding).
bool decodeBody(const ParsedMessage& message, size_t part_index, std::string& out);

// The decoded bytes of attachment `n` (index into ParsedMessage::attachments), as an owned
// string. The filename is Part::filename of parts[attachments[n]] — decoded, unsanitised:
// never use it as a path without sanitising.
std::string attachmentBytes(const ParsedMessage& message, size_t n);

// As attachmentBytes, but moves the bytes kept by ParseOptions::keep_attachment_data out of
// the message instead of copying them (Part::data_kept becomes false, so a later
// decodeBody() decodes the body again). For the pipeline's store step.
std::string takeAttachmentBytes(ParsedMessage& message, size_t n);

// One attachment as the pipeline stores it; views into the ParsedMessage (valid while it
// lives and is not modified).
struct AttachmentInfo {
  size_t n = 0;     // position in ParsedMessage::attachments (the {n} of the storage key)
  size_t part = 0;  // index into ParsedMessage::parts
  std::string_view part_id;
  std::optional<std::string_view> filename;  // decoded, UNSANITISED; absent if none given
  std::string_view content_type;             // lower-cased type/subtype
  std::optional<std::string_view> disposition;
  std::optional<std::string_view> content_id;
  bool is_inline = false;   // inline resource or inline disposition
  bool nested = false;      // inside an encapsulated message
  uint64_t size = 0;        // decoded bytes
  std::string_view sha256;  // hex; empty when ParseOptions::hash_attachments was off
};

// Every attachment in order. The bytes: attachmentBytes(message, info.n) or
// decodeBody(message, info.part, out).
std::vector<AttachmentInfo> listAttachments(const ParsedMessage& message);

}  // namespace mx::mime
