// server/server_config.cc — see server_config.h.
#include "server/server_config.h"

#include <charconv>

#include "core/webhook_signature.h"

namespace mx::server {

using config::Check;
using config::Table;

namespace {

constexpr uint64_t kKiB = 1024;

}  // namespace

const Table<ServerOptions>& serverTable() {
  static const Table<ServerOptions> t = [] {
    Table<ServerOptions> t("server", "the process: name, threads, connection limits, drain");
    t.add("hostname", [](ServerOptions& o) -> std::string& { return o.session.hostname; },
          "name in the greeting, the EHLO reply, the 421 replies and the generated certificate",
          Check::nonEmpty());
    t.add("threads", &ServerOptions::threads,
          "event-loop threads (0: one per core); each has its own acceptors and spool lane");
    t.add("max_connections", &ServerOptions::max_connections, "open connections in total; beyond, `421 4.7.0`",
          Check::atLeast(1));
    t.add("max_connections_per_ip", &ServerOptions::max_connections_per_ip,
          "per real client address (after PROXY protocol); beyond, `421 4.7.0`", Check::atLeast(1));
    t.add("drain_timeout", &ServerOptions::drain_timeout,
          "on SIGTERM, how long sessions may finish before `421 4.3.2` and close");
    t.add("shutdown_delay", &ServerOptions::shutdown_delay,
          "on SIGTERM, how long `/readyz` answers 503 while the listeners still accept, before the "
          "drain: a load balancer's health checks take the node out first (set it above the health "
          "check's interval x unhealthy threshold; 0 behind Kubernetes, whose preStop hook waits)");
    t.add("policy_timeout", &ServerOptions::policy_timeout,
          "longest wait for a policy verdict (recipient lookup, rate limit, password check); "
          "then `451 4.3.0` (`454 4.7.0` for AUTH)", Check::atLeast(1));
    return t;
  }();
  return t;
}

const Table<ServerOptions>& limitsTable() {
  static const Table<ServerOptions> t = [] {
    Table<ServerOptions> t("limits", "per message and per session");
    t.add("max_message_size", [](ServerOptions& o) -> uint64_t& { return o.session.max_message_size; },
          "SIZE (RFC 1870), declared and actual; beyond, `552 5.3.4`", Check::atLeast(kKiB));
    t.add("max_recipients", [](ServerOptions& o) -> uint32_t& { return o.session.max_recipients; },
          "per transaction; beyond, `452 4.5.3`", Check::atLeast(1));
    t.add("max_errors", [](ServerOptions& o) -> uint32_t& { return o.session.max_errors; },
          "bad commands per session before `421 4.7.0` and close");
    t.add("max_messages_per_session", [](ServerOptions& o) -> uint32_t& { return o.session.max_messages; },
          "messages per session (0: unlimited); then `421 4.7.0`");
    t.add("max_line_length", [](ServerOptions& o) -> uint32_t& { return o.session.max_line_length; },
          "hard bound on one line of message data, CRLF included. Longer lines than RFC 5321's "
          "1000 octets are accepted and stored byte-exact (the parsed JSON flags LINE_TOO_LONG); "
          "beyond this bound the message is refused with `554 5.6.0`", Check::atLeast(1000));
    return t;
  }();
  return t;
}

const Table<ServerOptions>& timeoutsTable() {
  static const Table<ServerOptions> t = [] {
    Table<ServerOptions> t("timeouts", "per state (RFC 5321 section 4.5.3.2 gives the minimums)");
    t.add("proxy_header", &ServerOptions::proxy_header_timeout, "time for a trusted proxy to send its PROXY header",
          Check::atLeast(1));
    t.add("tls_handshake", &ServerOptions::tls_handshake_timeout, "STARTTLS and implicit TLS handshakes",
          Check::atLeast(1));
    t.add("greeting", [](ServerOptions& o) -> Millis& { return o.session.greeting_timeout; },
          "from the 220 greeting to the client's first EHLO/HELO (0: the command timeout)");
    t.add("idle", [](ServerOptions& o) -> Millis& { return o.session.idle_timeout; },
          "waiting for the next MAIL between transactions (0: the command timeout)");
    t.add("command", [](ServerOptions& o) -> Millis& { return o.session.command_timeout; },
          "waiting for a command inside a transaction", Check::atLeast(1));
    t.add("data", [](ServerOptions& o) -> Millis& { return o.session.data_timeout; },
          "waiting for the next block of message data", Check::atLeast(1));
    t.add("store_ack", &ServerOptions::store_ack_timeout,
          "with `store.s3.ack_after = \"store\"`: how long the reply to end of data waits for the object "
          "store to confirm the raw message before it is `451 4.3.0` (the message stays in the spool "
          "and is stored behind; docs/store-s3.md)",
          Check::atLeast(1));
    return t;
  }();
  return t;
}

ListenerSettings ListenerSettings::defaultsForKind(std::string name, const std::string& kind) {
  ListenerSettings l;
  l.name = std::move(name);
  l.kind = kind;
  if (kind == "submission") {
    l.require_tls = true;
    l.auth_required = true;
  }
  if (kind == "smtps") l.auth_required = true;
  return l;
}

const Table<ListenerSettings>& listenerTable() {
  static const Table<ListenerSettings> t = [] {
    Table<ListenerSettings> t("listener", "one entry per listening socket, addressed by `name`", /*array=*/true);
    t.add("kind", &ListenerSettings::kind,
          "`smtp` (MX, STARTTLS offered), `submission` (STARTTLS then AUTH required), `smtps` "
          "(implicit TLS, AUTH required), `http_ingest` (`POST /v1/messages` from the edge, signed; "
          "docs/edge.md), `websocket` (SMTP in binary WebSocket frames at `GET /v1/smtp`: the edge "
          "bridge); sets the defaults of the keys below",
          Check::oneOf({"smtp", "submission", "smtps", "http_ingest", "websocket"}));
    t.add("listen", &ListenerSettings::listen, "`host:port` (IPv6 as `[addr]:port`)", Check::nonEmpty());
    t.add("proxy_protocol", &ListenerSettings::proxy_protocol,
          "expect a PROXY v1/v2 header from `trusted_proxies` (an NLB, HAProxy)");
    t.add("trusted_proxies", &ListenerSettings::trusted_proxies,
          "networks (CIDR) whose PROXY headers are believed; from anyone else PROXY is an unknown command");
    t.add("auth_plaintext", &ListenerSettings::auth_plaintext, "allow AUTH without TLS on this listener");
    t.add("require_tls", &ListenerSettings::require_tls,
          "MAIL and AUTH only after STARTTLS (default on for submission)");
    t.add("auth_required", &ListenerSettings::auth_required,
          "MAIL only after AUTH (default on for submission and smtps)");
    t.add("greet_delay", &ListenerSettings::greet_delay,
          "hold the 220 greeting this long (\"0s\": off; postscreen uses 6s on port 25); a client that "
          "sends anything meanwhile gets 554 5.5.1 and is closed (RFC 5321 4.3.1)",
          Check::between(0, 60'000));
    t.add("greet_pass_ttl", &ListenerSettings::greet_pass_ttl,
          "an address that waited for a delayed greeting is greeted at once for this long (\"0s\": "
          "delay every connection)");
    t.secret(
        "secret", [](ListenerSettings& l) -> std::string& { return l.secret; },
        "`http_ingest` (required) and `websocket`: the edge's shared Standard Webhooks secret "
        "`whsec_<base64>` (at least 24 key bytes); requests and edge tokens are signed with it");
    t.add("max_message_size", &ListenerSettings::max_message_size,
          "`http_ingest`: the largest message body; beyond, `413` (0: `limits.max_message_size`)");
    t.add("require_edge_token", &ListenerSettings::require_edge_token,
          "`websocket`: refuse (`401`) an upgrade without a signed edge token; without this, a request "
          "with no token headers at all is served with the TCP peer as the client address");
    t.add("tls_at_proxy", &ListenerSettings::tls_at_proxy,
          "TLS is terminated by the load balancer in front (an NLB TLS listener on 465): a session whose "
          "PROXY header came from `trusted_proxies` counts as TLS for AUTH and `require_tls`, and its "
          "envelope and log say \"TLS at proxy\"; needs `proxy_protocol`, not for `smtps`");
    return t;
  }();
  return t;
}

const Table<TlsSettings>& tlsTable() {
  static const Table<TlsSettings> t = [] {
    Table<TlsSettings> t("tls", "the certificate for STARTTLS and implicit TLS (reloaded on SIGHUP)");
    t.add("enabled", &TlsSettings::enabled, "offer STARTTLS; required for `smtps` listeners");
    t.add("cert_file", &TlsSettings::cert_file, "PEM certificate chain");
    t.add("key_file", &TlsSettings::key_file, "PEM private key");
    t.add("self_signed", &TlsSettings::self_signed,
          "generate a self-signed P-256 pair on first run if the files are missing");
    return t;
  }();
  return t;
}

const Table<HttpSettings>& httpTable() {
  static const Table<HttpSettings> t = [] {
    Table<HttpSettings> t("http", "the status endpoint: /healthz, /readyz, /metrics");
    t.add("enabled", &HttpSettings::enabled, "serve the status endpoint");
    t.add("listen", &HttpSettings::listen, "`host:port`");
    return t;
  }();
  return t;
}

const Table<LogSettings>& logTable() {
  static const Table<LogSettings> t = [] {
    Table<LogSettings> t("log", "structured JSON logs, one object per line");
    t.add("file", &LogSettings::file, "append to this file (empty: stderr)");
    return t;
  }();
  return t;
}

std::vector<ListenerSettings> defaultListeners() {
  auto make = [](const char* name, const char* listen) {
    ListenerSettings l = ListenerSettings::defaultsForKind(name, name);
    l.listen = listen;
    return l;
  };
  return {make("smtp", "127.0.0.1:2525"), make("submission", "127.0.0.1:2587"), make("smtps", "127.0.0.1:2465")};
}

bool splitHostPort(const std::string& s, std::string* host, uint16_t* port) {
  size_t colon;
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
    *host = s.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    *host = s.substr(0, colon);
    if (host->find(':') != std::string::npos) return false;  // bare IPv6 needs brackets
  }
  std::string_view digits = std::string_view(s).substr(colon + 1);
  uint32_t p = 0;
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), p);
  if (digits.empty() || r.ec != std::errc() || r.ptr != digits.data() + digits.size() || p > 65535) return false;
  *port = static_cast<uint16_t>(p);
  return true;
}

