// server/server.h — the I/O shell around smtp::Session: event-loop threads (one per core,
// each with its own SO_REUSEPORT acceptor per listener and its own spool lane, so nothing
// on the per-byte path takes a lock), connection limits and graceful drain. Each
// connection is driven by an SmtpConnection (smtp_connection.h) over a Transport (plain,
// TLS), asks the Policy (policy/policy.h) at every parking point, and commits through the
// Reception (reception.h) of its thread.
//
// Standards: RFC 5321 (transport behaviour: server speaks first, 421 on shutdown),
// RFC 3207 / RFC 8314 (STARTTLS, implicit TLS on 465), PROXY protocol v1/v2 (proxy_protocol.h).
//
// Trust: all peer bytes are untrusted and go only to the PROXY parser or the SMTP session.
// A PROXY header is honoured only from a peer inside the listener's trusted networks; from
// anyone else the connection is plain SMTP and "PROXY ..." is just an unknown command.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "policy/policy.h"
#include "server/ack_gate.h"
#include "server/cidr.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/tls.h"
#include "smtp/session.h"
#include "spool/spool.h"

namespace mx::server {

// kHttpIngest: POST /v1/messages (http_ingest.h); kWebSocket: SMTP in binary WebSocket
// frames (websocket_transport.h). Both speak the edge contract (docs/edge.md).
enum class ListenerKind { kSmtp, kSubmission, kSmtps, kHttpIngest, kWebSocket };

struct ListenerOptions {
  std::string name;                 // "smtp", "submission", "smtps", or the operator's name
  ListenerKind kind = ListenerKind::kSmtp;
  std::string address = "127.0.0.1";
  uint16_t port = 0;                // 0 picks a free port (tests)
  bool proxy_protocol = false;      // expect a PROXY header from trusted peers
  CidrSet trusted_proxies;
  bool auth_plaintext = false;      // allow AUTH without TLS on this listener
  bool require_tls = false;         // MAIL/AUTH only after STARTTLS (default on for submission)
  bool auth_required = false;       // MAIL only after AUTH (default on for submission)
  Millis greet_delay{0};            // hold the greeting; bytes meanwhile: 554 5.5.1 (EarlyTalker)
  Millis greet_pass_ttl{0};         // skip the delay for an address that passed it this recently
  // Edge listeners (http_ingest, websocket): the Standard Webhooks key (decoded; empty: none),
  // the largest message (http_ingest), and whether a WebSocket upgrade needs the edge token.
  std::string edge_key;
  uint64_t max_message_size = 0;  // 0: limits.max_message_size
  bool require_edge_token = false;
  // TLS was terminated by the load balancer in front (the NLB's TLS listener on 465): a
  // session whose PROXY header came from `trusted_proxies` counts as TLS (AUTH, require_tls)
  // and is recorded as "TLS at proxy". Needs proxy_protocol; never for an smtps listener.
  bool tls_at_proxy = false;
};

struct ServerOptions {
  // What every session gets: hostname, size and count limits, per-state timeouts (their
  // defaults are the product's defaults: smtp/session.h). The listener and TLS fields of
  // it are set per connection.
  smtp::SessionOptions session;
  uint32_t threads = 0;             // 0 = one per core
  std::vector<ListenerOptions> listeners;
  uint32_t max_connections = 20000;
  uint32_t max_connections_per_ip = 100;
  Millis policy_timeout{30'000};    // a verdict later than this: 451 4.3.0 (kPolicyTempFail)
  Millis proxy_header_timeout{10'000};
  Millis tls_handshake_timeout{30'000};
  Millis drain_timeout{30'000};
  // On SIGTERM, how long /readyz answers 503 while the listeners still accept, before the
  // drain begins (the load balancer's health checks take the node out meanwhile).
  Millis shutdown_delay{0};
  // ack_after = "store": how long the 250 waits for the object store (then 451 4.3.0).
  Millis store_ack_timeout{30'000};
  // HTTP ingest: where the webhook-ids already answered are kept across restarts
  // (idempotency.h); empty: memory only. How many, and for how long.
  std::string ingest_ids_file;
  size_t ingest_ids_max = 200'000;
  std::chrono::seconds ingest_ids_ttl{24 * 3600};
};

// What the server needs from the rest of the process; all must outlive the Server.
struct ServerDeps {
  spool::Spool* spool = nullptr;             // laneCount() >= threads
  const Clock* clock = nullptr;
  Logger* logger = nullptr;
  Metrics* metrics = nullptr;
  TlsContextHolder* tls = nullptr;           // nullptr: no STARTTLS, no smtps listeners
  policy::Policy* policy = nullptr;          // asked at every parking point; thread-safe
  AckGate* ack_gate = nullptr;               // null: 250 after the spool commit alone (ack_gate.h)
};

class Server {
 public:
  Server(ServerOptions options, ServerDeps deps);
  ~Server();

  // Binds every listener (errors name the listener and address) and starts the threads.
  Status start();
  // The port a listener is bound to (after start()), by listener name; 0 if unknown.
  uint16_t boundPort(const std::string& listener) const;

  // Graceful drain: stop accepting, tell every session to finish (421 4.3.2 between
  // transactions), and after drain_timeout close what is left. Blocks until all
  // connections are gone (it waits on the count of live connections, woken by each
  // close) and the threads have exited. Safe to call once, from any thread.
  void drain();

  bool draining() const { return draining_.load(); }
  // Liveness of the event loops, for a watchdog: true when every loop has run the probe
  // posted by the previous call (the first call, and any call while draining, is true);
  // then posts the next probe. Call from one thread, at the watchdog's period.
  bool loopsResponsive();
  size_t threadCount() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> draining_{false};
};

}  // namespace mx::server
