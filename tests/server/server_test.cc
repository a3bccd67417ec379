// tests/server/server_test.cc — the server in-process on loopback (port 0, one event-loop
// thread, a real spool in a temporary directory) with test policies behind the Policy
// interface: a verdict that is slow to come never delays other sessions on the same loop
// (a gated policy: deterministic, no timing), a 50 ms timer policy answers correctly, a
// policy that never answers is bounded by policy_timeout (451 4.3.0) and its late answer is
// dropped, every stage's question reaches the policy with the envelope so far, a refusal
// at connect is the one refuse path, [[rate_limit]] refusals through RateLimitPolicy read
// as the client sees them (421 4.7.0 at connect, 451 4.7.1 at MAIL), and drain() returns
// once the connections are gone.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "../spool/spool_test_util.h"
#include "policy/local_policy.h"
#include "policy/rate_limits/local/local_rate_limiter.h"
#include "policy/rate_limits/rate_limit_policy.h"
#include "server/server.h"

namespace mx::server {
namespace {

using smtp::ReplyId;
using smtp::Verdict;

// Accepts everything at once, except RCPT to an address starting with "slow": that verdict
// is held until the test releases it (or answered from a timer thread after `delay`).
class TestPolicy final : public policy::Policy {
 public:
  explicit TestPolicy(std::chrono::milliseconds delay = std::chrono::milliseconds(0)) : delay_(delay) {}
  ~TestPolicy() override {
    for (auto& t : timers_) t.join();
  }

  void check(const policy::Query& q, policy::VerdictCallback done) override {
    std::unique_lock lock(mu_);
    asked_.push_back(std::string(policy::stageName(q.stage)) + " " + std::string(q.argument) +
                     (q.stage == policy::Stage::kRcptTo ? " rcpts=" + std::to_string(q.envelope.rcpt_to.size()) : ""));
    if (q.stage == policy::Stage::kConnect) connect_ip_ = q.envelope.client_ip;
    tls_version_ = q.envelope.tls_version;
    if (q.stage == policy::Stage::kRcptTo && q.argument.starts_with("never")) {
      never_.push_back(std::move(done));
      cv_.notify_all();
      return;
    }
    if (q.stage == policy::Stage::kRcptTo && q.argument.starts_with("slow")) {
      if (delay_.count() > 0) {
        timers_.emplace_back([d = delay_, done = std::move(done), this] {
          std::this_thread::sleep_for(d);
          delivered_at_ = std::chrono::steady_clock::now();
          done(Verdict::acceptRecipient("default"));
        });
        return;
      }
      held_.push_back(std::move(done));
      cv_.notify_all();
      return;
    }
    lock.unlock();
    done(q.stage == policy::Stage::kRcptTo ? Verdict::acceptRecipient("default") : Verdict::accept());
  }

  // Waits until a held (or never-answered) question is there.
  void waitHeld(bool never = false) {
    std::unique_lock lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(10), [&] { return !(never ? never_ : held_).empty(); }));
  }
  void releaseOne() {
    policy::VerdictCallback cb;
    {
      std::lock_guard lock(mu_);
      cb = std::move(held_.front());
      held_.pop_front();
    }
    cb(Verdict::acceptRecipient("default"));  // from the test thread, not the loop
  }
  void answerNever() {
    policy::VerdictCallback cb;
    {
      std::lock_guard lock(mu_);
      cb = std::move(never_.front());
      never_.pop_front();
    }
    cb(Verdict::acceptRecipient("default"));
  }
  std::vector<std::string> asked() {
    std::lock_guard lock(mu_);
    return {asked_.begin(), asked_.end()};
  }
  std::string connectIp() {
    std::lock_guard lock(mu_);
    return connect_ip_;
  }
  std::chrono::steady_clock::time_point deliveredAt() const { return delivered_at_; }
  // The envelope's tls_version at the last question.
  std::string tlsVersion() {
    std::lock_guard lock(mu_);
    return tls_version_;
  }

