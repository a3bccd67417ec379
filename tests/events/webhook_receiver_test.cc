// tests/events/webhook_receiver_test.cc — WebhookSink over the real http::BeastClient (TLS,
// a certificate made here with the openssl CLI) against a Python receiver that verifies the
// Standard Webhooks signature with its own HMAC code (tests/events/webhook_receiver.py): one
// receiver for the whole binary on a loopback port it picks itself, stopped at the end and
// killed with the test process if it dies (PR_SET_PDEATHSIG). Covers: five 500s with
// Retry-After then 200 for every id, each attempt freshly signed; a wrong secret refused by the
// receiver (401, permanent); a 400 with a control-laden body (permanent, sanitised snippet);
// a closed port (transient). Skips, saying so, when python3 or openssl is missing.
// Registered with plain add_test (not gtest discovery): one process, one receiver.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "events/webhook/webhook_sink.h"
#include "http/beast_client.h"

namespace mx::events {
namespace {

using namespace std::chrono_literals;

constexpr const char* kSecret = "whsec_c2VjcmV0LWZvci10aGUtd2ViaG9vay1yZWNlaXZlci10ZXN0";

class Receiver {
 public:
  static Receiver& get() {
    static Receiver r;
    return r;
  }
  bool up() const { return port_ != 0; }
  const std::string& why() const { return why_; }
  std::string url(const std::string& path) const { return "https://127.0.0.1:" + std::to_string(port_) + path; }
  const std::string& caFile() const { return cert_; }

  void start() {
    dir_ = std::filesystem::temp_directory_path() / ("mx_webhook_rx_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    cert_ = (dir_ / "cert.pem").string();
    key_ = (dir_ / "key.pem").string();
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost"
        " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
        key_ + " -out " + cert_ + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      why_ = "openssl CLI not available to make a test certificate";
      return;
    }
    const char* src = std::getenv("MXGATE_SOURCE_DIR");
    std::string script = std::string(src != nullptr ? src : MXGATE_SOURCE_DIR) + "/tests/events/webhook_receiver.py";
    int fds[2];
    if (::pipe(fds) != 0) {
      why_ = "pipe failed";
      return;
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the test process
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      ::execlp("python3", "python3", script.c_str(), cert_.c_str(), key_.c_str(), kSecret, "5", nullptr);
      ::_exit(127);
    }
    ::close(fds[1]);
    std::string line;
    pollfd p{fds[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos && ::poll(&p, 1, 20000) > 0) {
      char buf[64];
      ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    if (line.rfind("port ", 0) != 0) {
      why_ = "the receiver did not start (python3 " + script + ")";
      return;
    }
    port_ = static_cast<uint16_t>(std::stoi(line.substr(5)));
  }

  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string why_;
  std::filesystem::path dir_;
  std::string cert_, key_;
};

class ReceiverEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { Receiver::get().start(); }
  void TearDown() override { Receiver::get().stop(); }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new ReceiverEnvironment);

class WebhookReceiverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Receiver::get().up()) GTEST_SKIP() << Receiver::get().why();
    http::ClientOptions o;
    o.ca_file = Receiver::get().caFile();
    auto c = http::BeastClient::create(o);
    ASSERT_TRUE(c.ok()) << c.error().message();
    client_ = std::move(*c);
  }
  std::unique_ptr<WebhookSink> sink(const std::string& path, const std::string& secret = kSecret) {
    WebhookSinkOptions o;
    o.url = Receiver::get().url(path);
    o.secret = secret;
    o.concurrency = 4;
    o.timeout = 10s;
    auto s = WebhookSink::open(*client_, o);
    EXPECT_TRUE(s.ok()) << s.error().message();
    return s.ok() ? std::move(*s) : nullptr;
  }
  nlohmann::json log() {
    auto r = http::sendAndWait(*client_, http::Request{"GET", Receiver::get().url("/log"), {}, "", 10s});
    EXPECT_TRUE(r.ok() && r->status == 200);
    return r.ok() ? nlohmann::json::parse(r->body, nullptr, false) : nlohmann::json();
  }
  static Event event(const std::string& id) {
    return Event{id, "mxgate.message.received", "acme",
                 R"({"specversion":"1.0","type":"mxgate.message.received","id":")" + id +
                     R"(","data":{"subject":"caf\u00e9 \"quoted\""}})"};
  }
  std::unique_ptr<http::BeastClient> client_;
};

