// bridge/bridge.cc — see bridge.h.
#include "bridge/bridge.h"

#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cstdio>
#include <optional>
#include <thread>

#include "http/client.h"
#include "smtp/reply.h"

namespace mx::bridge {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;

constexpr std::string_view kSubprotocol = "smtp.mxgate.v1";

struct Target {
  bool tls = false;
  std::string host;
  std::string port;
  std::string target;       // path and query
  std::string host_header;  // RFC 9110 7.2
};

bool isIpLiteral(const std::string& host) {
  ErrorCode ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

bool splitHostPort(const std::string& s, std::string* host, uint16_t* port) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  *host = s.substr(0, colon);
  if (!host->empty() && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  try {
    unsigned long p = std::stoul(s.substr(colon + 1));
    if (p > 65535) return false;
    *port = static_cast<uint16_t>(p);
  } catch (const std::exception&) {
    return false;
  }
  return !host->empty();
}

using PlainWs = websocket::stream<beast::tcp_stream>;
using TlsWs = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

class BridgeImpl;

// One local connection and its WebSocket. Ws is PlainWs or TlsWs.
template <class Ws>
class Tunnel : public std::enable_shared_from_this<Tunnel<Ws>> {
 public:
  Tunnel(BridgeImpl& bridge, tcp::socket client, uint64_t n);
  void start() { attempt(); }

 private:
  void attempt();
  void failAttempt(const std::string& why);
  void upgrade();
  void pumpUp();
  void pumpDown();
  void finish(std::string_view why);
  void log(const std::string& line);

  BridgeImpl& bridge_;
  tcp::socket client_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  std::optional<Ws> ws_;
  std::unique_ptr<char[]> up_, down_;
  uint64_t n_;
  uint32_t attempts_ = 0;
  bool done_ = false;
  bool up_closed_ = false;
};

class BridgeImpl final : public Bridge {
 public:
  BridgeImpl(BridgeOptions o, Target t) : options(std::move(o)), target(std::move(t)), acceptor(ioc) {}

  uint16_t port() const override { return port_; }
  void run() override {
    accept();
    ioc.run();
  }
  void stop() override {
    asio::post(ioc, [this] {
      ErrorCode ignored;
      acceptor.close(ignored);
      ioc.stop();
    });
  }

  Status init() {
    std::string host;
    uint16_t p = 0;
    if (!splitHostPort(options.listen, &host, &p)) return Error(ErrorClass::kConfig, "--listen: must be host:port");
    ErrorCode ec;
    auto addr = asio::ip::make_address(host, ec);
    if (ec) return Error(ErrorClass::kConfig, "--listen: '" + host + "' is not an IP address");
    tcp::endpoint ep(addr, p);
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(1024, ec);
    if (ec) return Error(ErrorClass::kConfig, "--listen " + options.listen + ": " + ec.message());
    port_ = acceptor.local_endpoint().port();
    if (target.tls) {
      tls_ctx.emplace(ssl::context::tls_client);
      tls_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                           ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      tls_ctx->set_default_verify_paths(ec);
      if (ec) return Error(ErrorClass::kConfig, "TLS: cannot load the system CA store: " + ec.message());
      if (!options.ca_file.empty()) {
        tls_ctx->load_verify_file(options.ca_file, ec);
        if (ec) return Error(ErrorClass::kConfig, "--ca-file " + options.ca_file + ": " + ec.message());
      }
    }
    return okStatus();
  }

  void log(const std::string& line) {
    if (options.log) {
      options.log(line);
    } else {
      std::fprintf(stderr, "mxgate bridge: %s\n", line.c_str());
    }
  }

  const BridgeOptions options;
  const Target target;
  asio::io_context ioc{1};
  tcp::acceptor acceptor;
  std::optional<ssl::context> tls_ctx;
  uint64_t next_ = 1;

 private:
  void accept() {
    acceptor.async_accept([this](const ErrorCode& ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        ErrorCode ignored;
        s.set_option(tcp::no_delay(true), ignored);
        if (target.tls) {
          std::make_shared<Tunnel<TlsWs>>(*this, std::move(s), next_++)->start();
        } else {
          std::make_shared<Tunnel<PlainWs>>(*this, std::move(s), next_++)->start();
        }
      }
      accept();
    });
  }

  uint16_t port_ = 0;
};

template <class Ws>
Tunnel<Ws>::Tunnel(BridgeImpl& b, tcp::socket client, uint64_t n)
    : bridge_(b),
      client_(std::move(client)),
      resolver_(b.ioc),
      timer_(b.ioc),
      up_(new char[b.options.window]),
      down_(new char[b.options.window]),
      n_(n) {}

template <class Ws>
void Tunnel<Ws>::log(const std::string& line) {
  bridge_.log("connection " + std::to_string(n_) + ": " + line);
}

template <class Ws>
void Tunnel<Ws>::attempt() {
  ++attempts_;
  if constexpr (std::is_same_v<Ws, TlsWs>) {
    ws_.emplace(bridge_.ioc, *bridge_.tls_ctx);
  } else {
    ws_.emplace(bridge_.ioc);
  }
  beast::get_lowest_layer(*ws_).expires_after(bridge_.options.connect_timeout);
  auto self = this->shared_from_this();
  resolver_.async_resolve(
      bridge_.target.host, bridge_.target.port, [self](const ErrorCode& ec, const tcp::resolver::results_type& r) {
        if (ec) return self->failAttempt("resolve " + self->bridge_.target.host + ": " + ec.message());
        beast::get_lowest_layer(*self->ws_).async_connect(r, [self](const ErrorCode& cec, const tcp::endpoint&) {
          if (cec) return self->failAttempt("connect: " + cec.message());
          ErrorCode ignored;
          beast::get_lowest_layer(*self->ws_).socket().set_option(tcp::no_delay(true), ignored);
          if constexpr (std::is_same_v<Ws, TlsWs>) {
            SSL* ssl = self->ws_->next_layer().native_handle();
            const std::string& host = self->bridge_.target.host;
            const bool ip = isIpLiteral(host);
            // RFC 6066 3: no literal addresses in SNI; the certificate is checked either way.
            if (!ip) SSL_set_tlsext_host_name(ssl, host.c_str());
            X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            if (ip) {
              X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
            } else {
              X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
            }
            SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
            self->ws_->next_layer().async_handshake(ssl::stream_base::client, [self](const ErrorCode& hec) {
              if (hec) return self->failAttempt("TLS: " + hec.message());
              self->upgrade();
            });
          } else {
            self->upgrade();
          }
        });
      });
}

template <class Ws>
void Tunnel<Ws>::upgrade() {
  const std::string token = bridge_.options.token;
  ws_->set_option(websocket::stream_base::decorator([token](websocket::request_type& req) {
    req.set(beast::http::field::user_agent, "mxgate-bridge");
    req.set(beast::http::field::sec_websocket_protocol, std::string(kSubprotocol));
    if (!token.empty()) req.set(beast::http::field::authorization, "Bearer " + token);
  }));
  auto self = this->shared_from_this();
  ws_->async_handshake(bridge_.target.host_header, bridge_.target.target, [self](const ErrorCode& ec) {
    if (ec) return self->failAttempt("WebSocket upgrade: " + ec.message());
    // From here on the SMTP peers set the pace; no timeout of our own (the server has them).
    beast::get_lowest_layer(*self->ws_).expires_never();
    self->ws_->set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    self->ws_->binary(true);
    self->ws_->read_message_max(0);
    self->log("tunnel open");
    self->pumpUp();
    self->pumpDown();
  });
}

template <class Ws>
void Tunnel<Ws>::failAttempt(const std::string& why) {
  if (done_) return;
  log("attempt " + std::to_string(attempts_) + " failed: " + why);
  if (attempts_ >= bridge_.options.connect_attempts) {
    // The SMTP client is told to come back later (RFC 5321 3.8, 4.2.5), then closed.
    auto self = this->shared_from_this();
    auto reply = std::make_shared<std::string>();
    smtp::appendReply(*reply, smtp::ReplyId::kBridgeUnreachable, "mxgate-bridge");
    asio::async_write(client_, asio::buffer(*reply),
                      [self, reply](const ErrorCode&, size_t) { self->finish("edge unreachable"); });
    return;
  }
  ErrorCode ignored;
  beast::get_lowest_layer(*ws_).socket().close(ignored);
  timer_.expires_after(bridge_.options.retry_pause * (1u << std::min<uint32_t>(attempts_ - 1, 10)));
  timer_.async_wait([self = this->shared_from_this()](const ErrorCode& ec) {
    if (!ec) self->attempt();
  });
}

template <class Ws>
void Tunnel<Ws>::pumpUp() {
  auto self = this->shared_from_this();
  client_.async_read_some(asio::buffer(up_.get(), bridge_.options.window), [self](const ErrorCode& ec, size_t n) {
    if (self->done_) return;
    if (ec) {
      // The client is done (or gone): close the WebSocket properly; the server's own close
      // (after QUIT) ends pumpDown.
      self->up_closed_ = true;
      self->ws_->async_close(websocket::close_code::normal,
                             [self](const ErrorCode&) { self->finish("client closed"); });
      return;
    }
    self->ws_->async_write(asio::buffer(self->up_.get(), n), [self](const ErrorCode& wec, size_t) {
      if (wec) return self->finish("write to the tunnel failed: " + wec.message());
      self->pumpUp();
    });
  });
}

template <class Ws>
void Tunnel<Ws>::pumpDown() {
  auto self = this->shared_from_this();
  ws_->async_read_some(asio::buffer(down_.get(), bridge_.options.window), [self](const ErrorCode& ec, size_t n) {
    if (self->done_) return;
    if (ec) {
      self->finish(ec == websocket::error::closed ? "server closed" : "tunnel read: " + ec.message());
      return;
    }
    asio::async_write(self->client_, asio::buffer(self->down_.get(), n), [self](const ErrorCode& wec, size_t) {
      if (wec) return self->finish("write to the client failed: " + wec.message());
      self->pumpDown();
    });
  });
}

template <class Ws>
void Tunnel<Ws>::finish(std::string_view why) {
  if (done_) return;
  done_ = true;
  log(std::string("closed: ") + std::string(why));
  ErrorCode ignored;
  client_.shutdown(tcp::socket::shutdown_both, ignored);
  client_.close(ignored);
  if (ws_) beast::get_lowest_layer(*ws_).socket().close(ignored);
  timer_.cancel();
}

}  // namespace