 private:
  const std::chrono::milliseconds delay_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<policy::VerdictCallback> held_, never_;
  std::deque<std::string> asked_;
  std::string connect_ip_;
  std::string tls_version_;
  std::vector<std::thread> timers_;
  std::atomic<std::chrono::steady_clock::time_point> delivered_at_{};
};

// A blocking loopback client; every read gives up after 10 s so a bug fails, not hangs.
// `source`: the loopback address to connect from (127.0.0.1 unless given).
class Client {
 public:
  explicit Client(uint16_t port, const char* source = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (source != nullptr) {
      sockaddr_in b{};
      b.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &b.sin_addr);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&b), sizeof b);
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  void send(const std::string& s) { ASSERT_EQ(::send(fd_, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size())); }
  // The next complete reply (all lines of a multi-line reply), without the last CRLF.
  std::string reply() {
    std::string out;
    for (;;) {
      std::string line = readLine();
      out += line;
      if (line.size() < 4 || line[3] != '-') return out;
      out += "\n";
    }
  }
  // True when no byte is waiting (nothing was sent to us).
  bool nothingPending() {
    char c;
    return ::recv(fd_, &c, 1, MSG_DONTWAIT | MSG_PEEK) < 0 && errno == EAGAIN && buf_.empty();
  }
  std::string transaction(const std::string& rcpt) {
    send("MAIL FROM:<a@example.org>\r\nRCPT TO:<" + rcpt + ">\r\nDATA\r\n");
    std::string r = reply();  // one at a time: operands of + have no evaluation order
    r += "|" + reply();
    r += "|" + reply();
    send("Subject: t\r\n\r\nbody\r\n.\r\n");
    r += "|" + reply();
    return r;
  }

 private:
  std::string readLine() {
    for (;;) {
      size_t eol = buf_.find("\r\n");
      if (eol != std::string::npos) {
        std::string line = buf_.substr(0, eol);
        buf_.erase(0, eol + 2);
        return line;
      }
      char tmp[4096];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return "<closed>";
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }
  int fd_;
  bool connected_ = false;
  std::string buf_;
};

class ServerTest : public ::testing::Test {
 protected:
  void startServer(policy::Policy& p, ServerOptions o = {}) {
    auto sp = spool::Spool::open(spool::testing::testOptions(dir_.path()));
    ASSERT_TRUE(sp.ok()) << sp.error().message();
    spool_ = std::move(*sp);
    std::string error;
    ASSERT_TRUE(logger_.open("/dev/null", &error)) << error;
    o.session.hostname = "mx.test";
    o.threads = 1;  // every session on the same loop
    o.listeners = {listener_};
    ServerDeps d;
    d.spool = spool_.get();
    d.clock = &clock_;
    d.logger = &logger_;
    d.metrics = &metrics_;
    d.policy = &p;
    d.ack_gate = gate_;
    server_ = std::make_unique<Server>(std::move(o), d);
    ASSERT_TRUE(server_->start().ok());
    port_ = server_->boundPort("smtp");
  }
  void TearDown() override {
    if (server_) server_->drain();
    server_.reset();
    if (spool_) spool_->close();
  }
  static std::string hello(Client& c) {
    std::string r = c.reply();
    c.send("EHLO client.test\r\n");
    r += "|" + c.reply().substr(0, 3);
    return r;
  }

  spool::testing::TempDir dir_;
  RealClock clock_;
  Logger logger_;
  Metrics metrics_;
  std::unique_ptr<spool::Spool> spool_;
  std::unique_ptr<Server> server_;
  AckGate* gate_ = nullptr;         // set before startServer(): ack_after = "store"
  ListenerOptions listener_ = [] {  // change before startServer()
    ListenerOptions l;
    l.name = "smtp";
    return l;
  }();
  uint16_t port_ = 0;
};

constexpr const char* kQueuedPrefix = "250 2.0.0 Ok: queued as ";

