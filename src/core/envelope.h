// core/envelope.h — the one Envelope: everything mxgate knows about a message except its
// bytes (DESIGN.md "Seams: one envelope"). Every way in builds it — the SMTP session and
// its driver today; HTTP ingest, WebSocket and Lambda next (`reception` says which) — and
// the spool, the pipeline, the events and the logs all read this same type. Nobody
// copies it field by field into a look-alike.
//
// Who fills what: the reception path sets the identity (id, received_at, tenant) at
// commit; the connection driver sets the connection fields (client address after PROXY
// protocol, TLS); the protocol (smtp::Session) builds the transaction (HELO, MAIL,
// RCPT, AUTH, body type).
//
// JSON: writeEnvelopeJson() is the single writer, used by the event's data.envelope and
// by the parsed document's "envelope" (schemas/parsed-email.schema.json, $defs/Envelope).
//
// Trust: every string field except `listener` and `tenant` holds client bytes (HELO,
// MAIL FROM, RCPT TO, AUTH identity as sent) and may be any bytes; the JSON writer escapes
// them and replaces invalid UTF-8. `tenant` comes from our routing (config names).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/message_id.h"

namespace mx {

class JsonWriter;

// How the message reached us. Stored in the spool by number: append, never renumber.
enum class Reception : uint8_t { kSmtp = 0, kHttp = 1, kWebSocket = 2, kLambda = 3 };
inline constexpr uint8_t kReceptionCount = 4;
std::string_view receptionName(Reception r);

// The body type the client declared (RFC 6152 8BITMIME, RFC 3030 BINARYMIME). Stored by
// number: append, never renumber.
enum class BodyType : uint8_t { kSevenBit = 0, kEightBitMime = 1, kBinaryMime = 2 };
inline constexpr uint8_t kBodyTypeCount = 3;
std::string_view bodyTypeName(BodyType b);  // "7bit", "8bitmime", "binarymime"

// tls_version of a session whose TLS a trusted load balancer terminated (a listener with
// tls_at_proxy): what the parsed JSON, the event and the session log show.
inline constexpr std::string_view kTlsAtProxy = "TLS at proxy";

struct Envelope {
  // Identity: set by the reception path when the message is committed.
  MessageId id;
  WallTime received_at{};
  Reception reception = Reception::kSmtp;
  std::string listener;          // the listener's configured name ("smtp", "submission", ...)
  std::string tenant;            // from recipient routing (the first recipient's tenant;
                                 // a committed copy's one tenant)

  // Connection: set by the driver.
  std::string client_ip;         // the real client (after PROXY protocol)
  uint16_t client_port = 0;
  std::string proxy_peer_ip;     // the load balancer when PROXY protocol was used; else empty
  std::string tls_version;       // empty if plaintext; kTlsAtProxy: terminated by the load balancer
  std::string tls_cipher;        // empty with kTlsAtProxy (the proxy does not tell us)

  // Transaction: built by the protocol.
  std::string helo;              // the EHLO/HELO argument
  bool esmtp = false;            // EHLO (true) or HELO (false)
  std::string auth_user;         // the authenticated SASL identity; empty if none
  std::string mail_from;         // reverse-path without brackets; empty for the null path <>
  std::vector<std::string> rcpt_to;  // forward-paths without brackets, in RCPT order
  // The tenant each recipient's RCPT verdict named, parallel to rcpt_to, while the
  // transaction is open (a message may be for several tenants). Never spooled: a committed
  // envelope is one tenant's copy (splitByTenant()), its tenant in `tenant`.
  std::vector<std::string> rcpt_tenants;
  uint64_t declared_size = 0;    // SIZE= (RFC 1870); 0 when absent
  BodyType body = BodyType::kSevenBit;
  bool smtputf8 = false;         // SMTPUTF8 given on MAIL (RFC 6531)
  bool chunked = false;          // the body arrived by BDAT (RFC 3030)

  bool tls() const { return !tls_version.empty(); }
  bool body8bit() const { return body != BodyType::kSevenBit; }
  // Clears the transaction part (RSET, end of a transaction); identity is reset too.
  // Connection fields, HELO and AUTH stay: they belong to the session.
  void resetTransaction();

  bool operator==(const Envelope&) const = default;
};

// The copies a transaction is committed as, one per tenant of its recipients, in the order
// each tenant first appears in rcpt_tenants: each with only that tenant's recipients (in
// RCPT order), `tenant` set to it and rcpt_tenants empty. An envelope whose recipients all
// have one tenant (or that has no rcpt_tenants) is one copy: itself, with rcpt_tenants
// cleared. A recipient with an empty tenant belongs to the envelope's `tenant`.
std::vector<Envelope> splitByTenant(const Envelope& e);

// The distinct tenants of the envelope's recipients in order of first appearance (the
// envelope's `tenant` alone when rcpt_tenants is empty).
std::vector<std::string> tenantsOf(const Envelope& e);

// Writes the envelope as one JSON object (the shape in schemas/parsed-email.schema.json
// $defs/Envelope): reception, listener, mail_from (null for <>), rcpt_to as objects with
// address/local/domain/detail (RFC 5233 '+' sub-address), helo, esmtp, client_ip,
// client_port, proxy_peer_ip, tls, auth_user, declared_size, body, smtputf8, chunked.
void writeEnvelopeJson(JsonWriter& w, const Envelope& e);
std::string envelopeJson(const Envelope& e);

}  // namespace mx
