// http/beast_client.cc — see beast_client.h. One Exchange per request walks
// resolve → connect → (TLS handshake) → write → read on its connection's strand; shared state
// (the queue, the idle pools, the set of live exchanges) sits behind one mutex that is never
// held across an asynchronous operation or a user callback.
#include "http/beast_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace mx::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr uint32_t kHeaderLimit = 64 * 1024;

bool isTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

// RFC 9110 5.1 field-name = token; 5.5 a field value never holds CR, LF or NUL.
bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!isTokenChar(c)) return false;
  }
  return true;
}

bool validFieldValue(std::string_view v) {
  return v.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool iequals(std::string_view a, std::string_view b) {
  return beast::iequals(beast::string_view(a.data(), a.size()), beast::string_view(b.data(), b.size()));
}

bool isIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

Error shutDown() { return Error(ErrorClass::kTransientBackend, "client shut down"); }

using Strand = asio::strand<asio::io_context::executor_type>;

struct Connection {
  Connection(Strand s, ssl::context* tls_ctx) : strand(s), resolver(s), timer(s) {
    if (tls_ctx != nullptr) {
      tls.emplace(s, *tls_ctx);
    } else {
      plain.emplace(s);
    }
  }
  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  // Only on the strand.
  void close() {
    beast::error_code ec;
    resolver.cancel();
    timer.cancel();
    tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp().socket().close(ec);
  }
  template <typename F>
  void withStream(F&& f) {
    if (tls) {
      f(*tls);
    } else {
      f(*plain);
    }
  }

  Strand strand;
  tcp::resolver resolver;
  asio::steady_timer timer;  // bounds the name lookup, which tcp_stream's expiry does not cover
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  MonoTime idle_since{};
  bool resolve_timed_out = false;
};
using ConnectionPtr = std::shared_ptr<Connection>;

}  // namespace

struct Exchange {
  Url url;
  std::string key;       // "scheme://host:port", the pool's endpoint
  std::string endpoint;  // "host:port" for messages (never the target: it may hold a presigned token)
  Millis timeout{0};
  bool head = false;
  bool close_after = false;  // the caller asked for Connection: close
  HttpClient::Callback done;
  bhttp::request<bhttp::string_body> req;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser;
  ConnectionPtr conn;  // assigned under Impl::mu_
  MonoTime deadline{};
  bool reused = false;
  bool retried = false;
  bool finished = false;
};
using ExchangePtr = std::shared_ptr<Exchange>;

// The system CA store, read once per process and shared by every client's TLS context
// (X509_STORE is reference-counted and locks internally): reading the bundle costs tens of
// milliseconds with OpenSSL 3, once per client otherwise. Null if it cannot be loaded.
X509_STORE* systemCaStore() {
  static X509_STORE* store = [] {
    X509_STORE* s = X509_STORE_new();
    if (s != nullptr && X509_STORE_set_default_paths(s) != 1) {
      X509_STORE_free(s);
      s = nullptr;
    }
    return s;
  }();
  return store;
}

class BeastClient::Impl {
 public:
  explicit Impl(ClientOptions options) : options_(std::move(options)), work_(asio::make_work_guard(ioc_)) {
    if (options_.max_in_flight == 0) options_.max_in_flight = 1;
    if (options_.threads == 0) options_.threads = 1;
  }

