// mime/json.h — renders a ParsedMessage as the parsed-email JSON document
// (schemas/parsed-email.schema.json, schema_version 3) and as the short summary object the
// pipeline puts into the message event. RFC 8259 JSON; RFC 3339 times.
//
// Trust: every string from the message is escaped, and anything that is not UTF-8 has
// already been decoded or replaced, so the output is always valid JSON and valid UTF-8.
// Caller-supplied fragments (JsonContext::envelope_json) are inserted as given: the caller
// vouches for them.
// Threads: re-entrant.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mime/message.h"

namespace mx::mime {

inline constexpr int kSchemaVersion = 3;

// What the caller knows about the delivery; every field is optional.
struct JsonContext {
  std::optional<std::string> id;             // our delivery id (e.g. ULID)
  std::optional<std::string> received_at;    // RFC 3339
  std::optional<std::string> envelope_json;  // a pre-encoded JSON object ("envelope": null
                                             // when absent, as when parsing a file)
  std::optional<std::string> raw_ref;        // where the raw message is stored
  std::optional<std::string> raw_sha256;     // hex, if already computed (else computed here)
  // Storage refs of the attachments, aligned with ParsedMessage::attachments; a missing or
  // empty entry renders as null.
  std::vector<std::string> attachment_refs;
  bool pretty = false;                 // two-space indentation instead of one line
  bool offsets = false;                // add byte offset/length to headers and parts
};

// The full document. Cost: linear in the message's decoded text and header size; an
// attachment whose sha256 was not computed at parse time is decoded and hashed here.
std::string toJson(const ParsedMessage& message, const JsonContext& context = {});
void appendJson(const ParsedMessage& message, const JsonContext& context, std::string& out);

// The event summary: {"subject", "from", "to", "message_id", "date", "thread_key",
// "attachment_count", "attachments": [{part_id, filename, content_type, size, sha256, ref}],
// "auth": {spf, dkim, dmarc, arc}, "has_text", "has_html", "error_count", "truncated"}.
std::string summaryJson(const ParsedMessage& message, const JsonContext& context = {});
void appendSummaryJson(const ParsedMessage& message, const JsonContext& context, std::string& out);

// Re-indents compact JSON (as produced here) with two spaces per level.
std::string prettyJson(std::string_view compact);

// Appends `s`, which must be valid UTF-8, as a JSON string (quoted and escaped). Faster than
// mx::appendJsonString for long texts because it skips UTF-8 validation and scans eight
// bytes at a time.
void appendJsonStringUtf8(std::string& out, std::string_view s);

}  // namespace mx::mime
