// tests/support/fake_http_client.h — in-memory doubles of http::HttpClient and
// aws::CredentialsProvider for unit tests of everything that talks to a service (the S3
// store now; SQS and webhook sinks later). Header-only.
//
// FakeHttpClient keeps the HttpClient contract (http/client.h): send() never calls back
// from inside itself; each callback runs once, on the fake's own thread, in send order.
// A handler answers each request (default: 200, empty body); hold(true) keeps requests
// unanswered until release, so a test can see how many are in flight at once.
// Threads: thread-safe. Trust: test code only.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "aws/credentials.h"
#include "http/client.h"

namespace mx::testing {

class FakeHttpClient final : public http::HttpClient {
 public:
  using Handler = std::function<Result<http::Response>(const http::Request&)>;

  FakeHttpClient() : thread_([this] { run(); }) {}
  ~FakeHttpClient() override {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    for (auto& [req, cb] : queue_) cb(Error(ErrorClass::kTransientBackend, "client shut down"));
  }

  // Answers every later request (called on the fake's thread, outside its lock).
  void setHandler(Handler h) {
    std::lock_guard lk(mu_);
    handler_ = std::move(h);
  }
  // While on, requests are kept unanswered; off answers them all in order.
  void hold(bool on) {
    {
      std::lock_guard lk(mu_);
      hold_ = on;
    }
    cv_.notify_all();
  }
  // Waits until `n` requests are queued unanswered (with hold on); false after `timeout`.
  bool waitForQueued(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return queue_.size() >= n; });
  }
  size_t queued() const {
    std::lock_guard lk(mu_);
    return queue_.size();
  }
  // Every request sent so far, in order (bodies included).
  std::vector<http::Request> requests() const {
    std::lock_guard lk(mu_);
    return log_;
  }
  // The most requests sent and not yet answered at any one time.
  size_t maxOutstanding() const {
    std::lock_guard lk(mu_);
    return max_outstanding_;
  }

  // http::HttpClient
  void send(http::Request request, Callback done) override {
    {
      std::lock_guard lk(mu_);
      log_.push_back(request);
      queue_.emplace_back(std::move(request), std::move(done));
      ++outstanding_;
      max_outstanding_ = std::max(max_outstanding_, outstanding_);
    }
    cv_.notify_all();
  }

  // Helpers for handlers.
  static http::Response ok(std::string body = {}, http::Headers headers = {}) {
    http::Response r;
    r.status = 200;
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
  }
  static http::Response s3Error(int status, const std::string& code, const std::string& message) {
    http::Response r;
    r.status = status;
    r.headers = {{"Content-Type", "application/xml"}};
    r.body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>" + message +
             "</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>";
    return r;
  }

 private:
  void run() {
    std::unique_lock lk(mu_);
    for (;;) {
      cv_.wait(lk, [this] { return stop_ || (!hold_ && !queue_.empty()); });
      if (stop_) return;
      auto [req, cb] = std::move(queue_.front());
      queue_.pop_front();
      Handler h = handler_;
      lk.unlock();
      Result<http::Response> r = h ? h(req) : Result<http::Response>(ok());
      lk.lock();
      --outstanding_;  // answered: the callback may send the next request at once
      lk.unlock();
      cb(std::move(r));
      lk.lock();
      cv_.notify_all();
    }
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<http::Request, Callback>> queue_;
  std::vector<http::Request> log_;
  Handler handler_;
  bool hold_ = false;
  bool stop_ = false;
  size_t outstanding_ = 0, max_outstanding_ = 0;
  std::thread thread_;
};

// Fixed credentials (the config step of the chain), answered inline.
class FakeCredentials final : public aws::CredentialsProvider {
 public:
  explicit FakeCredentials(aws::Credentials c = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "", {}})
      : c_(std::move(c)) {}
  // aws::CredentialsProvider
  Result<aws::Credentials> current() override { return c_; }
  void get(std::function<void(Result<aws::Credentials>)> done) override { done(c_); }
  std::string_view source() const override { return "config"; }

 private:
  aws::Credentials c_;
};

}  // namespace mx::testing