Result<ListenerOptions> listenerOptions(const ListenerSettings& l, bool tls_enabled) {
  ListenerOptions o;
  o.name = l.name;
  if (l.kind == "smtp") {
    o.kind = ListenerKind::kSmtp;
  } else if (l.kind == "submission") {
    o.kind = ListenerKind::kSubmission;
  } else if (l.kind == "smtps") {
    o.kind = ListenerKind::kSmtps;
  } else if (l.kind == "http_ingest") {
    o.kind = ListenerKind::kHttpIngest;
  } else if (l.kind == "websocket") {
    o.kind = ListenerKind::kWebSocket;
  } else {
    return Error(ErrorClass::kConfig,
                 "kind: must be \"smtp\", \"submission\", \"smtps\", \"http_ingest\" or \"websocket\"");
  }
  if (!splitHostPort(l.listen, &o.address, &o.port))
    return Error(ErrorClass::kConfig, "listen: must be \"host:port\" (IPv6 as \"[addr]:port\")");
  for (const auto& cidr : l.trusted_proxies) {
    auto c = Cidr::parse(cidr);
    if (!c) return Error(ErrorClass::kConfig, "trusted_proxies: '" + cidr + "' is not an address or CIDR");
    o.trusted_proxies.add(*c);
  }
  if (l.proxy_protocol && l.trusted_proxies.empty())
    return Error(ErrorClass::kConfig, "trusted_proxies: proxy_protocol needs at least one trusted network");
  if (o.kind == ListenerKind::kSmtps && !tls_enabled)
    return Error(ErrorClass::kConfig, "kind: smtps needs tls.enabled = true");
  const bool edge = o.kind == ListenerKind::kHttpIngest || o.kind == ListenerKind::kWebSocket;
  if (edge && l.proxy_protocol)
    return Error(ErrorClass::kConfig,
                 "proxy_protocol: not for " + l.kind + " listeners (the edge token carries the client)");
  if (o.kind == ListenerKind::kHttpIngest && l.secret.empty())
    return Error(ErrorClass::kConfig, "secret: http_ingest needs the edge's secret (or secret_file)");
  if (o.kind == ListenerKind::kWebSocket && l.require_edge_token && l.secret.empty())
    return Error(ErrorClass::kConfig, "secret: require_edge_token needs the edge's secret (or secret_file)");
  if (o.kind == ListenerKind::kWebSocket && l.require_tls)
    return Error(ErrorClass::kConfig, "require_tls: a websocket listener has no STARTTLS");
  if (!edge && (!l.secret.empty() || l.require_edge_token || l.max_message_size != 0))
    return Error(ErrorClass::kConfig,
                 "secret, max_message_size and require_edge_token are for http_ingest and "
                 "websocket listeners");
  if (!l.secret.empty()) {
    Result<std::string> key = webhookKeyFromSecret(l.secret);
    if (!key.ok()) return Error(ErrorClass::kConfig, "secret: " + key.error().message());
    o.edge_key = std::move(*key);
  }
  o.max_message_size = l.max_message_size;
  o.require_edge_token = l.require_edge_token;
  if (l.tls_at_proxy && !l.proxy_protocol)
    return Error(ErrorClass::kConfig,
                 "tls_at_proxy: needs proxy_protocol = true (only a trusted proxy can vouch for TLS)");
  if (l.tls_at_proxy && o.kind == ListenerKind::kSmtps)
    return Error(ErrorClass::kConfig, "tls_at_proxy: an smtps listener does its own TLS; use kind = \"submission\"");
  o.proxy_protocol = l.proxy_protocol;
  o.tls_at_proxy = l.tls_at_proxy;
  o.auth_plaintext = l.auth_plaintext;
  // TLS at the proxy makes require_tls satisfiable without a certificate of our own.
  o.require_tls = l.require_tls && (tls_enabled || l.tls_at_proxy);
  o.auth_required = l.auth_required;
  o.greet_delay = l.greet_delay;
  o.greet_pass_ttl = l.greet_pass_ttl;
  return o;
}

}  // namespace mx::server