TEST_F(ServerTest, ASlowVerdictDoesNotDelayOtherSessionsOnTheLoop) {
  TestPolicy policy;
  startServer(policy);
  Client a(port_);
  ASSERT_EQ(hello(a), "220 mx.test ESMTP mxgate|250");
  a.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<slow@example.test>\r\n");
  EXPECT_EQ(a.reply(), "250 2.1.0 Ok");
  policy.waitHeld();  // A is parked on its RCPT verdict

  // B, on the same (only) event loop, goes through a whole transaction meanwhile.
  Client b(port_);
  ASSERT_EQ(hello(b), "220 mx.test ESMTP mxgate|250");
  std::string t = b.transaction("fast@example.test");
  EXPECT_EQ(t.substr(0, 47), "250 2.1.0 Ok|250 2.1.5 Ok|354 End data with <CR");
  EXPECT_NE(t.find(kQueuedPrefix), std::string::npos) << t;
  b.send("QUIT\r\n");
  EXPECT_EQ(b.reply(), "221 2.0.0 Bye");
  EXPECT_TRUE(a.nothingPending());  // A still has no RCPT reply

  policy.releaseOne();  // the verdict comes from another thread
  EXPECT_EQ(a.reply(), "250 2.1.5 Ok");
  a.send("DATA\r\n");
  EXPECT_EQ(a.reply().substr(0, 3), "354");
  a.send("Subject: a\r\n\r\nA\r\n.\r\n");
  EXPECT_EQ(a.reply().rfind(kQueuedPrefix, 0), 0u);
}

TEST_F(ServerTest, A50msTimerVerdictAnswersAndOthersGoOn) {
  TestPolicy policy(std::chrono::milliseconds(50));
  startServer(policy);
  Client a(port_);
  hello(a);
  auto asked_at = std::chrono::steady_clock::now();
  a.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<slow@example.test>\r\n");
  EXPECT_EQ(a.reply(), "250 2.1.0 Ok");
  Client b(port_);
  EXPECT_EQ(hello(b), "220 mx.test ESMTP mxgate|250");
  b.send("NOOP\r\n");
  EXPECT_EQ(b.reply(), "250 2.0.0 Ok");
  auto b_done = std::chrono::steady_clock::now();
  EXPECT_EQ(a.reply(), "250 2.1.5 Ok");
  auto a_answered = std::chrono::steady_clock::now();
  EXPECT_GE(a_answered - asked_at, std::chrono::milliseconds(50));  // a lower bound only
  // For the record (not asserted: the machine is shared and noisy).
  std::printf("B's greeting+EHLO+NOOP took %lld us while A's verdict was pending; A answered after %lld us\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(b_done - asked_at).count()),
              static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(a_answered - asked_at).count()));
}

TEST_F(ServerTest, APolicyThatNeverAnswersIsBoundedAndItsLateAnswerDropped) {
  TestPolicy policy;
  ServerOptions o;
  o.policy_timeout = std::chrono::milliseconds(200);
  startServer(policy, o);
  Client a(port_);
  hello(a);
  auto asked_at = std::chrono::steady_clock::now();
  a.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<never@example.test>\r\n");
  EXPECT_EQ(a.reply(), "250 2.1.0 Ok");
  EXPECT_EQ(a.reply(), "451 4.3.0 Error: temporary policy failure, try again later");
  EXPECT_GE(std::chrono::steady_clock::now() - asked_at, std::chrono::milliseconds(200));
  policy.waitHeld(/*never=*/true);
  policy.answerNever();  // long after the timeout: must be dropped, not applied
  a.send("RCPT TO:<ok@example.test>\r\n");
  EXPECT_EQ(a.reply(), "250 2.1.5 Ok");
  a.send("DATA\r\nSubject: x\r\n\r\nx\r\n.\r\n");
  EXPECT_EQ(a.reply().substr(0, 3), "354");
  EXPECT_EQ(a.reply().rfind(kQueuedPrefix, 0), 0u);
}

