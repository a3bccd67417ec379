// tests/http/test_server.h — a small HTTP/1.1 (optionally TLS) server for tests, on
// 127.0.0.1 port 0, one thread per connection with Beast's synchronous calls. It counts
// accepted connections and requests in progress, and a handler chooses each reply, a delay,
// a hang (until stop()), or dropping the connection after the reply while announcing
// keep-alive (the stale pooled connection). Used by the http and aws tests (fake IMDS, ECS).
// Trust: test code; it binds loopback only.
#pragma once

#include <sys/socket.h>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mx::testing {

struct TestRequest {
  std::string method, target, body;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct TestReply {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers{};
  std::chrono::milliseconds delay{0};
  bool hang = false;        // never answer (until stop())
  bool drop_after = false;  // answer with keep-alive, then close the connection silently
  bool close = false;       // answer with Connection: close
};

class TestServer {
 public:
  using Handler = std::function<TestReply(const TestRequest&)>;

  // With cert/key PEM files: TLS.
  explicit TestServer(Handler handler, std::string cert_file = {}, std::string key_file = {})
      : handler_(std::move(handler)), acceptor_(ioc_) {
    namespace asio = boost::asio;
    if (!cert_file.empty()) {
      tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
      tls_->use_certificate_chain_file(cert_file);
      tls_->use_private_key_file(key_file, asio::ssl::context::pem);
    }
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { acceptLoop(); });
  }
  ~TestServer() { stop(); }

  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/") const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
  }
  int accepted() const { return accepted_.load(); }
  int requests() const { return requests_.load(); }
  int maxConcurrent() const { return max_concurrent_.load(); }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    cv_.notify_all();
    boost::system::error_code ec;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    acceptor_.close(ec);
    if (accept_thread_.joinable()) accept_thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(conn_threads_);
    }
    for (auto& t : threads) t.join();
  }

 private:
  void acceptLoop() {
    for (;;) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket sock(ioc_);
      acceptor_.accept(sock, ec);
      if (ec) return;
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      ++accepted_;
      fds_.push_back(sock.native_handle());
      conn_threads_.emplace_back([this, s = std::move(sock)]() mutable { serve(std::move(s)); });
    }
  }

  void serve(boost::asio::ip::tcp::socket sock) {
    namespace beast = boost::beast;
    namespace bhttp = beast::http;
    const int fd = sock.native_handle();
    // Forgotten before the socket closes: stop() must never shut down a reused descriptor
    // (the client under test lives in this process too).
    if (tls_) {
      beast::ssl_stream<boost::asio::ip::tcp::socket> stream(std::move(sock), *tls_);
      boost::system::error_code ec;
      stream.handshake(boost::asio::ssl::stream_base::server, ec);
      if (!ec) loop(stream);
      forget(fd);
    } else {
      loop(sock);
      forget(fd);
    }
  }

  void forget(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase(fds_, fd);
  }

  template <typename Stream>
  void loop(Stream& stream) {
    namespace beast = boost::beast;
    namespace bhttp = beast::http;
    beast::flat_buffer buffer;
    for (;;) {
      boost::system::error_code ec;
      bhttp::request<bhttp::string_body> req;
      bhttp::read(stream, buffer, req, ec);
      if (ec) return;
      TestRequest tr;
      tr.method = std::string(req.method_string());
      tr.target = std::string(req.target());
      tr.body = req.body();
      for (const auto& f : req) {
        std::string name(f.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        tr.headers[name] = std::string(f.value());
      }
      int now = ++concurrent_;
      int prev = max_concurrent_.load();
      while (now > prev && !max_concurrent_.compare_exchange_weak(prev, now)) {
      }
      ++requests_;
      TestReply reply = handler_(tr);
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (reply.hang) {
          cv_.wait(lock, [this] { return stopped_; });
        } else if (reply.delay.count() > 0) {
          cv_.wait_for(lock, reply.delay, [this] { return stopped_; });
        }
        if (stopped_) {
          --concurrent_;
          return;
        }
      }
      --concurrent_;
      bhttp::response<bhttp::string_body> res;
      res.version(11);
      res.result(static_cast<unsigned>(reply.status));
      for (auto& [n, v] : reply.headers) res.insert(n, v);
      res.body() = reply.body;
      res.keep_alive(!reply.close);
      res.prepare_payload();
      bhttp::write(stream, res, ec);
      if (ec || reply.close || reply.drop_after) return;
    }
  }

  Handler handler_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  uint16_t port_ = 0;
  std::thread accept_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::vector<int> fds_;
  std::vector<std::thread> conn_threads_;
  std::atomic<int> accepted_{0}, requests_{0}, concurrent_{0}, max_concurrent_{0};
};

}  // namespace mx::testing
