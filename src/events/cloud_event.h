// events/cloud_event.h — builds the "mxgate.message.received" event: a CloudEvents 1.0
// JSON envelope (CloudEvents spec v1.0.2, JSON event format; RFC 8259 JSON, RFC 3339 time)
// whose `data` describes one accepted message: envelope, size, SHA-256, storage keys and
// an optional summary from the MIME parser.
//
//   {"specversion":"1.0","type":"mxgate.message.received",
//    "source":"mxgate://<hostname>/<listener>","id":"<message id>","time":"<RFC 3339>",
//    "datacontenttype":"application/json","subject":"<message id>",
//    "traceparent":"00-<trace id>-<parent id>-01",
//    "data":{"id","tenant","envelope":{...},"received_at","size","sha256",
//            "storage":{"raw","parsed"|null,"attachments":[...]},"summary":{...}|null,
//            "receipt":{...} (only for a message another service received first, e.g. SES)}}
//
// traceparent is the CloudEvents distributed-tracing extension (W3C Trace Context): the
// trace id is the message id's 128 bits, so every event, retry and sink of one message
// carries the same trace, and a consumer can follow it from SMTP on.
//
// data.envelope is the one envelope JSON shape (core/envelope.h writeEnvelopeJson), the
// same object the parsed document carries.
//
// Trust: envelope strings are untrusted client bytes (MAIL FROM, HELO, ...). JsonWriter
// escapes them and replaces invalid UTF-8 with U+FFFD, so the output is always valid JSON.
// `summary_json` is pre-encoded JSON from our own MIME code and is embedded as is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/envelope.h"
#include "events/event_sink.h"

namespace mx::events {

inline constexpr std::string_view kMessageReceivedType = "mxgate.message.received";

// What the service that received the message before us judged it — an SES receipt rule's
// verdicts, as SES spells them ("PASS", "FAIL", "GRAY", "PROCESSING_FAILED", "DISABLED").
// The event carries it as data.receipt {"by":"ses","spf":…,"dkim":…,"dmarc":…,"spam":…,
// "virus":…} (empty verdicts left out); absent when `by` is empty.
struct ReceiptVerdicts {
  std::string by;
  std::string spf, dkim, dmarc, spam, virus;
};

// Everything the event says about one message beyond its envelope. Filled by the pipeline.
struct MessageReceived {
  const Envelope* envelope = nullptr;  // the record's envelope (not copied); must be set
  std::string hostname;      // this node, for "source"
  std::string tenant;        // the tenant as used in storage keys (sanitised)
  uint64_t size = 0;         // bytes of the raw message
  std::string sha256;        // lowercase hex of the raw message
  std::string raw_key;
  std::optional<std::string> parsed_key;
  std::vector<std::string> attachment_keys;
  std::optional<std::string> summary_json;  // a JSON object, or nullopt (null in JSON)
  // The trace the event joins (W3C traceparent, e.g. from an AWS X-Ray header at the Lambda
  // entry point); empty: traceparentOf(envelope->id). Must be a valid traceparent.
  std::string traceparent;
  ReceiptVerdicts receipt;  // data.receipt when receipt.by is set
};

// The W3C traceparent of the message `id`: "00-" 32 hex "-" 16 hex "-01".
std::string traceparentOf(const MessageId& id);

// The CloudEvents JSON text for `m`, one line.
std::string buildMessageReceivedJson(const MessageReceived& m);
// The same, wrapped as an Event (id = message id).
Event makeMessageReceivedEvent(const MessageReceived& m);

}  // namespace mx::events