  // Builds the TLS context; on failure https requests are refused with tls_error_.
  void initTls() {
    if (!options_.tls) return;  // http only: tls_ctx_ stays null (see https_disabled_)
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);  // RFC 8996
    boost::system::error_code ec;
    if (options_.ca_file.empty()) {
      if (X509_STORE* store = systemCaStore()) {
        SSL_CTX_set1_cert_store(ctx->native_handle(), store);  // takes a reference
      } else {
        tls_error_ = "cannot load the system CA store";
      }
    } else {
      ctx->load_verify_file(options_.ca_file, ec);
      if (ec) tls_error_ = "cannot load ca_file " + options_.ca_file + ": " + ec.message();
    }
    if (tls_error_.empty()) tls_ctx_ = std::move(ctx);
  }

  void startThreads() {
    for (uint32_t i = 0; i < options_.threads; ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
  }

  const std::string& tlsError() const { return tls_error_; }

  void send(Request request, Callback done) {
    Result<ExchangePtr> ex = prepare(std::move(request), done);
    if (!ex.ok()) {
      asio::post(ioc_, [done = std::move(done), err = ex.error()]() mutable { done(std::move(err)); });
      return;
    }
    (*ex)->done = std::move(done);
    bool start_now = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutting_down_) {
        // Only reachable when send() races the destructor, which the contract forbids.
        asio::post(ioc_, [ex = *ex] { ex->done(shutDown()); });
        return;
      }
      if (in_flight_ < options_.max_in_flight) {
        ++in_flight_;
        active_.insert(*ex);
        start_now = true;
      } else {
        queue_.push_back(*ex);
      }
    }
    if (start_now) asio::post(ioc_, [this, ex = *ex] { begin(ex); });
  }

  ClientStats stats() const { return ClientStats{opened_.load(), reused_.load(), retries_.load()}; }

  void shutdown() {
    std::deque<ExchangePtr> queued;
    std::vector<ConnectionPtr> to_close;
    {
      std::lock_guard<std::mutex> lock(mu_);
      shutting_down_ = true;
      queued.swap(queue_);
      for (auto& [key, conns] : idle_) {
        for (auto& c : conns) to_close.push_back(c);
      }
      idle_.clear();
      for (const ExchangePtr& ex : active_) {
        if (ex->conn) to_close.push_back(ex->conn);
      }
    }
    for (ExchangePtr& ex : queued) {
      asio::post(ioc_, [ex] { ex->done(shutDown()); });
    }
    for (ConnectionPtr& c : to_close) {
      asio::post(c->strand, [c] { c->close(); });
    }
    work_.reset();
    for (std::thread& t : threads_) t.join();
    // Nothing can be left (every handler ran), but never lose a callback.
    std::set<ExchangePtr> left;
    {
      std::lock_guard<std::mutex> lock(mu_);
      left.swap(active_);
    }
    for (const ExchangePtr& ex : left) {
      if (!ex->finished) {
        ex->finished = true;
        ex->done(shutDown());
      }
    }
  }

 private:
  Result<ExchangePtr> prepare(Request request, const Callback&) {
    Result<Url> url = parseUrl(request.url);
    if (!url.ok()) return url.error();
    auto ex = std::make_shared<Exchange>();
    ex->url = std::move(*url);
    ex->endpoint = ex->url.authority();
    if (ex->url.host.find(':') != std::string::npos && ex->endpoint.find("]:") == std::string::npos) {
      ex->endpoint += ":" + std::to_string(ex->url.port);
    } else if (ex->endpoint.find(':') == std::string::npos) {
      ex->endpoint += ":" + std::to_string(ex->url.port);
    }
    ex->key = ex->url.scheme + "://" + ex->endpoint;
    if (ex->url.tls() && !tls_ctx_) {
      return Error(ErrorClass::kPermanentBackend,
                   "https unavailable: " + (options_.tls ? tls_error_ : std::string("this client is http only")));
    }
    if (!isToken(request.method)) return Error(ErrorClass::kPermanentBackend, "bad request method");
    ex->timeout = request.timeout.count() > 0 ? request.timeout : options_.request_timeout;
    ex->head = request.method == "HEAD";

    auto& req = ex->req;
    req.version(11);
    req.method_string(request.method);
    req.target(ex->url.target);
    bool has_host = false, has_ua = false;
    for (const Header& h : request.headers) {
      if (!isToken(h.name)) return Error(ErrorClass::kPermanentBackend, "bad request header name");
      if (!validFieldValue(h.value)) {
        return Error(ErrorClass::kPermanentBackend, "request header " + h.name + " holds CR, LF or NUL");
      }
      // Framing is ours (prepare_payload below): a caller's length or coding would conflict.
      if (iequals(h.name, "content-length") || iequals(h.name, "transfer-encoding")) continue;
      if (iequals(h.name, "host")) has_host = true;
      if (iequals(h.name, "user-agent")) has_ua = true;
      if (iequals(h.name, "connection") && iequals(h.value, "close")) ex->close_after = true;
      req.insert(h.name, h.value);
    }
    if (!has_host) req.set(bhttp::field::host, ex->url.authority());
    if (!has_ua && !options_.user_agent.empty()) req.set(bhttp::field::user_agent, options_.user_agent);
    req.body() = std::move(request.body);
    req.prepare_payload();
    return ex;
  }

  // On any client thread: the request left the queue.
  void begin(const ExchangePtr& ex) {
    ex->deadline = std::chrono::steady_clock::now() + ex->timeout;
    ConnectionPtr conn;
    std::vector<ConnectionPtr> expired;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutting_down_) {
        // fall through to fail() below, outside the lock
      } else {
        auto it = idle_.find(ex->key);
        const auto now = std::chrono::steady_clock::now();
        while (it != idle_.end() && !it->second.empty() && !conn) {
          ConnectionPtr c = std::move(it->second.back());
          it->second.pop_back();
          if (now - c->idle_since > options_.idle_timeout) {
            expired.push_back(std::move(c));
          } else {
            conn = std::move(c);
          }
        }
        if (conn) {
          ex->conn = conn;
          ex->reused = true;
        } else {
          ex->conn = std::make_shared<Connection>(asio::make_strand(ioc_), ex->url.tls() ? tls_ctx_.get() : nullptr);
        }
      }
    }
    for (ConnectionPtr& c : expired) asio::post(c->strand, [c] { c->close(); });
    if (!ex->conn) return fail(ex, shutDown());
    if (conn) {
      ++reused_;
      asio::dispatch(ex->conn->strand, [this, ex] { write(ex); });
    } else {
      asio::dispatch(ex->conn->strand, [this, ex] { resolve(ex); });
    }
  }

  MonoTime connectDeadline(const ExchangePtr& ex) const {
    return std::min(ex->deadline, std::chrono::steady_clock::now() + options_.connect_timeout);
  }

  void resolve(const ExchangePtr& ex) {
    if (shutting_down_) return fail(ex, shutDown());
    Connection& c = *ex->conn;
    c.timer.expires_at(connectDeadline(ex));
    c.timer.async_wait([conn = ex->conn](boost::system::error_code ec) {
      if (!ec) {
        conn->resolve_timed_out = true;
        conn->resolver.cancel();
      }
    });
    c.resolver.async_resolve(ex->url.host, std::to_string(ex->url.port),
                             asio::bind_executor(c.strand, [this, ex](boost::system::error_code ec,
                                                                      const tcp::resolver::results_type& results) {
                               ex->conn->timer.cancel();
                               if (shutting_down_) return fail(ex, shutDown());
                               if (ex->conn->resolve_timed_out) {
                                 return fail(ex, transient("resolving " + ex->endpoint + " timed out"));
                               }
                               if (ec) return fail(ex, transient("resolving " + ex->endpoint + ": " + ec.message()));
                               connect(ex, results);
                             }));
  }

  void connect(const ExchangePtr& ex, const tcp::resolver::results_type& results) {
    beast::tcp_stream& s = ex->conn->tcp();
    s.expires_at(connectDeadline(ex));
    s.async_connect(results,
                    asio::bind_executor(ex->conn->strand, [this, ex](beast::error_code ec, const tcp::endpoint&) {
                      if (shutting_down_) return fail(ex, shutDown());
                      if (ec == beast::error::timeout)
                        return fail(ex, transient("connect to " + ex->endpoint + " timed out"));
                      if (ec) return fail(ex, transient("connect to " + ex->endpoint + ": " + ec.message()));
                      ++opened_;
                      if (ex->conn->tls) return handshake(ex);
                      write(ex);
                    }));
  }

  void handshake(const ExchangePtr& ex) {
    auto& stream = *ex->conn->tls;
    SSL* ssl = stream.native_handle();
    const std::string& host = ex->url.host;
    const bool ip = isIpLiteral(host);
    // RFC 6066 section 3: "Literal IPv4 and IPv6 addresses are not permitted in HostName".
    if (!ip) SSL_set_tlsext_host_name(ssl, host.c_str());
    if (options_.verify_peer) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (ip) {
        X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
      } else {
        X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
      }
      SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
    } else {
      SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    }
    beast::get_lowest_layer(stream).expires_at(ex->deadline);
    stream.async_handshake(
        ssl::stream_base::client, asio::bind_executor(ex->conn->strand, [this, ex](beast::error_code ec) {
          if (shutting_down_) return fail(ex, shutDown());
          if (ec == beast::error::timeout)
            return fail(ex, transient("TLS handshake with " + ex->endpoint + " timed out"));
          if (ec) {
            std::string why = ec.message();
            long verify = SSL_get_verify_result(ex->conn->tls->native_handle());
            if (verify != X509_V_OK)
              why = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
            return fail(ex, transient("TLS handshake with " + ex->endpoint + ": " + why));
          }
          write(ex);
        }));
  }

  void write(const ExchangePtr& ex) {
    if (shutting_down_) return fail(ex, shutDown());
    ex->conn->tcp().expires_at(ex->deadline);
    ex->conn->withStream([&](auto& stream) {
      bhttp::async_write(stream, ex->req,
                         asio::bind_executor(ex->conn->strand, [this, ex](beast::error_code ec, size_t) {
                           if (shutting_down_) return fail(ex, shutDown());
                           if (ec == beast::error::timeout)
                             return fail(ex, transient("request to " + ex->endpoint + " timed out"));
                           if (ec) {
                             // A pooled connection the peer closed while idle: nothing of ours was processed.
                             if (ex->reused && !ex->retried) return retry(ex);
                             return fail(ex, transient("write to " + ex->endpoint + ": " + ec.message()));
                           }
                           read(ex);
                         }));
    });
  }

  void read(const ExchangePtr& ex) {
    ex->parser.emplace();
    ex->parser->header_limit(kHeaderLimit);
    ex->parser->body_limit(options_.max_response_bytes);
    // RFC 9110 9.3.2: a response to HEAD has no content whatever its Content-Length says.
    if (ex->head) ex->parser->skip(true);
    // The header first: Beast 1.74's parser lets a Content-Length over body_limit through
    // when the whole message arrives in one read (checked in BodyOverLimitIsPermanent), so
    // the announced length is checked here; body_limit still bounds chunked bodies.
    ex->conn->withStream([&](auto& stream) {
      bhttp::async_read_header(stream, ex->conn->buffer, *ex->parser,
                               asio::bind_executor(ex->conn->strand, [this, ex](beast::error_code ec, size_t) {
                                 if (ec) return onRead(ex, ec);
                                 if (!ex->head && ex->parser->content_length() &&
                                     *ex->parser->content_length() > options_.max_response_bytes) {
                                   return onRead(ex, bhttp::error::body_limit);
                                 }
                                 readBody(ex);
                               }));
    });
  }

  void readBody(const ExchangePtr& ex) {
    if (ex->parser->is_done()) return onRead(ex, {});
    ex->conn->withStream([&](auto& stream) {
      bhttp::async_read(
          stream, ex->conn->buffer, *ex->parser,
          asio::bind_executor(ex->conn->strand, [this, ex](beast::error_code ec, size_t) { onRead(ex, ec); }));
    });
  }

  void onRead(const ExchangePtr& ex, beast::error_code ec) {
    if (shutting_down_) return fail(ex, shutDown());
    if (ec == bhttp::error::body_limit) {
      return fail(ex,
                  Error(ErrorClass::kPermanentBackend, "response from " + ex->endpoint + " over max_response_bytes (" +
                                                           std::to_string(options_.max_response_bytes) + ")"));
    }
    if (ec == bhttp::error::header_limit) {
      return fail(ex, Error(ErrorClass::kPermanentBackend, "response header from " + ex->endpoint + " over 64 KiB"));
    }
    if (ec == beast::error::timeout) return fail(ex, transient("request to " + ex->endpoint + " timed out"));
    if (ec) {
      // RFC 9112 9.3.1: the idle connection was closed under us before any response byte.
      if (ex->reused && !ex->retried && !ex->parser->got_some() && ex->conn->buffer.size() == 0) return retry(ex);
      return fail(ex, transient("reading the response from " + ex->endpoint + ": " + ec.message()));
    }
    auto& res = ex->parser->get();
    if (res.body().size() > options_.max_response_bytes) return onRead(ex, bhttp::error::body_limit);
    Response out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& f : res) out.headers.push_back({std::string(f.name_string()), std::string(f.value())});
    out.body = std::move(res.body());
    const bool keep = res.keep_alive() && !ex->close_after && ex->conn->buffer.size() == 0;
    ex->conn->tcp().expires_never();
    finish(ex, std::move(out), keep);
  }

  void retry(const ExchangePtr& ex) {
    ++retries_;
    ex->conn->close();
    ex->retried = true;
    ex->reused = false;
    ex->parser.reset();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutting_down_) {
        ex->conn.reset();
      } else {
        ex->conn = std::make_shared<Connection>(asio::make_strand(ioc_), ex->url.tls() ? tls_ctx_.get() : nullptr);
      }
    }
    if (!ex->conn) return fail(ex, shutDown());
    asio::dispatch(ex->conn->strand, [this, ex] { resolve(ex); });
  }

  static Error transient(std::string message) { return Error(ErrorClass::kTransientBackend, std::move(message)); }

  void fail(const ExchangePtr& ex, Error error) {
    if (ex->conn) ex->conn->close();
    finish(ex, std::move(error), false);
  }

  // On the exchange's strand (or a client thread before it had one).
  void finish(const ExchangePtr& ex, Result<Response> result, bool keep_conn) {
    if (ex->finished) return;
    ex->finished = true;
    ExchangePtr next;
    {
      std::lock_guard<std::mutex> lock(mu_);
      active_.erase(ex);
      if (keep_conn && ex->conn && !shutting_down_) {
        auto& pool = idle_[ex->key];
        if (pool.size() < options_.max_idle_per_endpoint) {
          ex->conn->idle_since = std::chrono::steady_clock::now();
          pool.push_back(ex->conn);
          keep_conn = false;  // handed to the pool
          ex->conn.reset();
        }
      }
      --in_flight_;
      if (!shutting_down_ && !queue_.empty()) {
        next = std::move(queue_.front());
        queue_.pop_front();
        ++in_flight_;
        active_.insert(next);
      }
    }
    if (ex->conn) ex->conn->close();  // not pooled
    ex->conn.reset();
    if (next) asio::post(ioc_, [this, next] { begin(next); });
    Callback done = std::move(ex->done);
    done(std::move(result));
  }

  ClientOptions options_;
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::unique_ptr<ssl::context> tls_ctx_;
  std::string tls_error_;

  std::atomic<bool> shutting_down_{false};
  std::mutex mu_;
  uint32_t in_flight_ = 0;
  std::deque<ExchangePtr> queue_;
  std::map<std::string, std::vector<ConnectionPtr>> idle_;
  std::set<ExchangePtr> active_;

  std::atomic<uint64_t> opened_{0}, reused_{0}, retries_{0};
};

