// server/tls_transport.h — the TLS transport (OpenSSL through Boost.Asio): STARTTLS
// (RFC 3207) upgrades a plain connection in place; implicit TLS (RFC 8314) starts with the
// handshake. It owns a 16 KiB read buffer (one TLS record), allocated at the handshake:
// OpenSSL reads ahead, so the worker's shared buffer cannot be used.
// Threads and trust: as transport.h; certificates and keys come from tls.h.
#pragma once

#include <boost/asio/ssl/stream.hpp>
#include <memory>

#include "server/tls.h"
#include "server/transport.h"

namespace mx::server {

class TlsTransport final : public Transport {
 public:
  TlsTransport(boost::asio::ip::tcp::socket socket, TlsContextPtr context);

  // Runs the server handshake; `done` gets its result. On success tls() is set. After a
  // failure the transport may only be closed (no close_notify is sent).
  void handshake(IoHandler done);

  // Transport
  void waitReadable(IoHandler ready) override;
  std::string_view readSome(ErrorCode& ec) override;
  void write(std::string_view data, IoHandler done) override;
  void writeNow(std::string_view) override {}
  void cancelRead() override {}
  void close() override;
  const TlsInfo* tls() const override { return info_.version.empty() ? nullptr : &info_; }
  boost::asio::ip::tcp::socket& socket() override { return stream_.next_layer(); }

 private:
  static constexpr size_t kBufferBytes = 16 * 1024;

  TlsContextPtr context_;  // keeps the context alive across a reload (SIGHUP)
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
  std::unique_ptr<char[]> buffer_;
  size_t buffered_ = 0;     // bytes the last read left in buffer_, not yet handed out
  ErrorCode read_error_;    // the last read's error, reported by readSome()
  TlsInfo info_;
};

}  // namespace mx::server
