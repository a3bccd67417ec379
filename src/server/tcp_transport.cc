// server/tcp_transport.cc — see tcp_transport.h.
#include "server/tcp_transport.h"

#include <boost/asio/write.hpp>

namespace mx::server {

void TcpTransport::waitReadable(IoHandler ready) {
  socket_.async_wait(boost::asio::ip::tcp::socket::wait_read, std::move(ready));
}

std::string_view TcpTransport::readSome(ErrorCode& ec) {
  size_t n = socket_.read_some(boost::asio::buffer(read_buffer_, read_buffer_size_), ec);
  if (ec == boost::asio::error::try_again) ec = boost::asio::error::would_block;
  if (!ec && n == 0) ec = boost::asio::error::eof;
  return ec ? std::string_view() : std::string_view(read_buffer_, n);
}

void TcpTransport::write(std::string_view data, IoHandler done) {
  boost::asio::async_write(socket_, boost::asio::buffer(data.data(), data.size()),
                           [done = std::move(done)](const ErrorCode& ec, size_t) { done(ec); });
}

void TcpTransport::writeNow(std::string_view data) {
  ErrorCode ignored;
  socket_.write_some(boost::asio::buffer(data.data(), data.size()), ignored);
}

void TcpTransport::cancelRead() {
  ErrorCode ignored;
  socket_.cancel(ignored);
}

void TcpTransport::close() {
  ErrorCode ignored;
  if (!socket_.is_open()) return;
  socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace mx::server
