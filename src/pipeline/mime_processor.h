// pipeline/mime_processor.h — the MessageProcessor that runs the MIME parser (src/mime) on a
// spooled message: the parsed-email JSON document (with envelope, id, storage refs), the
// decoded attachments to store, and the summary object for the event.
// Standards: as src/mime (RFC 5322, 2045-2049, 2047, 2231, 8601); RFC 5233 for the
// sub-address ("detail") of recipients.
// Trust: the raw message and the envelope are untrusted; the parser never aborts, and its
// errors[] travel in the document. Attachment filenames are passed on unsanitised; their
// keys (and every ref in the document) come from the MessageKeys the handler passes in.
// Threads: process() is called from one handler thread at a time.
#pragma once

#include <string>
#include <vector>

#include "pipeline/processor.h"

namespace mx::pipeline {

struct MimeProcessorOptions {
  std::vector<std::string> trusted_authserv_ids;   // RFC 8601 section 5
};

class MimeProcessor final : public MessageProcessor {
 public:
  explicit MimeProcessor(MimeProcessorOptions options);

  // MessageProcessor
  Result<ProcessedMessage> process(std::string_view raw, const Envelope& envelope, const MessageKeys& keys,
                                   std::string_view raw_sha256_hex) override;

 private:
  MimeProcessorOptions options_;
};

}  // namespace mx::pipeline
