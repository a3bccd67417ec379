// server/server_shared.h — what every connection of one Server shares: the options, the
// injected dependencies, the connection limiter, and the count of live connections that
// Server::drain() waits on. Internal to src/server.
// Threads: options and deps are read-only after start(); the limiter and the counters are
// thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "core/webhook_signature.h"
#include "server/connection_limiter.h"
#include "server/greet_pass_cache.h"
#include "server/idempotency.h"
#include "server/server.h"
#include "smtp/session.h"

namespace mx::server {

struct BoundListener {
  ListenerOptions options;
  uint16_t port = 0;
};

struct ServerShared {
  ServerShared(ServerOptions o, ServerDeps d)
      : options(std::move(o)),
        deps(d),
        limiter(options.max_connections, options.max_connections_per_ip),
        ingest_ids(options.ingest_ids_max, options.ingest_ids_ttl),
        edge_tokens(options.ingest_ids_max, std::chrono::seconds(2 * kWebhookToleranceSeconds)) {}

  const ServerOptions options;
  const ServerDeps deps;
  ConnectionLimiter limiter;
  GreetPassCache greet_passes;  // listeners with a greet_delay
  // HTTP ingest: webhook-ids answered (idempotency.h), shared by every ingest listener.
  IdempotencyCache ingest_ids;
  // WebSocket: edge-token ids already used; a token is good for one upgrade (a copied
  // token cannot be replayed within its 300 s window).
  IdempotencyCache edge_tokens;
  std::atomic<uint64_t> next_connection_id{1};
  std::atomic<bool> draining{false};

  const Clock& clock() const { return *deps.clock; }
  Metrics& metrics() const { return *deps.metrics; }
  Logger& logger() const { return *deps.logger; }

  // The session's options for a connection on `listener`; `tls_active` for implicit TLS.
  smtp::SessionOptions sessionOptions(const ListenerOptions& listener, bool tls_active) const;

  // Live connections: drain() waits until none is left (no polling).
  void connectionOpened();
  void connectionClosed();
  // Waits until no connection is live or `deadline` passes; true when none is left.
  bool waitForNoConnections(std::chrono::steady_clock::time_point deadline);

 private:
  std::mutex live_mu_;
  std::condition_variable live_cv_;
  size_t live_ = 0;
};

}  // namespace mx::server