Result<std::unique_ptr<Bridge>> Bridge::open(BridgeOptions o) {
  if (o.url.empty()) return Error(ErrorClass::kConfig, "--url: required (ws://… or wss://…)");
  if (o.window < 1024) return Error(ErrorClass::kConfig, "--window: at least 1024 bytes");
  if (o.connect_attempts == 0) return Error(ErrorClass::kConfig, "--attempts: at least 1");
  Target t;
  std::string as_http;
  if (o.url.rfind("ws://", 0) == 0) {
    as_http = "http://" + o.url.substr(5);
  } else if (o.url.rfind("wss://", 0) == 0) {
    as_http = "https://" + o.url.substr(6);
    t.tls = true;
  } else {
    return Error(ErrorClass::kConfig, "--url: must start with ws:// or wss://");
  }
  Result<http::Url> u = http::parseUrl(as_http);
  if (!u.ok()) return Error(ErrorClass::kConfig, "--url: " + u.error().message());
  t.host = u->host;
  t.port = std::to_string(u->port);
  t.target = u->target.empty() ? "/" : u->target;
  t.host_header = u->authority();
  auto b = std::make_unique<BridgeImpl>(std::move(o), std::move(t));
  if (Status st = b->init(); !st.ok()) return st.error();
  return std::unique_ptr<Bridge>(std::move(b));
}

int runBridgeCommand(const BridgeOptions& options) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  auto b = Bridge::open(options);
  if (!b.ok()) {
    std::fprintf(stderr, "mxgate bridge: %s\n", b.error().message().c_str());
    return 2;
  }
  Bridge& bridge = **b;
  std::fprintf(stderr, "mxgate bridge: listening on port %u, tunnelling to %s\n", static_cast<unsigned>(bridge.port()),
               options.url.c_str());
  std::thread loop([&bridge] { bridge.run(); });
  int sig = 0;
  sigwait(&signals, &sig);
  bridge.stop();
  loop.join();
  return 0;
}

}  // namespace mx::bridge
