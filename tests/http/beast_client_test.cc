// tests/http/beast_client_test.cc — BeastClient against TestServer on 127.0.0.1: keep-alive
// reuse, the in-flight bound, connect refused, timeouts, the response size bound, the one
// retry on a stale pooled connection, TLS with a certificate made here (openssl CLI) and a
// CA file, and the destructor answering what is pending. No wall-clock bound is asserted.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>

#include "http/beast_client.h"
#include "test_server.h"

namespace mx::http {
namespace {

using mx::testing::TestReply;
using mx::testing::TestRequest;
using mx::testing::TestServer;
using namespace std::chrono_literals;

std::unique_ptr<BeastClient> client(ClientOptions o = {}) {
  auto c = BeastClient::create(std::move(o));
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message());
  return std::move(*c);
}

Request get(const std::string& url) {
  Request r;
  r.url = url;
  return r;
}

TEST(BeastClient, KeepAliveReusesOneConnection) {
  TestServer server([](const TestRequest& r) { return TestReply{200, "hello " + r.target}; });
  auto c = client();
  for (int i = 0; i < 5; ++i) {
    auto r = sendAndWait(*c, get(server.url("/n" + std::to_string(i))));
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello /n" + std::to_string(i));
  }
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(c->stats().connections_opened, 1u);
  EXPECT_EQ(c->stats().reused, 4u);
}

TEST(BeastClient, SendsHostUserAgentBodyAndHeaders) {
  TestRequest seen;
  std::mutex mu;
  TestServer server([&](const TestRequest& r) {
    std::lock_guard<std::mutex> lock(mu);
    seen = r;
    return TestReply{201, "", {{"X-Reply", "yes"}}};
  });
  auto c = client();
  Request req;
  req.method = "PUT";
  req.url = server.url("/b/k%20ey?x=1");
  req.headers = {{"Content-Type", "text/plain"}, {"X-Amz-Meta-A", "v"}};
  req.body = "payload";
  auto r = sendAndWait(*c, req);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->status, 201);
  ASSERT_NE(r->header("x-reply"), nullptr);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen.method, "PUT");
  EXPECT_EQ(seen.target, "/b/k%20ey?x=1");
  EXPECT_EQ(seen.body, "payload");
  EXPECT_EQ(seen.header("host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(seen.header("content-length"), "7");
  EXPECT_EQ(seen.header("user-agent"), "mxgate");
  EXPECT_EQ(seen.header("x-amz-meta-a"), "v");
}

TEST(BeastClient, HeadResponseHasNoBody) {
  TestServer server([](const TestRequest& r) {
    TestReply reply{200, ""};
    reply.headers.push_back({"X-Len", "5"});
    return reply;
  });
  auto c = client();
  Request req = get(server.url("/x"));
  req.method = "HEAD";
  for (int i = 0; i < 2; ++i) {
    auto r = sendAndWait(*c, req);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->status, 200);
  }
}

TEST(BeastClient, MaxInFlightBoundIsRespected) {
  TestServer server([](const TestRequest&) {
    TestReply r{200, "ok"};
    r.delay = 50ms;
    return r;
  });
  ClientOptions o;
  o.max_in_flight = 2;
  o.threads = 2;
  auto c = client(o);
  constexpr int kRequests = 10;
  std::vector<std::promise<Result<Response>>> promises(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    c->send(get(server.url("/")), [&promises, i](Result<Response> r) { promises[i].set_value(std::move(r)); });
  }
  for (auto& p : promises) {
    auto r = p.get_future().get();
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  EXPECT_EQ(server.requests(), kRequests);
  EXPECT_LE(server.maxConcurrent(), 2);
  EXPECT_GE(server.maxConcurrent(), 1);
  EXPECT_LE(server.accepted(), 2);  // the two slots' connections are reused
}

uint16_t closedPort() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();  // closed when `a` goes: nothing listens there
}

TEST(BeastClient, HttpOnlyClientServesHttpAndRefusesHttps) {
  TestServer server([](const TestRequest&) { return TestReply{200, "plain"}; });
  ClientOptions o;
  o.tls = false;
  o.ca_file = "/nonexistent/ca.pem";  // not read at all: creation cannot fail on it
  auto c = client(o);
  auto r = sendAndWait(*c, get(server.url("/")));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->body, "plain");
  auto tls = sendAndWait(*c, get("https://127.0.0.1:" + std::to_string(server.port()) + "/"));
  ASSERT_FALSE(tls.ok());
  EXPECT_EQ(tls.error().errorClass(), ErrorClass::kPermanentBackend);
  EXPECT_NE(tls.error().message().find("http only"), std::string::npos) << tls.error().message();
}

