// server/tls_transport.cc — see tls_transport.h.
#include "server/tls_transport.h"

#include <boost/asio/write.hpp>

namespace mx::server {

TlsTransport::TlsTransport(boost::asio::ip::tcp::socket socket, TlsContextPtr context)
    : context_(std::move(context)), stream_(std::move(socket), *context_) {}

void TlsTransport::handshake(IoHandler done) {
  stream_.async_handshake(boost::asio::ssl::stream_base::server,
                          [this, done = std::move(done)](const ErrorCode& ec) {
                            if (!ec) {
                              SSL* ssl = stream_.native_handle();
                              info_.version = SSL_get_version(ssl);
                              info_.cipher = SSL_get_cipher_name(ssl);
                              buffer_.reset(new char[kBufferBytes]);
                            }
                            done(ec);
                          });
}

void TlsTransport::waitReadable(IoHandler ready) {
  if (buffered_ > 0 || read_error_) {
    // Something is waiting to be handed out: say so without another read.
    ready(ErrorCode());
    return;
  }
  stream_.async_read_some(boost::asio::buffer(buffer_.get(), kBufferBytes),
                          [this, ready = std::move(ready)](const ErrorCode& ec, size_t n) {
                            buffered_ = n;
                            read_error_ = ec;
                            // An error is reported through readSome(), as for plain TCP.
                            ready(ec == boost::asio::error::operation_aborted ? ec : ErrorCode());
                          });
}

std::string_view TlsTransport::readSome(ErrorCode& ec) {
  if (buffered_ > 0) {
    size_t n = buffered_;
    buffered_ = 0;
    ec = ErrorCode();
    return {buffer_.get(), n};
  }
  if (read_error_) {
    ec = read_error_ == boost::asio::ssl::error::stream_truncated ? boost::asio::error::eof : read_error_;
    return {};
  }
  ec = boost::asio::error::would_block;
  return {};
}

void TlsTransport::write(std::string_view data, IoHandler done) {
  boost::asio::async_write(stream_, boost::asio::buffer(data.data(), data.size()),
                           [done = std::move(done)](const ErrorCode& ec, size_t) { done(ec); });
}

void TlsTransport::close() {
  ErrorCode ignored;
  auto& sock = stream_.next_layer();
  if (!sock.is_open()) return;
  sock.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  sock.close(ignored);
}

}  // namespace mx::server
