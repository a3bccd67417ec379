// http/beast_client.h — BeastClient, the HttpClient on Boost.Beast 1.74 over Boost.Asio and
// OpenSSL 3 (see http/client.h for the contract every HttpClient keeps).
//
// What it adds to the contract:
//  - its own io_context and ClientOptions::threads threads; each connection runs on a strand;
//  - a keep-alive pool per endpoint (scheme, host, port): a finished exchange whose response
//    allows it (RFC 9112 9.3) returns its connection to the pool, at most
//    max_idle_per_endpoint per endpoint; a connection idle longer than idle_timeout is closed
//    instead of reused; the most recently used idle connection is taken first;
//  - at most max_in_flight exchanges at once over all endpoints, the rest in one FIFO queue
//    (a queued request's timeout starts when it leaves the queue);
//  - connect_timeout for resolve + connect, the request's timeout (or request_timeout) for the
//    whole exchange, both as beast::tcp_stream expiry;
//  - https: TLS 1.2+, the system CA store (SSL_CTX_set_default_verify_paths) or ca_file, SNI
//    for host names (RFC 6066 3: never for IP literals), host name or IP address checked
//    against the certificate (RFC 6125, by OpenSSL's X509_VERIFY_PARAM);
//  - responses bounded by max_response_bytes (body) and 64 KiB of header (Beast's parser);
//  - the one retry of RFC 9112 9.3.1: a request sent on a pooled connection that fails before
//    any byte of the response arrived (the peer closed it while idle) is sent again once on a
//    new connection. Methods are not checked for idempotency: a peer that closed an idle
//    connection cannot have processed a request it never read.
// Request headers are refused (kPermanentBackend) when a name is not an RFC 9110 token or a
// value holds CR, LF or NUL: no header injection through keys or metadata.
// Threads: see client.h. The destructor must not run on one of the client's own threads (from
// inside a callback): it joins them.
#pragma once

#include <cstdint>
#include <memory>

#include "core/result.h"
#include "http/client.h"

namespace mx::http {

class BeastClient;
HttpClientPtr makeHttpClient(ClientOptions options);

struct ClientStats {
  uint64_t connections_opened = 0;  // TCP connections established
  uint64_t reused = 0;              // exchanges sent on a pooled connection
  uint64_t stale_retries = 0;       // exchanges retried after a pooled connection died
};

class BeastClient final : public HttpClient {
 public:
  // Errors: kConfig when ca_file cannot be loaded (the message names the file).
  static Result<std::unique_ptr<BeastClient>> create(ClientOptions options);
  ~BeastClient() override;
  BeastClient(const BeastClient&) = delete;
  BeastClient& operator=(const BeastClient&) = delete;

  // HttpClient
  void send(Request request, Callback done) override;

  ClientStats stats() const;

  class Impl;

 private:
  friend HttpClientPtr makeHttpClient(ClientOptions options);
  explicit BeastClient(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// The default client. Never fails: when ca_file cannot be loaded, plain http still works and
// every https request fails with kPermanentBackend naming the file (use BeastClient::create
// to refuse at startup instead).
HttpClientPtr makeHttpClient(ClientOptions options);

}  // namespace mx::http