TEST_F(ServerTest, EveryStageIsAskedWithTheEnvelopeSoFar) {
  TestPolicy policy;
  startServer(policy);
  Client a(port_);
  hello(a);
  std::string t = a.transaction("one@example.test");
  EXPECT_NE(t.find(kQueuedPrefix), std::string::npos) << t;
  a.send("QUIT\r\n");
  EXPECT_EQ(a.reply(), "221 2.0.0 Bye");
  auto asked = policy.asked();
  std::vector<std::string> want = {"connect ", "helo client.test", "mail a@example.org",
                                    "rcpt one@example.test rcpts=0", "data "};
  EXPECT_EQ(asked, want);
  EXPECT_EQ(policy.connectIp(), "127.0.0.1");  // the connection fields are set before connect
}

TEST_F(ServerTest, ConnectionLimitIsRefusedThroughTheConnectVerdict) {
  TestPolicy policy;
  ServerOptions o;
  o.max_connections_per_ip = 1;
  startServer(policy, o);
  Client a(port_);
  EXPECT_EQ(a.reply(), "220 mx.test ESMTP mxgate");
  Client b(port_);
  EXPECT_EQ(b.reply(), "421 4.7.0 mx.test Error: too many connections from your address, try again later");
  EXPECT_EQ(b.reply(), "<closed>");
  EXPECT_EQ(metrics_.connections_refused_limit.load(), 1u);
}

// [[rate_limit]] through the real driver (RateLimitPolicy over the test policy, local
// counters): the transcript a client sees at each stage.
TEST_F(ServerTest, RateLimitsAnswerAtConnectAndMailAsTranscripts) {
  TestPolicy inner;
  auto limiter = std::make_shared<policy::LocalRateLimiter>();
  policy::RateLimitPolicy p(inner, limiter,
                            {policy::RateLimit{"conn", policy::RateKey::kClientIp, policy::RateQuantity::kConnections,
                                               2, std::chrono::minutes(1)},
                             policy::RateLimit{"msgs", policy::RateKey::kClientNet, policy::RateQuantity::kMessages, 1,
                                               std::chrono::minutes(1)}});
  startServer(p);
  Client a(port_);
  EXPECT_EQ(hello(a), "220 mx.test ESMTP mxgate|250");
  std::string t = a.transaction("one@example.test");
  EXPECT_NE(t.find(kQueuedPrefix), std::string::npos) << t;
  a.send("MAIL FROM:<a@example.org>\r\n");
  EXPECT_EQ(a.reply(), "451 4.7.1 Error: rate limit exceeded, try again later");
  a.send("RCPT TO:<two@example.test>\r\n");
  EXPECT_EQ(a.reply(), "503 5.5.1 Error: need MAIL command");  // the refused MAIL left no transaction
  a.send("QUIT\r\n");
  EXPECT_EQ(a.reply(), "221 2.0.0 Bye");
  Client b(port_);
  EXPECT_EQ(b.reply(), "220 mx.test ESMTP mxgate");
  Client c(port_);
  EXPECT_EQ(c.reply(), "421 4.7.0 mx.test Error: connection rate limit exceeded, try again later");
  EXPECT_EQ(c.reply(), "<closed>");
  const std::string m = p.renderMetrics();
  EXPECT_NE(m.find("mxgate_rate_limit_refusals_total{limit=\"conn\"} 1"), std::string::npos) << m;
  EXPECT_NE(m.find("mxgate_rate_limit_refusals_total{limit=\"msgs\"} 1"), std::string::npos) << m;
}

