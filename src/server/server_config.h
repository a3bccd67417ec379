// server/server_config.h — the configuration sections the server owns (DESIGN.md "Seams:
// config belongs to its module"): [server], [limits] and [timeouts] (ServerOptions, with
// the session's own defaults from smtp/session.h), [[listener]], [tls], [http] and [log].
// Each table's defaults are its struct's default values; docs/config.md is generated from
// these tables (`mxgate config-reference`).
// Trust: values are the operator's and checked by the tables; listenerOptions() checks
// what a table cannot (addresses, networks).
#pragma once

#include <string>
#include <vector>

#include "core/config_table.h"
#include "core/result.h"
#include "server/server.h"

namespace mx::server {

// A [[listener]] as written. Kind-specific defaults: submission requires TLS and AUTH,
// smtps requires AUTH (defaultsForKind()).
struct ListenerSettings {
  std::string name;
  std::string kind = "smtp";          // smtp | submission | smtps | http_ingest | websocket
  std::string listen;                 // "host:port", "[v6]:port"
  bool proxy_protocol = false;
  std::vector<std::string> trusted_proxies;
  bool auth_plaintext = false;
  bool require_tls = false;
  bool auth_required = false;
  Millis greet_delay{0};              // hold the greeting; a client talking meanwhile: 554 5.5.1
  Millis greet_pass_ttl{86'400'000};  // an address that waited is greeted at once for this long
  std::string secret;                 // edge listeners: "whsec_<base64>" (Standard Webhooks)
  uint64_t max_message_size = 0;      // http_ingest: 0 = limits.max_message_size
  bool require_edge_token = false;    // websocket: refuse upgrades without a valid token
  bool tls_at_proxy = false;
  int line = 0;                       // where it was defined (0: defaults or environment)

  static ListenerSettings defaultsForKind(std::string name, const std::string& kind);
};

struct TlsSettings {
  bool enabled = true;
  std::string cert_file = "var/tls/cert.pem";
  std::string key_file = "var/tls/key.pem";
  bool self_signed = true;            // generate the pair on first run if missing
};

struct HttpSettings {
  bool enabled = true;
  std::string listen = "127.0.0.1:8025";
};

struct LogSettings {
  std::string file;                   // empty: stderr
};

const config::Table<ServerOptions>& serverTable();
const config::Table<ServerOptions>& limitsTable();
const config::Table<ServerOptions>& timeoutsTable();
const config::Table<ListenerSettings>& listenerTable();
const config::Table<TlsSettings>& tlsTable();
const config::Table<HttpSettings>& httpTable();
const config::Table<LogSettings>& logTable();

// The listeners of the embedded defaults: smtp 2525, submission 2587, smtps 2465 on
// 127.0.0.1.
std::vector<ListenerSettings> defaultListeners();

// Parses a listener once: kind, address and port, trusted networks. Errors (kConfig)
// name the listener and the key. `tls_enabled`: require_tls needs a certificate.
Result<ListenerOptions> listenerOptions(const ListenerSettings& l, bool tls_enabled);

// Splits "host:port" / "[v6]:port". False on a malformed value.
bool splitHostPort(const std::string& s, std::string* host, uint16_t* port);

}  // namespace mx::server
