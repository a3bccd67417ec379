// events/cloud_event.cc — see cloud_event.h.
#include "events/cloud_event.h"

#include "core/json_writer.h"
#include "core/time_format.h"

namespace mx::events {
namespace {

void stringOrNull(JsonWriter& w, std::string_view key, const std::string& v) {
  w.key(key);
  if (v.empty()) {
    w.null();
  } else {
    w.value(v);
  }
}

}  // namespace

std::string buildMessageReceivedJson(const MessageReceived& m) {
  std::string out;
  out.reserve(768 + m.summary_json.value_or("").size() + 64 * m.rcpt_to.size());
  JsonWriter w(out);
  const std::string time = formatRfc3339(m.received_at);
  w.beginObject();
  w.field("specversion", "1.0");
  w.field("type", kMessageReceivedType);
  w.field("source", "mxgate://" + m.hostname + "/" + m.listener);
  w.field("id", m.id);
  w.field("time", time);
  w.field("datacontenttype", "application/json");
  w.field("subject", m.id);
  w.key("data").beginObject();
  w.field("id", m.id);
  w.field("tenant", m.tenant);
  w.key("envelope").beginObject();
  w.field("mail_from", m.mail_from);
  w.key("rcpt_to").beginArray();
  for (const auto& r : m.rcpt_to) w.value(r);
  w.endArray();
  w.field("helo", m.helo);
  w.field("client_ip", m.client_ip);
  w.field("client_port", static_cast<uint64_t>(m.client_port));
  stringOrNull(w, "proxy_peer_ip", m.proxy_peer_ip);
  w.key("tls");
  if (m.tls_version.empty() && m.tls_cipher.empty()) {
    w.null();
  } else {
    w.beginObject().field("version", m.tls_version).field("cipher", m.tls_cipher).endObject();
  }
  stringOrNull(w, "auth_user", m.auth_user);
  w.field("smtputf8", m.smtputf8);
  w.field("body_8bit", m.body_8bit);
  w.endObject();  // envelope
  w.field("received_at", time);
  w.field("size", m.size);
  w.field("sha256", m.sha256);
  w.key("storage").beginObject();
  w.field("raw", m.raw_key);
  w.key("parsed");
  if (m.parsed_key) {
    w.value(*m.parsed_key);
  } else {
    w.null();
  }
  w.key("attachments").beginArray();
  for (const auto& k : m.attachment_keys) w.value(k);
  w.endArray();
  w.endObject();  // storage
  w.key("summary");
  if (m.summary_json && !m.summary_json->empty()) {
    w.raw(*m.summary_json);
  } else {
    w.null();
  }
  w.endObject();  // data
  w.endObject();
  return out;
}

Event makeMessageReceivedEvent(const MessageReceived& m) {
  return Event{m.id, std::string(kMessageReceivedType), buildMessageReceivedJson(m)};
}

}  // namespace mx::events
