// pipeline/processor.h — MessageProcessor: the MessageHandler's hook for turning a raw
// message into structured output. The MIME parser (src/mime) implements it; the handler
// works without one (raw message stored, event summary null). The message's storage keys
// are computed once by the handler and passed in (message_keys.h), so the processor's refs
// name exactly the objects the handler stores.
//
// Threads: process() is called by one handler thread at a time, one message at a time.
// Re-entrancy: the same message may be processed again after a crash or a retry (the
// pipeline is at-least-once); results must depend only on the input.
// Errors: "parsing never aborts" (DESIGN.md): a processor should turn bad MIME into
// best-effort output with errors[] inside parsed_json. An error Result means the processor
// itself failed (a bug, out of memory); the handler then stores the raw message, emits the
// event with summary null and counts a processor error — it does not retry.
// Trust: `raw` is untrusted bytes, exactly as received.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.h"
#include "core/envelope.h"
#include "pipeline/message_keys.h"

namespace mx::pipeline {

struct Attachment {
  std::string filename;      // as the message names it (untrusted; keys sanitise it)
  std::string content_type;  // e.g. "application/pdf"
  // The decoded bytes: owned, or a view into `raw` (valid until process()'s result has been
  // stored, i.e. for as long as the pipeline holds the record).
  std::variant<std::string, std::string_view> content;
  // Where it is stored: keys.attachment(n, filename) for attachment n (from 1), as the
  // processor computed it for its own refs. Empty: the handler computes that same key.
  std::string key;

  std::string_view bytes() const {
    if (const auto* s = std::get_if<std::string>(&content)) return *s;
    return std::get<std::string_view>(content);
  }
};

struct ProcessedMessage {
  std::optional<std::string> parsed_json;   // stored at the "parsed" key when set
  std::vector<Attachment> attachments;      // stored at attachment keys, numbered from 1
  std::optional<std::string> summary_json;  // a JSON object for the event's data.summary
};

class MessageProcessor {
 public:
  virtual ~MessageProcessor() = default;
  // `keys` are the message's storage keys (its refs must use them); `raw_sha256_hex` is the
  // SHA-256 of `raw`, already computed by the handler for the event (so the processor need
  // not hash the message again). An error result means the message could not be processed
  // at all: the handler still stores the raw message and publishes the event without a
  // summary.
  virtual Result<ProcessedMessage> process(std::string_view raw, const Envelope& envelope,
                                           const MessageKeys& keys, std::string_view raw_sha256_hex) = 0;
};

}  // namespace mx::pipeline
