// core/envelope.cc — see envelope.h.
#include "core/envelope.h"

#include <algorithm>

#include "core/json_writer.h"

namespace mx {
namespace {

void writeRecipient(JsonWriter& w, std::string_view address) {
  w.beginObject().field("address", address);
  size_t at = address.rfind('@');
  std::string_view local = at == std::string_view::npos ? address : address.substr(0, at);
  w.field("local", local);
  if (at != std::string_view::npos) {
    w.field("domain", address.substr(at + 1));
  } else {
    w.nullField("domain");  // "Postmaster" alone (RFC 5321 4.1.1.3)
  }
  // RFC 5233 sub-addressing with '+', the common separator (Postmark's "MailboxHash").
  size_t plus = local.find('+');
  if (plus != std::string_view::npos) {
    w.field("detail", local.substr(plus + 1));
  } else {
    w.nullField("detail");
  }
  w.endObject();
}

void stringOrNull(JsonWriter& w, std::string_view key, const std::string& v) {
  if (v.empty()) {
    w.nullField(key);
  } else {
    w.field(key, v);
  }
}

}  // namespace

std::string_view receptionName(Reception r) {
  switch (r) {
    case Reception::kSmtp: return "smtp";
    case Reception::kHttp: return "http";
    case Reception::kWebSocket: return "websocket";
    case Reception::kLambda: return "lambda";
  }
  return "unknown";
}

std::string_view bodyTypeName(BodyType b) {
  switch (b) {
    case BodyType::kSevenBit: return "7bit";
    case BodyType::kEightBitMime: return "8bitmime";
    case BodyType::kBinaryMime: return "binarymime";
  }
  return "unknown";
}

void Envelope::resetTransaction() {
  id = MessageId();
  received_at = WallTime{};
  tenant.clear();
  mail_from.clear();
  rcpt_to.clear();
  rcpt_tenants.clear();
  declared_size = 0;
  body = BodyType::kSevenBit;
  smtputf8 = false;
  chunked = false;
}

std::vector<std::string> tenantsOf(const Envelope& e) {
  std::vector<std::string> out;
  if (e.rcpt_tenants.empty()) {
    out.push_back(e.tenant);
    return out;
  }
  for (const auto& t : e.rcpt_tenants) {
    const std::string& name = t.empty() ? e.tenant : t;
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

std::vector<Envelope> splitByTenant(const Envelope& e) {
  std::vector<Envelope> copies;
  const std::vector<std::string> tenants = tenantsOf(e);
  if (tenants.size() <= 1 || e.rcpt_tenants.size() != e.rcpt_to.size()) {
    copies.push_back(e);
    copies.back().rcpt_tenants.clear();
    if (tenants.size() == 1) copies.back().tenant = tenants.front();
    return copies;
  }
  for (const auto& tenant : tenants) {
    Envelope c = e;
    c.tenant = tenant;
    c.rcpt_to.clear();
    c.rcpt_tenants.clear();
    for (size_t i = 0; i < e.rcpt_to.size(); ++i) {
      const std::string& owner = e.rcpt_tenants[i].empty() ? e.tenant : e.rcpt_tenants[i];
      if (owner == tenant) c.rcpt_to.push_back(e.rcpt_to[i]);
    }
    copies.push_back(std::move(c));
  }
  return copies;
}

void writeEnvelopeJson(JsonWriter& w, const Envelope& e) {
  w.beginObject();
  w.field("reception", receptionName(e.reception));
  w.field("listener", e.listener);
  stringOrNull(w, "mail_from", e.mail_from);
  w.key("rcpt_to").beginArray();
  for (const auto& r : e.rcpt_to) writeRecipient(w, r);
  w.endArray();
  w.field("helo", e.helo);
  w.field("esmtp", e.esmtp);
  w.field("client_ip", e.client_ip);
  w.field("client_port", static_cast<uint64_t>(e.client_port));
  stringOrNull(w, "proxy_peer_ip", e.proxy_peer_ip);
  if (e.tls()) {
    w.key("tls").beginObject().field("version", e.tls_version).field("cipher", e.tls_cipher).endObject();
  } else {
    w.nullField("tls");
  }
  stringOrNull(w, "auth_user", e.auth_user);
  w.field("declared_size", e.declared_size);
  w.field("body", bodyTypeName(e.body));
  w.field("smtputf8", e.smtputf8);
  w.field("chunked", e.chunked);
  w.endObject();
}

std::string envelopeJson(const Envelope& e) {
  std::string out;
  out.reserve(384 + 64 * e.rcpt_to.size());
  JsonWriter w(out);
  writeEnvelopeJson(w, e);
  return out;
}

}  // namespace mx