// One DATA for two tenants through the real driver and LocalPolicy: one 250 naming the
// first copy's id, and one spool record per tenant, each with its own id and only its own
// recipients, both durable (read back) before the 250 was sent.
TEST_F(ServerTest, SeveralTenantsInOneTransactionAreOneCopyEach) {
  std::string err;
  auto dir = policy::Directory::build({{"acme", {"acme.test"}}, {"beta", {"beta.test"}}}, {}, &err);
  ASSERT_TRUE(dir) << err;
  policy::LocalPolicy p(dir, nullptr);
  startServer(p);
  Client a(port_);
  EXPECT_EQ(hello(a), "220 mx.test ESMTP mxgate|250");
  a.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<x@acme.test>\r\nRCPT TO:<y@beta.test>\r\nRCPT TO:<z@acme.test>\r\n");
  EXPECT_EQ(a.reply(), "250 2.1.0 Ok");
  EXPECT_EQ(a.reply(), "250 2.1.5 Ok");
  EXPECT_EQ(a.reply(), "250 2.1.5 Ok");  // no 452 for the second tenant
  EXPECT_EQ(a.reply(), "250 2.1.5 Ok");
  a.send("DATA\r\n");
  EXPECT_EQ(a.reply(), "354 End data with <CR><LF>.<CR><LF>");
  a.send("Subject: t\r\n\r\nbody\r\n.\r\n");
  const std::string queued = a.reply();
  ASSERT_EQ(queued.rfind(kQueuedPrefix, 0), 0u) << queued;
  const std::string first_id = queued.substr(std::string(kQueuedPrefix).size());
  // Both records are durable now: the reader returns only what fdatasync covered.
  auto reader = spool_->reader();
  std::vector<Envelope> got;
  for (int i = 0; i < 2; ++i) {
    auto r = reader->next(Millis(0));
    ASSERT_TRUE(r.ok() && *r) << "record " << i << " is not durable at the 250";
    got.push_back((*r)->envelope);
    EXPECT_EQ((*r)->body, "Subject: t\r\n\r\nbody\r\n");
  }
  EXPECT_EQ(got[0].id.toString(), first_id);
  EXPECT_NE(got[1].id, got[0].id);
  EXPECT_EQ(got[0].tenant, "acme");
  EXPECT_EQ(got[0].rcpt_to, (std::vector<std::string>{"x@acme.test", "z@acme.test"}));
  EXPECT_EQ(got[1].tenant, "beta");
  EXPECT_EQ(got[1].rcpt_to, (std::vector<std::string>{"y@beta.test"}));
  EXPECT_EQ(got[0].received_at, got[1].received_at);
  EXPECT_EQ(spool_->stats().commits, 2u);
  a.send("QUIT\r\n");
  EXPECT_EQ(a.reply(), "221 2.0.0 Bye");
}

TEST_F(ServerTest, DrainReturnsOnceConnectionsAreGone) {
  TestPolicy policy;
  startServer(policy);
  Client a(port_);
  hello(a);
  std::thread t([this] { server_->drain(); });
  EXPECT_EQ(a.reply(), "421 4.3.2 mx.test Service shutting down");
  EXPECT_EQ(a.reply(), "<closed>");
  t.join();
  EXPECT_EQ(metrics_.connections_active.load(), 0);
}

}  // namespace
// ack_after = "store": an AckGate the test answers by hand (from its own thread, as S3's
// HTTP client threads would), with the bytes and envelope it was given.
class TestGate final : public AckGate {
 public:
  explicit TestGate(Millis timeout) : timeout_(timeout) {}
  void confirm(const Envelope& envelope, std::string raw, std::function<void(Status)> done) override {
    std::lock_guard<std::mutex> l(mu_);
    ids_.push_back(envelope.id.toString());
    bodies_.push_back(std::move(raw));
    held_.push_back(std::move(done));
    cv_.notify_all();
  }
  Millis timeout() const override { return timeout_; }
  // Waits until `n` confirmations were asked for (bounded: a bug fails, not hangs).
  bool waitAsked(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(10), [&] { return held_.size() + answered_ >= n; });
  }
  void answer(Status st) {
    std::function<void(Status)> done;
    {
      std::lock_guard<std::mutex> l(mu_);
      done = std::move(held_.front());
      held_.pop_front();
      ++answered_;
    }
    std::thread([done = std::move(done), st = std::move(st)]() mutable { done(std::move(st)); }).join();
  }
  std::string body(size_t i) {
    std::lock_guard<std::mutex> l(mu_);
    return bodies_.at(i);
  }
  std::string id(size_t i) {
    std::lock_guard<std::mutex> l(mu_);
    return ids_.at(i);
  }

 private:
  Millis timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void(Status)>> held_;
  std::vector<std::string> bodies_, ids_;
  size_t answered_ = 0;
};

