// server/websocket_transport.cc — see websocket_transport.h.
#include "server/websocket_transport.h"

#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace mx::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

WebSocketTransport::WebSocketTransport(asio::ip::tcp::socket socket) : ws_(std::move(socket)) {
  ws_.binary(true);
  // Any message length: it is read in pieces (readSome), never as a whole.
  ws_.read_message_max(0);
  ws_.auto_fragment(false);
}

void WebSocketTransport::readRequest(IoHandler done) {
  parser_.emplace();
  parser_->header_limit(8 * 1024);
  parser_->body_limit(0);
  http::async_read(ws_.next_layer(), http_buffer_, *parser_,
                   [done = std::move(done)](const ErrorCode& ec, size_t) { done(ec); });
}

void WebSocketTransport::refuse(unsigned status, std::string body, IoHandler done) {
  auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
  res->set(http::field::server, "mxgate");
  res->set(http::field::content_type, "text/plain");
  res->keep_alive(false);
  res->body() = std::move(body);
  res->prepare_payload();
  response_ = res;
  http::async_write(ws_.next_layer(), *res, [done = std::move(done)](const ErrorCode& ec, size_t) { done(ec); });
}

void WebSocketTransport::accept(IoHandler done) {
  const Request& req = parser_->get();
  bool offered = false;
  // Sec-WebSocket-Protocol: a comma-separated list (RFC 6455 11.3.4), possibly in several fields.
  auto range = req.equal_range(http::field::sec_websocket_protocol);
  for (auto f = range.first; f != range.second; ++f) {
    std::string_view list(f->value().data(), f->value().size());
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view one = list.substr(0, comma);
      while (!one.empty() && (one.front() == ' ' || one.front() == '\t')) one.remove_prefix(1);
      while (!one.empty() && (one.back() == ' ' || one.back() == '\t')) one.remove_suffix(1);
      if (one == kSmtpSubprotocol) offered = true;
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
  }
  ws_.set_option(websocket::stream_base::decorator([offered](websocket::response_type& res) {
    res.set(http::field::server, "mxgate");
    if (offered) res.set(http::field::sec_websocket_protocol, std::string(kSmtpSubprotocol));
  }));
  ws_.async_accept(req, [this, done = std::move(done)](const ErrorCode& ec) {
    if (!ec) {
      upgraded_ = true;
      buffer_.reset(new char[kBufferBytes]);
    }
    done(ec);
  });
}

void WebSocketTransport::waitReadable(IoHandler ready) {
  if (buffered_ > 0 || read_error_) {
    ready(ErrorCode());
    return;
  }
  ws_.async_read_some(asio::buffer(buffer_.get(), kBufferBytes),
                      [this, ready = std::move(ready)](const ErrorCode& ec, size_t n) {
                        buffered_ = n;
                        read_error_ = ec;
                        if (!ec && ws_.got_text()) {
                          // RFC 6455 7.4.1: 1003, "received a type of data it cannot accept".
                          buffered_ = 0;
                          read_error_ = websocket::error::bad_data_frame;
                          close_code_ = static_cast<uint16_t>(websocket::close_code::unknown_data);
                        }
                        ready(ec == asio::error::operation_aborted ? ec : ErrorCode());
                      });
}

std::string_view WebSocketTransport::readSome(ErrorCode& ec) {
  if (buffered_ > 0) {
    size_t n = buffered_;
    buffered_ = 0;
    ec = ErrorCode();
    return {buffer_.get(), n};
  }
  if (read_error_) {
    // The peer's close frame (answered by Beast) or a vanished peer: the end of input.
    ec = read_error_ == websocket::error::closed || read_error_ == asio::error::connection_reset ||
                 read_error_ == beast::error::timeout
             ? asio::error::eof
             : read_error_;
    return {};
  }
  ec = asio::error::would_block;
  return {};
}

void WebSocketTransport::write(std::string_view data, IoHandler done) {
  ws_.async_write(asio::buffer(data.data(), data.size()),
                  [done = std::move(done)](const ErrorCode& ec, size_t) { done(ec); });
}

void WebSocketTransport::close() {
  ErrorCode ignored;
  auto& sock = ws_.next_layer();
  if (!sock.is_open()) return;
  if (upgraded_ && ws_.is_open()) {
    // The close frame, written directly and without waiting (a server frame is unmasked,
    // RFC 6455 5.5.1): the socket closes right after, so no asynchronous close handshake
    // can outlive this transport. Best effort; a peer that is gone does not matter.
    const unsigned char frame[4] = {0x88, 0x02, static_cast<unsigned char>(close_code_ >> 8),
                                    static_cast<unsigned char>(close_code_ & 0xFF)};
    sock.non_blocking(true, ignored);
    sock.write_some(asio::buffer(frame, sizeof frame), ignored);
  }
  sock.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  sock.close(ignored);
}

}  // namespace mx::server
