// events/cloud_event.cc — see cloud_event.h.
#include "events/cloud_event.h"

#include <cstdio>

#include "core/json_writer.h"
#include "core/time_format.h"

namespace mx::events {

std::string traceparentOf(const MessageId& id) {
  // trace-id: the id's 128 bits (48 of time, 80 random), never all zero; parent-id: its low
  // 64 random bits (1 if they are zero, which W3C forbids); sampled.
  char buf[64];
  uint64_t parent = id.randomLow() != 0 ? id.randomLow() : 1;
  std::snprintf(buf, sizeof buf, "00-%012llx%04x%016llx-%016llx-01", static_cast<unsigned long long>(id.millis()),
                static_cast<unsigned>(id.randomHigh()), static_cast<unsigned long long>(id.randomLow()),
                static_cast<unsigned long long>(parent));
  return buf;
}

std::string buildMessageReceivedJson(const MessageReceived& m) {
  const Envelope& e = *m.envelope;
  std::string out;
  out.reserve(1024 + m.summary_json.value_or("").size() + 96 * e.rcpt_to.size());
  JsonWriter w(out);
  const std::string id = e.id.toString();
  const std::string time = formatRfc3339(e.received_at);
  w.beginObject();
  w.field("specversion", "1.0");
  w.field("type", kMessageReceivedType);
  w.field("source", "mxgate://" + m.hostname + "/" + e.listener);
  w.field("id", id);
  w.field("time", time);
  w.field("datacontenttype", "application/json");
  w.field("subject", id);
  w.field("traceparent", m.traceparent.empty() ? traceparentOf(e.id) : m.traceparent);
  w.key("data").beginObject();
  w.field("id", id);
  w.field("tenant", m.tenant);
  w.key("envelope");
  writeEnvelopeJson(w, e);
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
  if (!m.receipt.by.empty()) {
    w.key("receipt").beginObject();
    w.field("by", m.receipt.by);
    for (auto [name, v] : {std::pair<const char*, const std::string*>{"spf", &m.receipt.spf},
                           {"dkim", &m.receipt.dkim},
                           {"dmarc", &m.receipt.dmarc},
                           {"spam", &m.receipt.spam},
                           {"virus", &m.receipt.virus}}) {
      if (!v->empty()) w.field(name, *v);
    }
    w.endObject();
  }
  w.endObject();  // data
  w.endObject();
  return out;
}

Event makeMessageReceivedEvent(const MessageReceived& m) {
  return Event{m.envelope->id.toString(), std::string(kMessageReceivedType), m.tenant, buildMessageReceivedJson(m)};
}

}  // namespace mx::events