TEST_F(ServerTest, AckAfterStoreWaitsForTheGateAndOthersGoOn) {
  TestPolicy policy;
  TestGate gate(std::chrono::seconds(30));
  gate_ = &gate;
  startServer(policy);
  Client a(port_);
  hello(a);
  a.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<one@example.test>\r\nDATA\r\n");
  EXPECT_EQ(a.reply(), "250 2.1.0 Ok");
  EXPECT_EQ(a.reply(), "250 2.1.5 Ok");
  EXPECT_EQ(a.reply().substr(0, 3), "354");
  a.send("Subject: a\r\n\r\n..dot\r\nbody\r\n.\r\n");
  ASSERT_TRUE(gate.waitAsked(1));                                 // spooled, now waiting for the store
  EXPECT_EQ(gate.body(0), "Subject: a\r\n\r\n.dot\r\nbody\r\n");  // as spooled: dot-unstuffed
  // Another session on the same (only) loop is not held up meanwhile.
  Client b(port_);
  EXPECT_EQ(hello(b), "220 mx.test ESMTP mxgate|250");
  b.send("NOOP\r\n");
  EXPECT_EQ(b.reply(), "250 2.0.0 Ok");
  EXPECT_TRUE(a.nothingPending());  // no 250 before the store confirmed
  gate.answer(okStatus());
  EXPECT_EQ(a.reply(), kQueuedPrefix + gate.id(0));
  // A store failure is 451 4.3.0 (spooled: the pipeline stores it behind).
  a.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<two@example.test>\r\nDATA\r\nSubject: b\r\n\r\nB\r\n.\r\n");
  EXPECT_EQ(a.reply(), "250 2.1.0 Ok");
  EXPECT_EQ(a.reply(), "250 2.1.5 Ok");
  EXPECT_EQ(a.reply().substr(0, 3), "354");
  ASSERT_TRUE(gate.waitAsked(2));
  gate.answer(Error(ErrorClass::kPermanentBackend, "s3 PUT: 403 AccessDenied"));
  EXPECT_EQ(a.reply(), "451 4.3.0 Error: storage did not confirm the message, try again later");
  EXPECT_EQ(metrics_.messages_store_ack_failed.load(), 1u);
}

// ack_after = "store" with a message for two tenants: each copy is confirmed, the 250 waits
// for both, and one failure makes it a 451 for the whole message.
TEST_F(ServerTest, AckAfterStoreConfirmsEveryCopy) {
  std::string err;
  auto dir = policy::Directory::build({{"acme", {"acme.test"}}, {"beta", {"beta.test"}}}, {}, &err);
  ASSERT_TRUE(dir) << err;
  policy::LocalPolicy policy(dir, nullptr);
  TestGate gate(std::chrono::seconds(30));
  gate_ = &gate;
  startServer(policy);
  Client a(port_);
  hello(a);
  const std::string txn =
      "MAIL FROM:<a@example.org>\r\nRCPT TO:<x@acme.test>\r\nRCPT TO:<y@beta.test>\r\nDATA\r\n"
      "Subject: a\r\n\r\nA\r\n.\r\n";
  a.send(txn);
  for (const char* want : {"250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok"}) EXPECT_EQ(a.reply(), want);
  EXPECT_EQ(a.reply().substr(0, 3), "354");
  ASSERT_TRUE(gate.waitAsked(2));
  EXPECT_EQ(gate.body(0), "Subject: a\r\n\r\nA\r\n");
  EXPECT_EQ(gate.body(1), gate.body(0));
  EXPECT_NE(gate.id(0), gate.id(1));
  gate.answer(okStatus());
  EXPECT_TRUE(a.nothingPending());  // one copy confirmed is not enough
  gate.answer(okStatus());
  EXPECT_EQ(a.reply(), kQueuedPrefix + gate.id(0));
  a.send(txn);
  for (const char* want : {"250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok"}) EXPECT_EQ(a.reply(), want);
  EXPECT_EQ(a.reply().substr(0, 3), "354");
  ASSERT_TRUE(gate.waitAsked(4));
  gate.answer(Error(ErrorClass::kTransientBackend, "s3 PUT: 503"));
  gate.answer(okStatus());
  EXPECT_EQ(a.reply(), "451 4.3.0 Error: storage did not confirm the message, try again later");
}

