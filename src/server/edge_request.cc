// server/edge_request.cc — see edge_request.h.
#include "server/edge_request.h"

#include <arpa/inet.h>

#include "core/webhook_signature.h"
#include "smtp/address.h"

namespace mx::server {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// One address of MX-Mail-From / MX-Rcpt-To: angle brackets optional. Returns the mailbox
// or nullopt; `utf8` is set when it holds UTF-8.
std::optional<std::string> parseAddress(std::string_view text, bool reverse_path, bool* utf8) {
  text = trim(text);
  std::string path;
  if (!text.empty() && text.front() == '<') {
    path = std::string(text);
  } else {
    path = "<" + std::string(text) + ">";
  }
  smtp::PathRules rules;
  rules.allow_null = reverse_path;
  rules.allow_postmaster = !reverse_path;
  rules.allow_utf8 = true;
  smtp::ParsedPath p = smtp::parsePath(path, rules);
  // Nothing may follow the closing bracket: the header holds an address, not parameters.
  if (!p.ok() || !p.rest.empty()) return std::nullopt;
  if (p.non_ascii) *utf8 = true;
  return std::string(p.mailbox);
}

bool visibleAscii(std::string_view s) {
  for (char c : s) {
    if (c <= 0x20 || c >= 0x7F) return false;
  }
  return true;
}

IngestCheck refuse(int status, std::string error) {
  IngestCheck c;
  c.status = status;
  c.error = std::move(error);
  return c;
}

}  // namespace

std::optional<std::string> canonicalIp(std::string_view text) {
  text = trim(text);
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string z(text);
  char out[INET6_ADDRSTRLEN];
  unsigned char bytes[16];
  if (inet_pton(AF_INET, z.c_str(), bytes) == 1) {
    if (inet_ntop(AF_INET, bytes, out, sizeof out) == nullptr) return std::nullopt;
    return std::string(out);
  }
  if (inet_pton(AF_INET6, z.c_str(), bytes) == 1) {
    if (inet_ntop(AF_INET6, bytes, out, sizeof out) == nullptr) return std::nullopt;
    return std::string(out);
  }
  return std::nullopt;
}

std::string signedEnvelope(const EdgeHead& h) {
  auto value = [](const std::optional<std::string_view>& v) { return v ? trim(*v) : std::string_view(); };
  std::string out;
  for (auto [name, v] :
       {std::pair{"mx-mail-from:", value(h.mail_from)}, std::pair{"mx-rcpt-to:", value(h.rcpt_to)},
        std::pair{"mx-client-ip:", value(h.client_ip)}, std::pair{"mx-client-helo:", value(h.client_helo)}}) {
    out.append(name).append(v).push_back('\n');
  }
  out.push_back('\n');
  return out;
}

bool isRfc822MediaType(std::string_view content_type) {
  std::string_view type = trim(content_type.substr(0, content_type.find(';')));
  return equalsNoCase(type, "message/rfc822");
}

