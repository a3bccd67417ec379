// events/cloud_event.h — builds the "mxgate.message.received" event: a CloudEvents 1.0
// JSON envelope (CloudEvents spec v1.0.2, JSON event format; RFC 8259 JSON, RFC 3339 time)
// whose `data` describes one accepted message: envelope, size, SHA-256, storage keys and
// an optional summary from the MIME parser.
//
//   {"specversion":"1.0","type":"mxgate.message.received",
//    "source":"mxgate://<hostname>/<listener>","id":"<message id>","time":"<RFC 3339>",
//    "datacontenttype":"application/json","subject":"<message id>",
//    "data":{"id","tenant","envelope":{"mail_from","rcpt_to":[...],"helo","client_ip",
//            "client_port","proxy_peer_ip"|null,"tls":{"version","cipher"}|null,
//            "auth_user"|null,"smtputf8","body_8bit"},
//            "received_at","size","sha256","storage":{"raw","parsed"|null,"attachments":[...]},
//            "summary":{...}|null}}
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
#include "events/event_sink.h"

namespace mx::events {

inline constexpr std::string_view kMessageReceivedType = "mxgate.message.received";

// Everything the event says about one message. Plain data, filled by the pipeline.
struct MessageReceived {
  std::string id;            // message id (ULID text)
  std::string hostname;      // this node, for "source"
  std::string listener;      // "smtp", "submission", ...
  std::string tenant;
  WallTime received_at{};
  std::string mail_from;     // empty: the null reverse-path "<>"
  std::vector<std::string> rcpt_to;
  std::string helo;
  std::string client_ip;
  uint16_t client_port = 0;
  std::string proxy_peer_ip;  // empty: no PROXY protocol (null in JSON)
  std::string tls_version;    // empty: plaintext (tls is null in JSON)
  std::string tls_cipher;
  std::string auth_user;      // empty: not authenticated (null in JSON)
  bool smtputf8 = false;
  bool body_8bit = false;
  uint64_t size = 0;          // bytes of the raw message
  std::string sha256;         // lowercase hex of the raw message
  std::string raw_key;
  std::optional<std::string> parsed_key;
  std::vector<std::string> attachment_keys;
  std::optional<std::string> summary_json;  // a JSON object, or nullopt (null in JSON)
};

// The CloudEvents JSON text for `m`, one line.
std::string buildMessageReceivedJson(const MessageReceived& m);
// The same, wrapped as an Event (id = message id).
Event makeMessageReceivedEvent(const MessageReceived& m);

}  // namespace mx::events
