// server/transport.h — how the SMTP connection driver moves bytes, apart from what it says
// (Envoy's transport_socket.h): plain TCP (tcp_transport.h) and TLS (tls_transport.h)
// today, SMTP-over-WebSocket frames next. The driver sees one interface: wait until input
// may be there, read what is there without blocking, write a buffer, close.
//
// Threads: a transport belongs to one connection on one event loop; no method is
// thread-safe. Handlers run on that loop.
// Trust: the bytes are the peer's and untrusted; a transport only carries them.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <string>
#include <string_view>

namespace mx::server {

using ErrorCode = boost::system::error_code;
using IoHandler = std::function<void(const ErrorCode&)>;

struct TlsInfo {
  std::string version;  // e.g. "TLSv1.3"
  std::string cipher;   // e.g. "TLS_AES_256_GCM_SHA384"
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Calls `ready` once input may be available, or with the error (operation_aborted after
  // cancelRead()). One wait at a time.
  virtual void waitReadable(IoHandler ready) = 0;
  // The bytes available now, without blocking. Empty with `ec` = would_block when there
  // are none yet; `ec` = eof when the peer closed. The view is valid until the next call
  // on this transport (it points into a buffer the transport, or its worker, owns).
  virtual std::string_view readSome(ErrorCode& ec) = 0;
  // Writes all of `data` (valid until `done` runs), then calls `done`. One write at a time.
  virtual void write(std::string_view data, IoHandler done) = 0;
  // Writes what the socket takes at once, never waiting (a forced close after the drain
  // deadline). Plain TCP only; a TLS transport writes nothing (it cannot write part of a
  // record without blocking).
  virtual void writeNow(std::string_view data) = 0;
  // Cancels a pending waitReadable() so the driver can write and close. Plain TCP only:
  // cancelling a TLS read would leave the stream unusable, so TLS ignores it (its read
  // ends with the connection).
  virtual void cancelRead() = 0;
  // Shuts the connection down and closes the socket. Idempotent.
  virtual void close() = 0;

  // The negotiated TLS parameters, or nullptr when plaintext.
  virtual const TlsInfo* tls() const = 0;
  // The TCP socket underneath (PROXY header reads, peer address).
  virtual boost::asio::ip::tcp::socket& socket() = 0;
};

}  // namespace mx::server