TEST_F(ServerTest, AckAfterStoreTimesOutWith451AndDropsTheLateAnswer) {
  TestPolicy policy;
  TestGate gate(std::chrono::milliseconds(200));
  gate_ = &gate;
  startServer(policy);
  Client a(port_);
  hello(a);
  auto began = std::chrono::steady_clock::now();
  a.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<one@example.test>\r\nDATA\r\nSubject: a\r\n\r\nA\r\n.\r\n");
  EXPECT_EQ(a.reply(), "250 2.1.0 Ok");
  EXPECT_EQ(a.reply(), "250 2.1.5 Ok");
  EXPECT_EQ(a.reply().substr(0, 3), "354");
  EXPECT_EQ(a.reply(), "451 4.3.0 Error: storage did not confirm the message, try again later");
  EXPECT_GE(std::chrono::steady_clock::now() - began, std::chrono::milliseconds(200));  // a lower bound only
  ASSERT_TRUE(gate.waitAsked(1));
  // The next transaction is answered by its own confirmation; the first one's late answer
  // (given first) must not be taken for it.
  a.send("MAIL FROM:<a@example.org>\r\nRCPT TO:<two@example.test>\r\nDATA\r\nSubject: b\r\n\r\nB\r\n.\r\n");
  EXPECT_EQ(a.reply(), "250 2.1.0 Ok");
  EXPECT_EQ(a.reply(), "250 2.1.5 Ok");
  EXPECT_EQ(a.reply().substr(0, 3), "354");
  ASSERT_TRUE(gate.waitAsked(2));
  gate.answer(okStatus());  // the late answer for the first message
  EXPECT_TRUE(a.nothingPending());
  gate.answer(okStatus());
  EXPECT_EQ(a.reply(), kQueuedPrefix + gate.id(1));
  a.send("QUIT\r\n");
  EXPECT_EQ(a.reply(), "221 2.0.0 Bye");
}

namespace tls_at_proxy {

// The listener behind an NLB TLS listener (465): PROXY protocol from 127.0.0.1 only, TLS
// terminated by the proxy, TLS and AUTH required (submission's defaults). No certificate
// of our own (deps.tls is null), so nothing but the proxy can make a session TLS here.
ListenerOptions listener() {
  ListenerOptions l;
  l.name = "smtp";
  l.kind = ListenerKind::kSubmission;
  l.proxy_protocol = true;
  l.trusted_proxies.add(*Cidr::parse("127.0.0.1/32"));
  l.tls_at_proxy = true;
  l.require_tls = true;
  return l;
}

constexpr const char* kProxyV1 = "PROXY TCP4 203.0.113.9 127.0.0.1 40000 465\r\n";
// "AUTH PLAIN" of alice/secret (RFC 4616: authzid NUL authcid NUL password).
constexpr const char* kAuthPlain = "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n";

}  // namespace tls_at_proxy