IngestCheck checkIngestHead(const EdgeHead& h, const IngestLimits& limits, int64_t now_unix) {
  // 401 first: without a well-formed, fresh signature header set nothing else is looked at.
  if (!h.webhook_id || !h.webhook_timestamp || !h.webhook_signature)
    return refuse(401, "missing webhook-id, webhook-timestamp or webhook-signature");
  if (!isEdgeWebhookId(*h.webhook_id)) return refuse(401, "webhook-id must be 1..128 of [A-Za-z0-9_.:-]");
  std::optional<int64_t> ts = parseWebhookTimestamp(*h.webhook_timestamp);
  if (!ts) return refuse(401, "webhook-timestamp must be Unix seconds");
  if (!webhookTimestampFresh(*ts, now_unix)) return refuse(401, "webhook-timestamp outside the 300 s window");
  if (h.webhook_signature->empty()) return refuse(401, "empty webhook-signature");
  if (!hasWebhookSignatureVersion(*h.webhook_signature, kIngestSignatureVersion))
    return refuse(401, "webhook-signature has no v1e entry (the ingest signs the envelope headers too: docs/edge.md)");
  if (h.duplicated) return refuse(400, "a content-type, MX-* or webhook-* header appears more than once");
  if (!h.content_type || !isRfc822MediaType(*h.content_type)) return refuse(415, "Content-Type must be message/rfc822");
  if (h.content_length && *h.content_length > limits.max_message_size)
    return refuse(413, "message of " + std::to_string(*h.content_length) + " bytes is over the limit of " +
                           std::to_string(limits.max_message_size));

  IngestCheck c;
  IngestEnvelope& e = c.envelope;
  if (!h.mail_from) return refuse(400, "missing MX-Mail-From (use <> for the null sender)");
  std::string_view from = trim(*h.mail_from);
  if (!from.empty()) {
    std::optional<std::string> a = parseAddress(from, /*reverse_path=*/true, &e.smtputf8);
    if (!a) return refuse(400, "MX-Mail-From is not an address (RFC 5321 4.1.2)");
    e.mail_from = std::move(*a);
  }
  if (!h.rcpt_to || trim(*h.rcpt_to).empty()) return refuse(400, "missing MX-Rcpt-To (at least one address)");
  std::string_view list = *h.rcpt_to;
  while (true) {
    size_t comma = list.find(',');
    std::string_view one = trim(list.substr(0, comma));
    if (one.empty()) return refuse(400, "MX-Rcpt-To has an empty entry");
    std::optional<std::string> a = parseAddress(one, /*reverse_path=*/false, &e.smtputf8);
    if (!a) return refuse(400, "MX-Rcpt-To entry " + std::to_string(e.rcpt_to.size() + 1) + " is not an address");
    e.rcpt_to.push_back(std::move(*a));
    if (limits.max_recipients != 0 && e.rcpt_to.size() > limits.max_recipients)
      return refuse(400, "MX-Rcpt-To has more than " + std::to_string(limits.max_recipients) + " recipients");
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  if (!h.client_ip) return refuse(400, "missing MX-Client-IP");
  std::optional<std::string> ip = canonicalIp(*h.client_ip);
  if (!ip) return refuse(400, "MX-Client-IP is not an IPv4 or IPv6 address");
  e.client_ip = std::move(*ip);
  if (h.client_helo) {
    std::string_view helo = trim(*h.client_helo);
    if (helo.size() > 255 || !visibleAscii(helo)) return refuse(400, "MX-Client-Helo must be up to 255 visible ASCII");
    e.helo = std::string(helo);
  }
  return c;
}

EdgeTokenCheck checkEdgeToken(const EdgeHead& h, std::string_view key, int64_t now_unix) {
  EdgeTokenCheck c;
  if (!h.client_ip && !h.webhook_id && !h.webhook_timestamp && !h.webhook_signature) return c;  // kNone
  c.status = EdgeTokenStatus::kInvalid;
  if (!h.client_ip || !h.webhook_id || !h.webhook_timestamp || !h.webhook_signature) {
    c.error = "incomplete edge token (MX-Client-IP, webhook-id, webhook-timestamp, webhook-signature)";
    return c;
  }
  if (h.duplicated) {
    c.error = "an edge token header appears more than once";
    return c;
  }
  if (key.empty()) {
    c.error = "edge token given but the listener has no secret";
    return c;
  }
  if (!isEdgeWebhookId(*h.webhook_id)) {
    c.error = "webhook-id must be 1..128 of [A-Za-z0-9_.:-]";
    return c;
  }
  // The signed "body" is MX-Client-IP exactly as sent; it must also be an address.
  std::optional<std::string> ip = canonicalIp(*h.client_ip);
  if (!ip) {
    c.error = "MX-Client-IP is not an IPv4 or IPv6 address";
    return c;
  }
  WebhookCheck v =
      verifyWebhook(key, *h.webhook_id, *h.webhook_timestamp, *h.webhook_signature, *h.client_ip, now_unix);
  if (v != WebhookCheck::kOk) {
    c.error = std::string(webhookCheckText(v));
    return c;
  }
  c.status = EdgeTokenStatus::kValid;
  c.client_ip = std::move(*ip);
  return c;
}

}  // namespace mx::server
