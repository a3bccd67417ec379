// http/client.h — HttpClient: the asynchronous HTTP/1.1 client every backend that talks to a
// service shares (S3, SQS, STS, the AWS credential endpoints, webhooks). One interface so a
// backend can be unit-tested against an in-memory double; one implementation
// (http/beast_client.h) on Boost.Beast over Asio and OpenSSL, on its own io_context
// thread(s): a keep-alive connection pool per endpoint (scheme, host, port), TLS with the
// system CA store or a CA file, connect and whole-request timeouts, and a bound on requests
// in flight (the rest wait in a FIFO queue, never fail for it).
//
// RFCs: 9110 (semantics), 9112 (HTTP/1.1 message syntax, persistent connections), 3986 (URLs).
//
// Threads: send() may be called from any thread. `done` is called exactly once, on one of the
// client's own threads, never from inside send(). The client must outlive every callback:
// its destructor stops the threads and answers every request still queued or in flight with
// an error (kTransientBackend, "client shut down").
// Errors: a response with any status code is a success at this level (the caller decides what
// a 503 means). An error Result is kTransientBackend for anything that may heal (DNS, connect
// refused, reset, TLS handshake, timeout, truncated response), kPermanentBackend for a request
// that can never be sent (a malformed URL, an unknown scheme, a response over
// max_response_bytes). A request whose pooled connection turns out to be closed by the peer
// before any byte of a response arrived is retried once on a new connection (RFC 9112 9.3.1,
// the stale keep-alive race); no other retries happen here: retry policy is the caller's.
// Trust: responses are untrusted bytes from the network: sizes are bounded, headers parsed by
// Beast, nothing is executed or interpreted beyond HTTP framing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace mx::http {

struct Header {
  std::string name, value;
};
using Headers = std::vector<Header>;

// The value of the first header named `name` (ASCII case-insensitive), or null.
const std::string* findHeader(const Headers& headers, std::string_view name);

// An absolute http or https URL, split. `target` is the path and query exactly as they go on
// the request line (already percent-encoded by the caller; "/" when the URL has no path).
struct Url {
  std::string scheme;  // "http" | "https"
  std::string host;    // a name, an IPv4 address, or an IPv6 address without brackets
  uint16_t port = 0;   // explicit, or 80/443 from the scheme
  std::string target;

  // The Host header value (RFC 9110 7.2): the host, bracketed when it is an IPv6 address, and
  // ":port" only when the port is not the scheme's default. SigV4 signs this same string.
  std::string authority() const;
  bool tls() const { return scheme == "https"; }
};
// The scheme and host are lower-cased; a fragment is dropped. Bytes that cannot appear on a
// request line (controls, space, DEL, non-ASCII) are refused rather than encoded: encoding is
// the caller's job (aws::uriEncode).
// Errors: kPermanentBackend naming what is wrong (no scheme, bad port, userinfo present …).
Result<Url> parseUrl(std::string_view url);

struct Request {
  std::string method = "GET";
  std::string url;   // absolute; see Url. Host and Content-Length are set by the client.
  Headers headers;
  std::string body;
  Millis timeout{0};  // the whole exchange, connect included; 0: ClientOptions::request_timeout
  const std::string* header(std::string_view name) const { return findHeader(headers, name); }
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;
  const std::string* header(std::string_view name) const { return findHeader(headers, name); }
};

struct ClientOptions {
  uint32_t threads = 1;                 // io_context threads owned by the client
  uint32_t max_in_flight = 64;          // requests on the wire at once (all endpoints)
  uint32_t max_idle_per_endpoint = 64;  // pooled idle keep-alive connections kept per endpoint
  Millis connect_timeout{5'000};
  Millis request_timeout{30'000};
  Millis idle_timeout{30'000};          // a pooled connection idle this long is closed
  std::string ca_file;                  // PEM bundle; empty: the system's default CA store
  // false: plain http only — no TLS context and no CA store read at creation (reading the
  // system bundle costs tens of ms: the Lambda Runtime API client, on loopback, skips it);
  // an https request then fails with kPermanentBackend.
  bool tls = true;
  bool verify_peer = true;              // https: certificate chain and host name (SNI sent)
  uint64_t max_response_bytes = 64ull << 20;
  std::string user_agent = "mxgate";
};

class HttpClient {
 public:
  using Callback = std::function<void(Result<Response>)>;
  virtual ~HttpClient() = default;

  // Queues the request; see the file comment for threads and errors.
  virtual void send(Request request, Callback done) = 0;
};
using HttpClientPtr = std::unique_ptr<HttpClient>;

// Sends and blocks the calling thread until the answer. For startup code, CLIs and tests —
// never on an event loop (the client's own threads included: that would deadlock).
Result<Response> sendAndWait(HttpClient& client, Request request);

}  // namespace mx::http
