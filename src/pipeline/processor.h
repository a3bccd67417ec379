// pipeline/processor.h — MessageProcessor: the pipeline's hook for turning a raw message
// into structured output. The MIME parser (src/mime) implements it; the pipeline works
// without one (raw message stored, event summary null).
//
// Threads: process() is called on the pipeline thread only, one message at a time.
// Re-entrancy: the same message may be processed again after a crash or a retry (the
// pipeline is at-least-once); results must depend only on the input.
// Errors: "parsing never aborts" (DESIGN.md): a processor should turn bad MIME into
// best-effort output with errors[] inside parsed_json. An error Result means the processor
// itself failed (a bug, out of memory); the pipeline then stores the raw message, emits the
// event with summary null and counts a processor error — it does not retry.
// Trust: `raw` is untrusted bytes, exactly as received.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.h"
#include "spool/spool.h"

namespace mx::pipeline {

struct Attachment {
  std::string filename;      // as the message names it (untrusted; the pipeline sanitises it)
  std::string content_type;  // e.g. "application/pdf"
  // The decoded bytes: owned, or a view into `raw` (valid until process()'s result has been
  // stored, i.e. for as long as the pipeline holds the record).
  std::variant<std::string, std::string_view> content;

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
  // `raw_sha256_hex` is the SHA-256 of `raw`, already computed by the pipeline for the event
  // (so the processor need not hash the message again). An error result means the message
  // could not be processed at all: the pipeline still stores the raw message and publishes
  // the event without a summary.
  virtual Result<ProcessedMessage> process(std::string_view raw, const Envelope& envelope,
                                           std::string_view raw_sha256_hex) = 0;
};

}  // namespace mx::pipeline
