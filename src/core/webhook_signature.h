// core/webhook_signature.h — Standard Webhooks 1.0.0 signatures, the one home of both sides
// ("Signature scheme", "Webhook headers"): the webhook event sink signs its requests with
// it, and the edge listeners verify with it — the HTTP ingest over a streamed body, the
// WebSocket upgrade's edge token over the client address (docs/edge.md).
//
//   key        "whsec_<base64>" decoded (strict RFC 4648); any other secret is its own bytes
//   content    "<webhook-id>.<webhook-timestamp>.<body>"
//   signature  "v1," + base64(HMAC-SHA256(key, content)); the header holds one or more such
//              entries separated by spaces (key rotation); any one that matches is enough.
//              A caller may name another version tag for the same HMAC: the HTTP ingest
//              asks for "v1e", whose "body" starts with the signed envelope headers
//              (server/edge_request.h), so that a plain Standard Webhooks signature over the
//              message alone is never taken for one that covers the envelope.
//   freshness  |now - webhook-timestamp| <= 300 s (the spec's tolerance against replays).
//
// Threads: free functions are thread-safe; a WebhookVerifier belongs to one thread.
// Trust: ids, timestamps, signature headers and bodies given to the verifying side are
// untrusted bytes of any length: they are parsed strictly and compared in constant time.
// The key is a secret: no error message quotes it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/sha256.h"

namespace mx {

// The spec's tolerance for webhook-timestamp, both ways.
inline constexpr int64_t kWebhookToleranceSeconds = 300;
// Standard Webhooks: "at least 24 bytes" of key.
inline constexpr size_t kWebhookMinKeyBytes = 24;

// The signing key of a configured secret (see the file comment). Errors: kConfig, never
// quoting the secret.
Result<std::string> webhookKeyFromSecret(std::string_view secret);

// The webhook-signature value "<version>,<base64>" for one request.
std::string webhookSignature(std::string_view key, std::string_view id, int64_t unix_seconds, std::string_view body,
                             std::string_view version = "v1");

// Whether the webhook-signature value holds an entry of `version` ("v1,..."), well-formed
// or not: tells "signed the older way" apart from "signed wrongly".
bool hasWebhookSignatureVersion(std::string_view signature_header, std::string_view version);

// The edge contract's webhook-id: 1..128 characters of [A-Za-z0-9_.:-].
bool isEdgeWebhookId(std::string_view id);

// A webhook-timestamp: ASCII digits only (1..18 of them), as Unix seconds; nullopt otherwise.
std::optional<int64_t> parseWebhookTimestamp(std::string_view text);

// Whether `ts` is within the tolerance of `now` (Unix seconds).
inline bool webhookTimestampFresh(int64_t ts, int64_t now) {
  return ts >= now - kWebhookToleranceSeconds && ts <= now + kWebhookToleranceSeconds;
}

// Verifies a signature over content that arrives in pieces: construct with the id and the
// timestamp exactly as received, feed the body with update(), then call matches() once.
class WebhookVerifier {
 public:
  WebhookVerifier(std::string_view key, std::string_view id, std::string_view timestamp);

  void update(std::string_view body_piece) { hmac_.update(body_piece); }
  // True when one "<version>,<base64>" entry of `signature_header` (entries separated by
  // spaces) equals the HMAC. Entries of other versions or malformed entries are skipped.
  // Call once.
  bool matches(std::string_view signature_header, std::string_view version = "v1");

 private:
  HmacSha256 hmac_;
};

// The whole check on a body held in memory (the WebSocket token: the body is the client
// address): timestamp syntax and freshness, then the signature.
enum class WebhookCheck : uint8_t { kOk, kBadTimestamp, kExpired, kBadSignature };
WebhookCheck verifyWebhook(std::string_view key, std::string_view id, std::string_view timestamp,
                           std::string_view signature_header, std::string_view body, int64_t now_unix);
// "bad webhook-timestamp", "webhook-timestamp outside the 300 s window", "signature mismatch".
std::string_view webhookCheckText(WebhookCheck c);

}  // namespace mx