TEST(BeastClient, ConnectRefusedIsTransient) {
  auto c = client();
  auto r = sendAndWait(*c, get("http://127.0.0.1:" + std::to_string(closedPort()) + "/"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errorClass(), ErrorClass::kTransientBackend);
  EXPECT_NE(r.error().message().find("connect to 127.0.0.1:"), std::string::npos) << r.error().message();
}

TEST(BeastClient, TimeoutIsTransient) {
  TestServer server([](const TestRequest&) {
    TestReply r;
    r.hang = true;
    return r;
  });
  auto c = client();
  Request req = get(server.url("/slow"));
  req.timeout = 200ms;
  auto r = sendAndWait(*c, req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errorClass(), ErrorClass::kTransientBackend);
  EXPECT_NE(r.error().message().find("timed out"), std::string::npos) << r.error().message();
  EXPECT_EQ(r.error().message().find("/slow"), std::string::npos);  // the target is never shown
}

TEST(BeastClient, BodyOverLimitIsPermanent) {
  TestServer server([](const TestRequest& r) {
    return TestReply{200, std::string(r.target == "/big" ? 5000 : 1000, 'x')};
  });
  ClientOptions o;
  o.max_response_bytes = 1000;
  auto c = client(o);
  auto ok = sendAndWait(*c, get(server.url("/fits")));
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->body.size(), 1000u);
  auto r = sendAndWait(*c, get(server.url("/big")));
  ASSERT_FALSE(r.ok()) << r->body.size();
  EXPECT_EQ(r.error().errorClass(), ErrorClass::kPermanentBackend);
  EXPECT_NE(r.error().message().find("max_response_bytes"), std::string::npos);
}

TEST(BeastClient, StalePooledConnectionIsRetriedOnce) {
  // Every reply announces keep-alive, then the server closes the connection: the next request
  // finds its pooled connection dead and must be sent again on a new one.
  TestServer server([](const TestRequest&) {
    TestReply r{200, "ok"};
    r.drop_after = true;
    return r;
  });
  auto c = client();
  for (int i = 0; i < 3; ++i) {
    auto r = sendAndWait(*c, get(server.url("/")));
    ASSERT_TRUE(r.ok()) << i << ": " << r.error().message();
    std::this_thread::sleep_for(20ms);  // let the close arrive before the next request
  }
  EXPECT_EQ(server.accepted(), 3);
  EXPECT_EQ(c->stats().stale_retries, 2u);
  EXPECT_EQ(server.requests(), 3);  // the dead connection never delivered a request
}

TEST(BeastClient, ConnectionCloseIsNotPooled) {
  TestServer server([](const TestRequest&) {
    TestReply r{200, "ok"};
    r.close = true;
    return r;
  });
  auto c = client();
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(sendAndWait(*c, get(server.url("/"))).ok());
  EXPECT_EQ(server.accepted(), 2);
  EXPECT_EQ(c->stats().stale_retries, 0u);
}

TEST(BeastClient, RefusesWhatCannotBeSent) {
  auto c = client();
  for (Request req : {get("ftp://127.0.0.1/"), get("http://127.0.0.1:1/a b")}) {
    auto r = sendAndWait(*c, req);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().errorClass(), ErrorClass::kPermanentBackend);
  }
  Request inj = get("http://127.0.0.1:1/");
  inj.headers = {{"X-Meta", "a\r\nX-Injected: 1"}};
  auto r = sendAndWait(*c, inj);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errorClass(), ErrorClass::kPermanentBackend);
  Request bad_name = get("http://127.0.0.1:1/");
  bad_name.headers = {{"X Meta", "a"}};
  EXPECT_FALSE(sendAndWait(*c, bad_name).ok());
  Request bad_method = get("http://127.0.0.1:1/");
  bad_method.method = "GET /x";
  EXPECT_FALSE(sendAndWait(*c, bad_method).ok());
}