Result<std::unique_ptr<BeastClient>> BeastClient::create(ClientOptions options) {
  auto impl = std::make_shared<Impl>(std::move(options));
  impl->initTls();
  if (!impl->tlsError().empty()) return Error(ErrorClass::kConfig, impl->tlsError());
  impl->startThreads();
  return std::unique_ptr<BeastClient>(new BeastClient(std::move(impl)));
}

HttpClientPtr makeHttpClient(ClientOptions options) {
  auto impl = std::make_shared<BeastClient::Impl>(std::move(options));
  impl->initTls();
  impl->startThreads();
  return HttpClientPtr(new BeastClient(std::move(impl)));
}

BeastClient::BeastClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

BeastClient::~BeastClient() {
  try {
    impl_->shutdown();
  } catch (const std::exception& e) {
    // Only a join that cannot happen throws: the client destroyed from one of its own
    // callbacks (a thread joining itself). That is a bug in the caller; say so and stop.
    std::fprintf(stderr, "mx::http::BeastClient: destroyed from its own thread? %s\n", e.what());
    std::abort();
  }
}

void BeastClient::send(Request request, Callback done) { impl_->send(std::move(request), std::move(done)); }

ClientStats BeastClient::stats() const { return impl_->stats(); }

}  // namespace mx::http
