// pipeline/mime_processor.cc — see mime_processor.h.
#include "pipeline/mime_processor.h"

#include "core/json_writer.h"
#include "core/sha256.h"
#include "core/time_format.h"
#include "mime/json.h"
#include "mime/parser.h"

namespace mx::pipeline {
namespace {

void writeRecipient(JsonWriter& w, std::string_view address) {
  w.beginObject().field("address", address);
  size_t at = address.rfind('@');
  std::string_view local = at == std::string_view::npos ? address : address.substr(0, at);
  w.field("local", local);
  if (at != std::string_view::npos) w.field("domain", address.substr(at + 1));
  // RFC 5233 sub-addressing with '+', the common separator (Postmark's "MailboxHash").
  size_t plus = local.find('+');
  if (plus != std::string_view::npos) w.field("detail", local.substr(plus + 1));
  else w.nullField("detail");
  w.endObject();
}

}  // namespace

std::string envelopeJson(const spool::Envelope& e) {
  std::string out;
  JsonWriter w(out);
  w.beginObject();
  if (e.mail_from.empty()) w.nullField("mail_from");
  else w.field("mail_from", e.mail_from);
  w.key("rcpt_to").beginArray();
  for (const auto& r : e.rcpt_to) writeRecipient(w, r);
  w.endArray();
  w.field("helo", e.helo);
  w.field("client_ip", e.client_ip);
  w.nullField("client_ptr");  // no DNS lookups on the receiving path
  if (e.tls_version.empty()) {
    w.nullField("tls");
  } else {
    w.key("tls").beginObject().field("version", e.tls_version).field("cipher", e.tls_cipher).endObject();
  }
  w.field("smtputf8", e.smtputf8);
  w.field("body_8bitmime", e.body_8bit);
  w.endObject();
  return out;
}

MimeProcessor::MimeProcessor(MimeProcessorOptions options)
    : options_(std::move(options)), keys_(options_.key_prefix) {}

Result<ProcessedMessage> MimeProcessor::process(std::string_view raw, const spool::Envelope& env,
                                                std::string_view raw_sha256_hex) {
  mime::ParseOptions po;
  po.keep_attachment_data = true;  // store them without decoding twice
  po.trusted_authserv_ids = options_.trusted_authserv_ids;
  mime::ParsedMessage pm = mime::parse(raw, po);

  std::string tenant = env.tenant.empty() ? "default" : env.tenant;
  mime::JsonContext ctx;
  ctx.id = env.id.toString();
  ctx.received_at = formatRfc3339(env.received_at);
  ctx.envelope_json = envelopeJson(env);
  ctx.raw_ref = keys_.raw(tenant, env.received_at, env.id);
  ctx.raw_sha256 = std::string(raw_sha256_hex);  // hashed once, by the pipeline

  ProcessedMessage out;
  out.attachments.reserve(pm.attachments.size());
  for (size_t i = 0; i < pm.attachments.size(); ++i) {
    const mime::Part& part = pm.parts[pm.attachments[i]];
    Attachment a;
    a.filename = part.filename.value_or("attachment");
    a.content_type = part.content_type;
    a.content = mime::takeAttachmentBytes(pm, i);  // kept by the parse: moved, not copied
    // The pipeline stores attachment i as number i + 1 under this same layout.
    ctx.attachment_refs.push_back(keys_.attachment(tenant, env.id, i + 1, a.filename));
    out.attachments.push_back(std::move(a));
  }
  out.parsed_json = mime::toJson(pm, ctx);
  out.summary_json = mime::summaryJson(pm, ctx);
  return out;
}

}  // namespace mx::pipeline
