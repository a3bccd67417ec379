// bridge/bridge.h — `mxgate bridge` (docs/edge.md section 3): listens on local TCP and
// tunnels each accepted connection over one WebSocket (ws:// or wss://) to the edge Worker's
// /v1/smtp, or straight to an mxgate `websocket` listener, for senders whose network blocks
// ports 25/587. The bytes are SMTP and are not looked at: client bytes go out as binary
// frames, frames come back as bytes.
//
// Per connection: the WebSocket is opened when the local client connects (TLS with the
// system CA store, plus `ca_file` if given; SNI and host-name verification), sending
// `Authorization: Bearer <token>` and the subprotocol smtp.mxgate.v1. A failed connect is
// retried (`connect_attempts`, with a doubling pause); if every attempt fails the client
// gets the reply table's BridgeUnreachable (a 421) and is closed, so its MTA retries later. Once the session runs, a
// broken tunnel closes the client connection (an SMTP session cannot be resumed elsewhere).
//
// Flow control: one buffer of `window` bytes per direction and per connection; a side is
// not read again until what was read from it has been written to the other side, so a peer
// that does not drain stops the reading of the other (TCP backpressure all the way).
//
// Standards: RFC 6455 (WebSocket client), RFC 6750 (Bearer), RFC 6066 (SNI), RFC 6125
// (host-name checks, through OpenSSL).
// Threads: one event-loop thread; run() blocks it, stop() may be called from any thread.
// Trust: the token is a secret and is never logged; the remote end is authenticated by TLS
// (wss) only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"

namespace mx::bridge {

struct BridgeOptions {
  std::string listen = "127.0.0.1:2525";
  std::string url;            // ws://host[:port]/path or wss://…
  std::string token;          // Bearer token; empty: no Authorization header
  std::string ca_file;        // extra trust anchors (PEM), beside the system store
  size_t window = 64 * 1024;  // bytes in flight per direction and connection
  uint32_t connect_attempts = 3;
  Millis connect_timeout{10'000};  // each attempt: resolve, TCP, TLS, upgrade
  Millis retry_pause{250};         // before the second attempt; doubles
  // One line per connection event (no newline); empty: stderr.
  std::function<void(std::string_view)> log;
};

class Bridge {
 public:
  // Checks the options, parses the URL and binds the listening socket. Errors (kConfig) name
  // the option.
  static Result<std::unique_ptr<Bridge>> open(BridgeOptions options);
  virtual ~Bridge() = default;

  // The bound port (listen with port 0 picks one).
  virtual uint16_t port() const = 0;
  // Serves until stop(); then closes every tunnel.
  virtual void run() = 0;
  virtual void stop() = 0;
};

// `mxgate bridge` (arguments after "bridge"). Returns the exit code.
int runBridgeCommand(const BridgeOptions& options);

}  // namespace mx::bridge
