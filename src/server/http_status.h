// server/http_status.h — the operator's HTTP endpoint: GET /healthz (process alive),
// GET /readyz (accepting: not stopping, storage healthy; app/readiness.h), GET /metrics (Prometheus text). HTTP/1.1 via
// Boost.Beast, one request per connection, bounded header size and a read timeout.
// Standards: RFC 9112 (HTTP/1.1 message syntax), Prometheus text format 0.0.4.
// Trust: requests are untrusted; only the three GET paths are served, everything else 404/405.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/result.h"

namespace mx::server {

struct HttpStatusHandlers {
  // /readyz: empty when ready (200 "ready"), else the reason (503 "not ready: <reason>").
  // Unset: never ready.
  std::function<std::string()> not_ready;
  std::function<std::string()> metrics;    // /metrics body
};

class HttpStatusServer {
 public:
  HttpStatusServer(std::string address, uint16_t port, HttpStatusHandlers handlers);
  ~HttpStatusServer();
  Status start();   // binds (errors name the address) and starts one thread
  void stop();
  uint16_t port() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mx::server
