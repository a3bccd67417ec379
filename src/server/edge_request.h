// server/edge_request.h — the checks the edge contract (docs/edge.md) puts on a request's
// header, apart from any socket so that they can be unit-tested and fuzzed:
//
//   checkIngestHead()  POST /v1/messages (HTTP ingest): the Standard Webhooks headers
//                      (presence, syntax, the 300 s window), Content-Type message/rfc822,
//                      the declared size, and the envelope headers MX-Mail-From, MX-Rcpt-To,
//                      MX-Client-IP, MX-Client-Helo. The signature itself ("v1e") covers
//                      signedEnvelope() followed by the body, and is checked by the driver
//                      while the body streams (core/webhook_signature.h).
//   checkEdgeToken()   GET /v1/smtp (WebSocket upgrade): the signed client-address token
//                      (MX-Client-IP + webhook-id/-timestamp/-signature, the address being
//                      the signed "body").
//
// Each answer is an HTTP status and a short error text for the JSON body; 0 means accepted.
// Order (ingest): 401 (authentication headers) before 415, 413 and 400, so that a caller
// without the key learns nothing about what else it got wrong.
//
// Standards: RFC 9110 8.3 (media types, case-insensitive, parameters), RFC 5321 4.1.2
// (paths, via smtp/address.h), RFC 6531 (UTF-8 addresses), RFC 4291 / RFC 5952 (IPv6 text;
// the address is stored in its canonical form), Standard Webhooks 1.0.0.
// Trust: every header value is untrusted bytes of any length; nothing here allocates more
// than a bounded multiple of the input, and the envelope comes out only from values that
// passed the path parser.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mx::server {

// The header fields of one request that the checks read, as views into the parsed request
// (nullopt: the field is absent). `duplicated` is set by the caller when any field the
// checks read occurred more than once: a request that says two things is refused (400).
struct EdgeHead {
  std::optional<std::string_view> content_type;
  std::optional<uint64_t> content_length;       // absent with chunked transfer coding
  std::optional<std::string_view> mail_from;    // MX-Mail-From
  std::optional<std::string_view> rcpt_to;      // MX-Rcpt-To
  std::optional<std::string_view> client_ip;    // MX-Client-IP
  std::optional<std::string_view> client_helo;  // MX-Client-Helo
  std::optional<std::string_view> webhook_id;
  std::optional<std::string_view> webhook_timestamp;
  std::optional<std::string_view> webhook_signature;
  bool duplicated = false;
};

// The header names the checks read (for the caller's duplicate count), lower case.
inline constexpr std::string_view kEdgeHeaderNames[] = {"content-type",      "mx-mail-from",     "mx-rcpt-to",
                                                        "mx-client-ip",      "mx-client-helo",   "webhook-id",
                                                        "webhook-timestamp", "webhook-signature"};

struct IngestEnvelope {
  std::string mail_from;             // without brackets; empty for the null path <>
  std::vector<std::string> rcpt_to;  // without brackets, in header order
  std::string client_ip;             // canonical text (RFC 5952 for IPv6)
  std::string helo;                  // may be empty
  bool smtputf8 = false;             // some address holds UTF-8 (RFC 6531)
};

struct IngestCheck {
  int status = 0;     // 0: accepted; else 400, 401, 413 or 415
  std::string error;  // for {"error": ...}; names the header, never echoes a secret
  IngestEnvelope envelope;
};

struct IngestLimits {
  uint64_t max_message_size = 0;  // a declared Content-Length above it: 413
  uint32_t max_recipients = 0;    // more MX-Rcpt-To entries: 400 (0: no limit)
};

IngestCheck checkIngestHead(const EdgeHead& head, const IngestLimits& limits, int64_t now_unix);

// The ingest's signature version: HMAC(key, "<id>.<timestamp>." + signedEnvelope() + body).
// A request with only "v1" entries (the body alone, Standard Webhooks) gets 401 before its
// body is read: unsigned envelope headers could be rewritten in transit to other recipients.
inline constexpr std::string_view kIngestSignatureVersion = "v1e";

// The envelope as the ingest signature covers it: four lines "<name>:<value>\n" in this
// order — mx-mail-from, mx-rcpt-to, mx-client-ip, mx-client-helo — then an empty line "\n".
// Each value is the header's bytes without leading and trailing spaces and tabs (HTTP's
// optional whitespace); an absent header is an empty value. No other normalisation: the
// signer signs the values it sends.
std::string signedEnvelope(const EdgeHead& head);

// The WebSocket edge token. kNone: no token header at all (the TCP peer is the client);
// kValid: `client_ip` is the signed MX-Client-IP (canonical); kInvalid: some token header is
// present but the token is incomplete, malformed, expired or wrongly signed (`error` says
// which, for the log; the peer sees only 401).
enum class EdgeTokenStatus : uint8_t { kNone, kValid, kInvalid };
struct EdgeTokenCheck {
  EdgeTokenStatus status = EdgeTokenStatus::kNone;
  std::string client_ip;
  std::string error;
};
EdgeTokenCheck checkEdgeToken(const EdgeHead& head, std::string_view key, int64_t now_unix);

// The canonical text of an IPv4 or IPv6 address (inet_ntop's form), or nullopt.
std::optional<std::string> canonicalIp(std::string_view text);

// Whether a Content-Type value names message/rfc822 (case-insensitive, parameters ignored).
bool isRfc822MediaType(std::string_view content_type);

}  // namespace mx::server
