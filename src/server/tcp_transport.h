// server/tcp_transport.h — the plain TCP transport. It owns no read buffer: it waits for
// readability and then reads into the worker's shared buffer, so an idle plaintext
// connection holds no buffer at all (an idle session costs a few hundred bytes).
// Threads and trust: as transport.h.
#pragma once

#include "server/transport.h"

namespace mx::server {

class TcpTransport final : public Transport {
 public:
  // `read_buffer` (`read_buffer_size` bytes) is shared by every plain connection of one
  // event loop and must outlive them; the socket must be non-blocking.
  TcpTransport(boost::asio::ip::tcp::socket socket, char* read_buffer, size_t read_buffer_size)
      : socket_(std::move(socket)), read_buffer_(read_buffer), read_buffer_size_(read_buffer_size) {}

  // Hands the socket over (to the TLS transport at STARTTLS or implicit TLS).
  boost::asio::ip::tcp::socket release() { return std::move(socket_); }

  // Transport
  void waitReadable(IoHandler ready) override;
  std::string_view readSome(ErrorCode& ec) override;
  void write(std::string_view data, IoHandler done) override;
  void writeNow(std::string_view data) override;
  void cancelRead() override;
  void close() override;
  const TlsInfo* tls() const override { return nullptr; }
  boost::asio::ip::tcp::socket& socket() override { return socket_; }

 private:
  boost::asio::ip::tcp::socket socket_;
  char* read_buffer_;
  size_t read_buffer_size_;
};

}  // namespace mx::server
