// pipeline/mime_processor.cc — see mime_processor.h.
#include "pipeline/mime_processor.h"

#include "core/envelope.h"
#include "core/json_writer.h"
#include "core/time_format.h"
#include "mime/json.h"
#include "mime/parser.h"

namespace mx::pipeline {

MimeProcessor::MimeProcessor(MimeProcessorOptions options) : options_(std::move(options)) {}

Result<ProcessedMessage> MimeProcessor::process(std::string_view raw, const Envelope& env, const MessageKeys& keys,
                                                std::string_view raw_sha256_hex) {
  mime::ParseOptions po;
  po.keep_attachment_data = true;  // store them without decoding twice
  po.trusted_authserv_ids = options_.trusted_authserv_ids;
  mime::ParsedMessage pm = mime::parse(raw, po);

  mime::JsonContext ctx;
  ctx.id = env.id.toString();
  ctx.received_at = formatRfc3339(env.received_at);
  ctx.envelope_json = envelopeJson(env);
  ctx.raw_ref = keys.raw;
  ctx.raw_sha256 = std::string(raw_sha256_hex);  // hashed once, by the pipeline

  ProcessedMessage out;
  out.attachments.reserve(pm.attachments.size());
  for (size_t i = 0; i < pm.attachments.size(); ++i) {
    const mime::Part& part = pm.parts[pm.attachments[i]];
    Attachment a;
    a.filename = part.filename.value_or("attachment");
    a.content_type = part.content_type;
    a.content = mime::takeAttachmentBytes(pm, i);  // kept by the parse: moved, not copied
    // Attachment i is number i + 1; the handler stores it at this key.
    a.key = keys.attachment(i + 1, a.filename);
    ctx.attachment_refs.push_back(a.key);
    out.attachments.push_back(std::move(a));
  }
  out.parsed_json = mime::toJson(pm, ctx);
  out.summary_json = mime::summaryJson(pm, ctx);
  return out;
}

}  // namespace mx::pipeline