TEST_F(WebhookReceiverTest, FiveServerErrorsThenDeliveredWithFreshSignatures) {
  auto s = sink("/flaky");
  ASSERT_TRUE(s);
  std::vector<Event> batch;
  for (int i = 0; i < 6; ++i) batch.push_back(event("01JXFLAKY" + std::to_string(i)));
  for (int attempt = 1; attempt <= 5; ++attempt) {
    auto out = s->publishEach(batch);
    ASSERT_EQ(out.size(), batch.size());
    for (const Delivery& d : out) {
      ASSERT_FALSE(d.status.ok()) << "attempt " << attempt;
      EXPECT_EQ(d.status.error().errorClass(), ErrorClass::kTransientBackend) << d.status.error().message();
      EXPECT_NE(d.status.error().message().find("HTTP 500: try again"), std::string::npos);
      EXPECT_EQ(d.retry_after, 1s);
    }
  }
  auto out = s->publishEach(batch);
  for (const Delivery& d : out) EXPECT_TRUE(d.status.ok()) << d.status.error().message();

  nlohmann::json seen = log();
  EXPECT_EQ(seen["bad_signatures"], 0);
  EXPECT_EQ(seen["bad_requests"], 0);
  for (const Event& e : batch) {
    EXPECT_EQ(seen["attempts"][e.id], 6) << e.id;
    EXPECT_EQ(seen["delivered"][e.id], e.json) << e.id;
  }
}

TEST_F(WebhookReceiverTest, WrongSecretIsRefusedByTheReceiver) {
  auto s = sink("/flaky", "whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZw==");
  ASSERT_TRUE(s);
  const int before = log()["bad_signatures"].get<int>();
  auto out = s->publishEach(std::vector<Event>{event("01JXWRONG")});
  ASSERT_FALSE(out[0].status.ok());
  EXPECT_EQ(out[0].status.error().errorClass(), ErrorClass::kPermanentBackend);
  EXPECT_NE(out[0].status.error().message().find("HTTP 401: signature does not verify"), std::string::npos)
      << out[0].status.error().message();
  EXPECT_EQ(log()["bad_signatures"].get<int>(), before + 1);
}

TEST_F(WebhookReceiverTest, BadRequestIsRefusedWithASanitisedSnippet) {
  auto s = sink("/reject");
  ASSERT_TRUE(s);
  auto out = s->publishEach(std::vector<Event>{event("01JXREJECT")});
  ASSERT_FALSE(out[0].status.ok());
  EXPECT_EQ(out[0].status.error().errorClass(), ErrorClass::kPermanentBackend);
  EXPECT_EQ(out[0].status.error().message(),
            "webhook " + Receiver::get().url("") + ": HTTP 400: schema mismatch:? missing data.envelope?");
  EXPECT_EQ(out[0].retry_after, 0ms);
}

TEST_F(WebhookReceiverTest, ClosedPortIsTransient) {
  // A port nobody listens on: bind one, learn its number, close it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  WebhookSinkOptions o;
  o.url = "https://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/hook";
  o.secret = kSecret;
  auto s = WebhookSink::open(*client_, o);
  ASSERT_TRUE(s.ok());
  auto out = (*s)->publishEach(std::vector<Event>{event("01JXCLOSED")});
  ASSERT_FALSE(out[0].status.ok());
  EXPECT_EQ(out[0].status.error().errorClass(), ErrorClass::kTransientBackend) << out[0].status.error().message();
}

}  // namespace
}  // namespace mx::events
