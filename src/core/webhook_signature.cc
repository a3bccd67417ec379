// core/webhook_signature.cc — see webhook_signature.h.
#include "core/webhook_signature.h"

#include <openssl/crypto.h>

#include "core/base64.h"

namespace mx {
namespace {

constexpr std::string_view kSecretPrefix = "whsec_";

}  // namespace

Result<std::string> webhookKeyFromSecret(std::string_view secret) {
  std::string key;
  if (secret.substr(0, kSecretPrefix.size()) == kSecretPrefix) {
    std::optional<std::string> decoded = base64DecodeStrict(secret.substr(kSecretPrefix.size()));
    if (!decoded) return Error(ErrorClass::kConfig, "secret starts with whsec_ but the rest is not base64 (RFC 4648)");
    key = std::move(*decoded);
  } else {
    key = std::string(secret);
  }
  if (key.size() < kWebhookMinKeyBytes) {
    return Error(ErrorClass::kConfig,
                 "secret is " + std::to_string(key.size()) + " bytes; Standard Webhooks asks for at least " +
                     std::to_string(kWebhookMinKeyBytes) + " (e.g. whsec_ + base64 of 32 random bytes)");
  }
  return key;
}

std::string webhookSignature(std::string_view key, std::string_view id, int64_t unix_seconds, std::string_view body,
                             std::string_view version) {
  std::string content;
  const std::string ts = std::to_string(unix_seconds);
  content.reserve(id.size() + ts.size() + body.size() + 2);
  content.append(id).append(".").append(ts).append(".").append(body);
  return std::string(version) + "," + base64Encode(asBytes(hmacSha256(key, content)));
}

bool isEdgeWebhookId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<int64_t> parseWebhookTimestamp(std::string_view text) {
  // 18 digits cannot overflow int64_t; real timestamps have 10.
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

WebhookVerifier::WebhookVerifier(std::string_view key, std::string_view id, std::string_view timestamp) : hmac_(key) {
  hmac_.update(id);
  hmac_.update(".");
  hmac_.update(timestamp);
  hmac_.update(".");
}

namespace {
// The base64 part of `entry` when it is "<version>,<base64>"; nullopt otherwise.
std::optional<std::string_view> entryOfVersion(std::string_view entry, std::string_view version) {
  if (entry.size() <= version.size() || entry.substr(0, version.size()) != version || entry[version.size()] != ',')
    return std::nullopt;
  return entry.substr(version.size() + 1);
}

template <class F>
void forEachEntry(std::string_view header, F f) {
  while (!header.empty()) {
    size_t sp = header.find(' ');
    f(header.substr(0, sp));
    header = sp == std::string_view::npos ? std::string_view() : header.substr(sp + 1);
  }
}
}  // namespace

bool hasWebhookSignatureVersion(std::string_view header, std::string_view version) {
  bool found = false;
  forEachEntry(header, [&](std::string_view entry) { found = found || entryOfVersion(entry, version).has_value(); });
  return found;
}

bool WebhookVerifier::matches(std::string_view header, std::string_view version) {
  const Sha256Digest mac = hmac_.finish();
  bool any = false;
  forEachEntry(header, [&](std::string_view entry) {
    std::optional<std::string_view> b64 = entryOfVersion(entry, version);
    if (!b64) return;
    std::optional<std::string> sig = base64DecodeStrict(*b64);
    if (!sig || sig->size() != mac.size()) return;
    // Every entry is compared, in constant time, so timing tells nothing about which matched.
    if (CRYPTO_memcmp(sig->data(), mac.data(), mac.size()) == 0) any = true;
  });
  return any;
}

WebhookCheck verifyWebhook(std::string_view key, std::string_view id, std::string_view timestamp,
                           std::string_view signature_header, std::string_view body, int64_t now_unix) {
  std::optional<int64_t> ts = parseWebhookTimestamp(timestamp);
  if (!ts) return WebhookCheck::kBadTimestamp;
  if (!webhookTimestampFresh(*ts, now_unix)) return WebhookCheck::kExpired;
  WebhookVerifier v(key, id, timestamp);
  v.update(body);
  return v.matches(signature_header) ? WebhookCheck::kOk : WebhookCheck::kBadSignature;
}

std::string_view webhookCheckText(WebhookCheck c) {
  switch (c) {
    case WebhookCheck::kOk:
      return "ok";
    case WebhookCheck::kBadTimestamp:
      return "bad webhook-timestamp";
    case WebhookCheck::kExpired:
      return "webhook-timestamp outside the 300 s window";
    case WebhookCheck::kBadSignature:
      return "signature mismatch";
  }
  return "signature mismatch";
}

}  // namespace mx
