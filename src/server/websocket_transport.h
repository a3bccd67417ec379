// server/websocket_transport.h — SMTP carried in binary WebSocket frames (RFC 6455; the
// edge contract, docs/edge.md): the transport the SMTP driver uses on a `websocket`
// listener. Before it carries SMTP it reads the HTTP upgrade request (GET /v1/smtp, header
// only, at most 8 KiB) so that the driver can check the edge token, and then either refuses
// with a plain HTTP answer (401, 404 ...) or upgrades (101, selecting the subprotocol
// smtp.mxgate.v1 when the client offers it).
//
// Frames: frame and message boundaries mean nothing (a command may span frames); replies go
// out as one binary message per write. A text frame is a protocol error: the read fails and
// the connection is closed with status 1003; otherwise close() sends 1000 (after QUIT or a
// 421). Ping/pong and the peer's close are answered by Boost.Beast. Messages may be of any
// length (read in 16 KiB pieces: a 40 MB DATA in one message needs no 40 MB buffer).
//
// Threads and trust: as transport.h. The upgrade request is parsed by Boost.Beast with a
// header bound; its fields are untrusted and only read by edge_request.h.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <memory>
#include <optional>

#include "server/transport.h"

namespace mx::server {

inline constexpr std::string_view kSmtpSubprotocol = "smtp.mxgate.v1";

class WebSocketTransport final : public Transport {
 public:
  using Request = boost::beast::http::request<boost::beast::http::empty_body>;

  explicit WebSocketTransport(boost::asio::ip::tcp::socket socket);

  // Reads the HTTP request header; `done` gets the error (e.g. a header over 8 KiB, or a
  // request with a body). request() is valid after success.
  void readRequest(IoHandler done);
  const Request& request() const { return parser_->get(); }
  // Answers the request with `status` and a short text body and Connection: close; the
  // transport may then only be closed.
  void refuse(unsigned status, std::string body, IoHandler done);
  // Completes the upgrade (101); then the transport carries frames.
  void accept(IoHandler done);

  // Transport
  void waitReadable(IoHandler ready) override;
  std::string_view readSome(ErrorCode& ec) override;
  void write(std::string_view data, IoHandler done) override;
  void writeNow(std::string_view) override {}
  // A read cannot be cancelled without breaking the frame stream; as TLS: the pending read
  // ends with the connection, and a write may go out meanwhile (Beast allows one of each).
  void cancelRead() override {}
  void close() override;
  const TlsInfo* tls() const override { return nullptr; }
  boost::asio::ip::tcp::socket& socket() override { return ws_.next_layer(); }

 private:
  static constexpr size_t kBufferBytes = 16 * 1024;

  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_;
  boost::beast::flat_buffer http_buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> parser_;
  std::shared_ptr<void> response_;  // the refusal in flight
  std::unique_ptr<char[]> buffer_;
  size_t buffered_ = 0;
  ErrorCode read_error_;
  bool upgraded_ = false;
  uint16_t close_code_ = 1000;  // 1003 after a text frame
};

}  // namespace mx::server