TEST(BeastClient, DestructorAnswersQueuedAndInFlight) {
  TestServer server([](const TestRequest&) {
    TestReply r;
    r.hang = true;
    return r;
  });
  ClientOptions o;
  o.max_in_flight = 1;
  auto c = client(o);
  std::mutex mu;
  std::vector<Result<Response>> answers;
  for (int i = 0; i < 3; ++i) {
    c->send(get(server.url("/")), [&](Result<Response> r) {
      std::lock_guard<std::mutex> lock(mu);
      answers.push_back(std::move(r));
    });
  }
  while (server.requests() < 1) std::this_thread::sleep_for(5ms);  // one is on the wire
  c.reset();
  ASSERT_EQ(answers.size(), 3u);
  for (const auto& a : answers) {
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error().errorClass(), ErrorClass::kTransientBackend);
    EXPECT_EQ(a.error().message(), "client shut down");
  }
}

// A self-signed certificate for localhost and 127.0.0.1, made with the openssl CLI.
class Tls : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("mx_http_tls_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    cert_ = (dir_ / "cert.pem").string();
    key_ = (dir_ / "key.pem").string();
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost"
        " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
        key_ + " -out " + cert_ + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "openssl CLI not available to make a test certificate";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string cert_, key_;
};

TEST_F(Tls, VerifiesAgainstCaFileByIpAndName) {
  TestServer server([](const TestRequest& r) { return TestReply{200, "secure " + r.header("host")}; }, cert_, key_);
  ClientOptions o;
  o.ca_file = cert_;
  auto c = client(o);
  auto r = sendAndWait(*c, get(server.url("/")));
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->body, "secure 127.0.0.1:" + std::to_string(server.port()));
  auto by_name = sendAndWait(*c, get("https://localhost:" + std::to_string(server.port()) + "/"));
  ASSERT_TRUE(by_name.ok()) << by_name.error().message();
  auto again = sendAndWait(*c, get(server.url("/")));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(server.accepted(), 2);  // one per endpoint (127.0.0.1 and localhost), reused
}

TEST_F(Tls, FailsWithoutTheCa) {
  TestServer server([](const TestRequest&) { return TestReply{200, "no"}; }, cert_, key_);
  auto c = client();  // the system store does not know our certificate
  auto r = sendAndWait(*c, get(server.url("/")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errorClass(), ErrorClass::kTransientBackend);
  EXPECT_NE(r.error().message().find("certificate verify failed"), std::string::npos) << r.error().message();
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(Tls, DefaultClientsTrustTheSystemStoreFromOpenSslsDefaultPaths) {
  // The system store is read once per process (ctest runs each test in its own), from
  // OpenSSL's default paths, which SSL_CERT_FILE / SSL_CERT_DIR override: pointed at our
  // certificate, every default client (no ca_file) trusts it through the one shared store.
  const auto empty_dir = dir_ / "empty";
  std::filesystem::create_directories(empty_dir);
  ::setenv("SSL_CERT_FILE", cert_.c_str(), 1);
  ::setenv("SSL_CERT_DIR", empty_dir.c_str(), 1);
  TestServer server([](const TestRequest&) { return TestReply{200, "trusted"}; }, cert_, key_);
  auto first = client();
  auto second = client();
  for (auto* c : {first.get(), second.get()}) {
    auto r = sendAndWait(*c, get(server.url("/")));
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->body, "trusted");
  }
  ::unsetenv("SSL_CERT_FILE");
  ::unsetenv("SSL_CERT_DIR");
}

TEST_F(Tls, HostNameMismatchFails) {
  // Issued for localhost/127.0.0.1; the client is told the name is something else by
  // connecting to a name that resolves to loopback but is not in the certificate.
  TestServer server([](const TestRequest&) { return TestReply{200, "no"}; }, cert_, key_);
  ClientOptions o;
  o.ca_file = cert_;
  auto c = client(o);
  auto r = sendAndWait(*c, get("https://127.0.0.1.nip.invalid:" + std::to_string(server.port()) + "/"));
  ASSERT_FALSE(r.ok());  // fails at resolution or verification; never reaches the server
  EXPECT_EQ(server.requests(), 0);
}

TEST(BeastClientConfig, UnreadableCaFile) {
  ClientOptions o;
  o.ca_file = "/nonexistent/ca.pem";
  auto c = BeastClient::create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().errorClass(), ErrorClass::kConfig);
  EXPECT_NE(c.error().message().find("/nonexistent/ca.pem"), std::string::npos);
  // The lenient factory still serves http, refuses https.
  HttpClientPtr lenient = makeHttpClient(o);
  auto r = sendAndWait(*lenient, get("https://127.0.0.1:1/"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errorClass(), ErrorClass::kPermanentBackend);
}

}  // namespace
}  // namespace mx::http
