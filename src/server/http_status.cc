// server/http_status.cc — see http_status.h.
#include "server/http_status.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace mx::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket s, const HttpStatusHandlers& h) : stream_(std::move(s)), handlers_(h) {}

  void start() {
    parser_.header_limit(8 * 1024);
    parser_.body_limit(0);
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->onRead(ec); });
  }

 private:
  void onRead(beast::error_code ec) {
    if (ec) return;
    const auto& req = parser_.get();
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->set(http::field::server, "mxgate");
    res->keep_alive(false);
    std::string target(req.target());
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      res->result(http::status::method_not_allowed);
      res->set(http::field::allow, "GET, HEAD");
      res->body() = "method not allowed\n";
    } else if (target == "/healthz") {
      res->result(http::status::ok);
      res->body() = "ok\n";
    } else if (target == "/readyz") {
      std::string reason = handlers_.not_ready ? handlers_.not_ready() : std::string("no readiness check");
      res->result(reason.empty() ? http::status::ok : http::status::service_unavailable);
      res->body() = reason.empty() ? "ready\n" : "not ready: " + reason + "\n";
    } else if (target == "/metrics") {
      res->result(http::status::ok);
      res->set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res->body() = handlers_.metrics ? handlers_.metrics() : std::string();
    } else {
      res->result(http::status::not_found);
      res->body() = "not found\n";
    }
    if (res->find(http::field::content_type) == res->end()) res->set(http::field::content_type, "text/plain");
    res->prepare_payload();
    if (req.method() == http::verb::head) res->body().clear();
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code, size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_{8 * 1024};
  http::request_parser<http::empty_body> parser_;
  const HttpStatusHandlers& handlers_;
};

}  // namespace

class HttpStatusServer::Impl {
 public:
  std::string address;
  uint16_t port;
  HttpStatusHandlers handlers;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<HttpSession>(std::move(s), handlers)->start();
      accept();
    });
  }
};

HttpStatusServer::HttpStatusServer(std::string address, uint16_t port, HttpStatusHandlers h)
    : impl_(std::make_unique<Impl>()) {
  impl_->address = std::move(address);
  impl_->port = port;
  impl_->handlers = std::move(h);
}

HttpStatusServer::~HttpStatusServer() { stop(); }

Status HttpStatusServer::start() {
  beast::error_code ec;
  auto addr = asio::ip::make_address(impl_->address, ec);
  if (ec) return Error(ErrorClass::kConfig, "http.listen: bad address '" + impl_->address + "'");
  tcp::endpoint ep(addr, impl_->port);
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(128, ec);
  if (ec) {
    return Error(ErrorClass::kConfig, "http.listen " + impl_->address + ":" +
                                          std::to_string(impl_->port) + ": " + ec.message());
  }
  impl_->port = impl_->acceptor.local_endpoint().port();
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
  return okStatus();
}

void HttpStatusServer::stop() {
  if (!impl_->thread.joinable()) return;
  asio::post(impl_->ioc, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->ioc.stop();
  impl_->thread.join();
}

uint16_t HttpStatusServer::port() const { return impl_->port; }

}  // namespace mx::server