TEST_F(ServerTest, TlsAtProxyFromATrustedProxyCountsAsTlsForMailAndAuth) {
  TestPolicy policy;
  listener_ = tls_at_proxy::listener();
  ServerOptions o;
  o.session.auth_available = true;
  startServer(policy, o);
  Client a(port_);
  a.send(tls_at_proxy::kProxyV1);
  EXPECT_EQ(a.reply(), "220 mx.test ESMTP mxgate");
  a.send("EHLO client.test\r\n");
  std::string ehlo = a.reply();
  EXPECT_EQ(ehlo.find("STARTTLS"), std::string::npos) << ehlo;  // TLS is on already
  EXPECT_NE(ehlo.find("AUTH PLAIN LOGIN"), std::string::npos) << ehlo;
  a.send(tls_at_proxy::kAuthPlain);
  EXPECT_EQ(a.reply().substr(0, 9), "235 2.7.0");
  std::string t = a.transaction("one@example.test");
  EXPECT_NE(t.find(kQueuedPrefix), std::string::npos) << t;
  EXPECT_EQ(policy.tlsVersion(), "TLS at proxy");
  EXPECT_EQ(policy.connectIp(), "203.0.113.9");
}

TEST_F(ServerTest, TlsAtProxyFromAnUntrustedPeerIsPlaintext) {
  TestPolicy policy;
  listener_ = tls_at_proxy::listener();
  ServerOptions o;
  o.session.auth_available = true;
  startServer(policy, o);
  Client a(port_, "127.0.0.2");  // not a trusted proxy: "PROXY ..." is an unknown command
  EXPECT_EQ(a.reply(), "220 mx.test ESMTP mxgate");
  a.send(tls_at_proxy::kProxyV1);
  EXPECT_EQ(a.reply().substr(0, 5), "500 5");
  a.send("EHLO client.test\r\n");
  EXPECT_EQ(a.reply().substr(0, 3), "250");
  a.send("MAIL FROM:<a@example.org>\r\n");
  EXPECT_EQ(a.reply().substr(0, 9), "530 5.7.0");
  a.send(tls_at_proxy::kAuthPlain);
  EXPECT_EQ(a.reply().substr(0, 1), "5");  // no AUTH without TLS
  EXPECT_EQ(policy.tlsVersion(), "");
}

TEST_F(ServerTest, TlsAtProxyLocalHeaderVouchesForNothing) {
  TestPolicy policy;
  listener_ = tls_at_proxy::listener();
  startServer(policy);
  Client a(port_);
  // PROXY v2 LOCAL (the balancer's own health check): signature, version 2 + LOCAL, no
  // address family, no address block.
  a.send(std::string("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16));
  EXPECT_EQ(a.reply(), "220 mx.test ESMTP mxgate");
  a.send("EHLO client.test\r\nMAIL FROM:<a@example.org>\r\n");
  EXPECT_EQ(a.reply().substr(0, 3), "250");
  EXPECT_EQ(a.reply().substr(0, 9), "530 5.7.0");
}

TEST_F(ServerTest, LoopsResponsiveSeesEachLoopComeRound) {
  TestPolicy policy;
  startServer(policy);
  EXPECT_TRUE(server_->loopsResponsive());  // posts the first probe
  // The loop runs the probe soon; until it has, the answer is false, never a crash.
  bool ran = false;
  for (int i = 0; i < 1000 && !ran; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ran = server_->loopsResponsive();
  }
  EXPECT_TRUE(ran);
}

TEST(MetricsTest, CountRepliesCountsEachReplyOnceByItsLastLine) {
  Metrics m;
  m.countReplies("250-mx.test\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n");
  m.countReplies("354 End data with <CR><LF>.<CR><LF>\r\n");
  m.countReplies("451 4.3.0 Error: try again later\r\n550 5.1.1 no such user\r\n");
  m.countReplies("421 4.3.2 mx.test Service shutting down\r\n");
  EXPECT_EQ(m.replies_2xx.load(), 1u);
  EXPECT_EQ(m.replies_3xx.load(), 1u);
  EXPECT_EQ(m.replies_4xx.load(), 2u);
  EXPECT_EQ(m.replies_5xx.load(), 1u);
}

}  // namespace mx::server
