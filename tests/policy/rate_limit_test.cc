// Tests for policy/rate_limits: the sliding-window maths with a manual clock (walking each
// limit across its boundary), the local limiter (all-or-nothing decisions, bounded memory
// with idle keys evicted first, concurrent callers), the key helpers (client network, sender
// domain), the [[rate_limit]] cross-field rules, and the RateLimitPolicy decorator's verdict
// at every stage (421 4.7.0 at connect, 451 4.7.1 after; fail_closed's 451/421 4.7.1; only
// what the wrapped policy accepted is counted).
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "policy/local_policy.h"
#include "policy/rate_limits/local/local_rate_limiter.h"
#include "policy/rate_limits/rate_limit_config.h"
#include "policy/rate_limits/rate_limit_policy.h"

namespace mx::policy {
namespace {

using smtp::ReplyId;
using smtp::Verdict;
using std::chrono::milliseconds;

MonoTime at(int64_t ms) { return MonoTime{milliseconds(ms)}; }

RateCheck check(const std::string& key, uint64_t limit, int64_t window_ms = 1000, uint64_t cost = 1,
                const std::string& name = "l") {
  return RateCheck{name, key, limit, milliseconds(window_ms), cost};
}

TEST(SlidingWindow, EstimateWeighsThePreviousWindow) {
  SlidingWindow w;
  w.roll(1000, 1000);  // window 1
  w.current = 10;
  w.roll(2000, 1000);  // window 2: the 10 are the previous window, fully weighted at its start
  EXPECT_DOUBLE_EQ(w.estimate(2000, 1000), 10.0);
  EXPECT_DOUBLE_EQ(w.estimate(2250, 1000), 7.5);
  EXPECT_DOUBLE_EQ(w.estimate(2999, 1000), 0.01 * 1);
  w.roll(3500, 1000);  // window 3: window 2 had nothing
  EXPECT_DOUBLE_EQ(w.estimate(3500, 1000), 0.0);
  w.current = 4;
  w.roll(5000, 1000);  // a gap of a whole window forgets everything
  EXPECT_EQ(w.previous, 0u);
  EXPECT_TRUE(w.idle(5000, 1000));
}

TEST(LocalRateLimiter, WalksTheLimitAcrossItsBoundary) {
  LocalRateLimiter rl;
  // 3 per second: the 3rd is allowed, the 4th refused, all within one window.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(rl.decideNow({check("a", 3)}, at(10'000 + i)).allowed()) << i;
  RateDecision d = rl.decideNow({check("a", 3)}, at(10'003));
  EXPECT_FALSE(d.allowed());
  EXPECT_EQ(d.refused, 0);
  EXPECT_FALSE(d.backend_error);
  // Another key and another limit name count apart.
  EXPECT_TRUE(rl.decideNow({check("b", 3)}, at(10'004)).allowed());
  EXPECT_TRUE(rl.decideNow({check("a", 3, 1000, 1, "other")}, at(10'004)).allowed());
  // Next window, 1 ms in: the previous 3 still weigh 2.997 -> a 4th would exceed.
  EXPECT_FALSE(rl.decideNow({check("a", 3)}, at(11'001)).allowed());
  // A third of the way in: 3 * 2/3 = 2 -> exactly one more fits (2 + 1 <= 3), then none.
  EXPECT_TRUE(rl.decideNow({check("a", 3)}, at(11'334)).allowed());
  EXPECT_FALSE(rl.decideNow({check("a", 3)}, at(11'340)).allowed());
  // Two windows later everything has aged out: the full budget again.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(rl.decideNow({check("a", 3)}, at(13'000 + i)).allowed());
  EXPECT_FALSE(rl.decideNow({check("a", 3)}, at(13'010)).allowed());
}

TEST(LocalRateLimiter, ADecisionIsAllOrNothing) {
  LocalRateLimiter rl;
  EXPECT_TRUE(rl.decideNow({check("x", 1, 1000, 1, "tight")}, at(0)).allowed());
  // "loose" would allow, "tight" refuses: nothing is charged to "loose".
  for (int i = 0; i < 5; ++i) {
    RateDecision d = rl.decideNow({check("x", 2, 1000, 1, "loose"), check("x", 1, 1000, 1, "tight")}, at(10 + i));
    EXPECT_EQ(d.refused, 1);
  }
  EXPECT_TRUE(rl.decideNow({check("x", 2, 1000, 1, "loose")}, at(20)).allowed());
  EXPECT_TRUE(rl.decideNow({check("x", 2, 1000, 1, "loose")}, at(21)).allowed());
  EXPECT_FALSE(rl.decideNow({check("x", 2, 1000, 1, "loose")}, at(22)).allowed());
  EXPECT_TRUE(rl.decideNow({}, at(23)).allowed());
}

TEST(LocalRateLimiter, BytesCostAndAMessageLargerThanTheBudget) {
  LocalRateLimiter rl;
  // 1000 bytes per second: 600 + 400 fit, then 1 byte does not.
  EXPECT_TRUE(rl.decideNow({check("k", 1000, 1000, 600)}, at(0)).allowed());
  EXPECT_TRUE(rl.decideNow({check("k", 1000, 1000, 400)}, at(1)).allowed());
  EXPECT_FALSE(rl.decideNow({check("k", 1000, 1000, 1)}, at(2)).allowed());
  // 5000 bytes against a 1000-byte budget: only into an empty window.
  EXPECT_FALSE(rl.decideNow({check("k", 1000, 1000, 5000)}, at(1500)).allowed());
  EXPECT_TRUE(rl.decideNow({check("k", 1000, 1000, 5000)}, at(3000)).allowed());
  EXPECT_FALSE(rl.decideNow({check("k", 1000, 1000, 1)}, at(3001)).allowed());
}

TEST(LocalRateLimiter, MemoryIsBoundedAndIdleKeysGoFirst) {
  LocalRateLimiter rl(/*max_keys=*/160);  // 10 per shard
  for (int i = 0; i < 5000; ++i) rl.decideNow({check("k" + std::to_string(i), 5)}, at(0));
  EXPECT_LE(rl.sizeForTest(), 160u);
  EXPECT_GT(rl.evictionsForTest(), 0u);  // all were live: the least recently used went
  const uint64_t lossy = rl.evictionsForTest();
  // Ten seconds later every counter is idle: new keys replace them losslessly.
  for (int i = 0; i < 5000; ++i) rl.decideNow({check("n" + std::to_string(i), 5)}, at(10'000 + i / 1000));
  EXPECT_LE(rl.sizeForTest(), 160u);
  EXPECT_LT(rl.evictionsForTest() - lossy, 5000u);
}

TEST(LocalRateLimiter, ConcurrentCallersNeverExceedTheLimit) {
  LocalRateLimiter rl;
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        rl.decide({check("shared", 1000, 60'000)}, at(5), [&](RateDecision d) { allowed += d.allowed() ? 1 : 0; });
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 1000);
}

TEST(RateLimitKeys, ClientNetworkAndSenderDomain) {
  EXPECT_EQ(clientNetwork("192.0.2.77"), "192.0.2.0/24");
  EXPECT_EQ(clientNetwork("::ffff:198.51.100.9"), "198.51.100.0/24");
  EXPECT_EQ(clientNetwork("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  EXPECT_EQ(clientNetwork("not-an-ip"), "not-an-ip");
  EXPECT_EQ(addressDomain("Bob@Example.COM."), "example.com");
  EXPECT_EQ(addressDomain("postmaster"), "postmaster");
}

RateLimitConfig limitConfig(std::string key, uint32_t messages, uint32_t connections = 0) {
  RateLimitConfig c;
  c.name = "x";
  c.key = std::move(key);
  c.messages = messages;
  c.connections = connections;
  return c;
}

TEST(RateLimitConfig, CrossFieldRules) {
  EXPECT_TRUE(checkRateLimit(limitConfig("client_ip", 10)).empty());
  auto none = checkRateLimit(limitConfig("client_ip", 0));
  ASSERT_EQ(none.size(), 1u);
  EXPECT_NE(none[0].message.find("one of connections, messages"), std::string::npos);
  auto both = checkRateLimit(limitConfig("client_ip", 10, 5));
  ASSERT_EQ(both.size(), 1u);
  EXPECT_NE(both[0].message.find("exactly one"), std::string::npos);
  auto conn = checkRateLimit(limitConfig("sender_domain", 0, 5));
  ASSERT_EQ(conn.size(), 1u);
  EXPECT_EQ(conn[0].key, "key");
  EXPECT_EQ(checkRateLimit(limitConfig("ip", 10)).at(0).key, "key");
  RateLimitConfig zero = limitConfig("client_ip", 10);
  zero.per = milliseconds(0);
  EXPECT_EQ(checkRateLimit(zero).at(0).key, "per");

  RateLimit l = toRateLimit(limitConfig("tenant", 7));
  EXPECT_EQ(l.quantity, RateQuantity::kMessages);
  EXPECT_EQ(l.key, RateKey::kTenant);
  EXPECT_EQ(l.limit, 7u);
  EXPECT_EQ(RateLimitPolicy::stageOf(l), Stage::kEndOfData);
  EXPECT_EQ(RateLimitPolicy::stageOf(toRateLimit(limitConfig("client_ip", 7))), Stage::kMailFrom);
}

// ---- the decorator -----------------------------------------------------------------------

// A limiter that answers as told and records what it was asked.
class ScriptedLimiter final : public RateLimiter {
 public:
  void decide(std::vector<RateCheck> checks, MonoTime now, RateDecisionCallback done) override {
    asked.push_back(checks);
    if (mode == kBackendError) {
      done(RateDecision{-1, true, false});
    } else {
      done(local.decideNow(checks, now));
    }
  }
  enum Mode { kLocal, kBackendError } mode = kLocal;
  LocalRateLimiter local;
  std::vector<std::vector<RateCheck>> asked;
};

DirectoryPtr directory() {
  std::string err;
  return Directory::build({{"acme", {"acme.test"}, {}}, {"beta", {"beta.test"}, {}}}, {}, &err);
}

RateLimit limit(const std::string& name, RateKey key, RateQuantity q, uint64_t n) {
  return RateLimit{name, key, q, n, milliseconds(60'000)};
}

Verdict ask(Policy& p, Stage stage, const Envelope& env, std::string_view arg = {}, uint64_t size = 0) {
  std::promise<Verdict> got;
  p.check(Query{stage, env, arg, nullptr, size, at(1000)}, [&got](Verdict v) { got.set_value(std::move(v)); });
  return got.get_future().get();
}

struct DecoratorTest : ::testing::Test {
  LocalPolicy inner{directory(), nullptr};
  std::shared_ptr<ScriptedLimiter> limiter = std::make_shared<ScriptedLimiter>();
  Envelope env;
  DecoratorTest() { env.client_ip = "192.0.2.7"; }
};

TEST_F(DecoratorTest, ConnectionsAreRefusedWith421AtConnect) {
  RateLimitPolicy p(inner, limiter, {limit("conn", RateKey::kClientNet, RateQuantity::kConnections, 2)});
  EXPECT_TRUE(ask(p, Stage::kConnect, env).accepted());
  env.client_ip = "192.0.2.8";  // the same /24
  EXPECT_TRUE(ask(p, Stage::kConnect, env).accepted());
  Verdict v = ask(p, Stage::kConnect, env);
  ASSERT_FALSE(v.accepted());
  EXPECT_EQ(v.reply(), ReplyId::kConnectionRateLimited);
  std::string reply;
  smtp::appendReply(reply, v.reply(), "mx.test");
  EXPECT_EQ(reply, "421 4.7.0 mx.test Error: connection rate limit exceeded, try again later\r\n");
  env.client_ip = "198.51.100.1";
  EXPECT_TRUE(ask(p, Stage::kConnect, env).accepted());
  EXPECT_EQ(limiter->asked.back().at(0).key, "198.51.100.0/24");
  // No limit counts at HELO: the limiter is not asked.
  const size_t asked = limiter->asked.size();
  EXPECT_TRUE(ask(p, Stage::kHelo, env, "client.example").accepted());
  EXPECT_EQ(limiter->asked.size(), asked);
}

TEST_F(DecoratorTest, MessagesBySenderDomainAt451AtMailFrom) {
  RateLimitPolicy p(inner, limiter, {limit("sender", RateKey::kSenderDomain, RateQuantity::kMessages, 1)});
  EXPECT_TRUE(ask(p, Stage::kMailFrom, env, "a@Sender.example").accepted());
  Verdict v = ask(p, Stage::kMailFrom, env, "b@sender.EXAMPLE");
  EXPECT_EQ(v.reply(), ReplyId::kRateLimited);
  std::string reply;
  smtp::appendReply(reply, v.reply(), "mx.test");
  EXPECT_EQ(reply, "451 4.7.1 Error: rate limit exceeded, try again later\r\n");
  // The null reverse-path has no domain: not counted.
  EXPECT_TRUE(ask(p, Stage::kMailFrom, env, "").accepted());
  EXPECT_TRUE(ask(p, Stage::kMailFrom, env, "c@other.example").accepted());
}

TEST_F(DecoratorTest, RecipientsCountOnlyAcceptedOnesPerTenant) {
  RateLimitPolicy p(inner, limiter, {limit("rcpt", RateKey::kTenant, RateQuantity::kRecipients, 2)});
  Verdict relay = ask(p, Stage::kRcptTo, env, "x@elsewhere.example");
  EXPECT_EQ(relay.reply(), ReplyId::kRelayDenied);  // the wrapped policy's refusal, uncounted
  EXPECT_TRUE(limiter->asked.empty());
  Verdict a = ask(p, Stage::kRcptTo, env, "a@acme.test");
  ASSERT_TRUE(a.accepted());
  EXPECT_EQ(a.tenant(), "acme");  // the wrapped policy's routing survives
  EXPECT_EQ(limiter->asked.back().at(0).key, "acme");
  EXPECT_TRUE(ask(p, Stage::kRcptTo, env, "b@acme.test").accepted());
  EXPECT_EQ(ask(p, Stage::kRcptTo, env, "c@acme.test").reply(), ReplyId::kRateLimited);
  EXPECT_TRUE(ask(p, Stage::kRcptTo, env, "c@beta.test").accepted());  // another tenant's budget
}

TEST_F(DecoratorTest, BytesAndTenantMessagesAtEndOfData) {
  RateLimitPolicy p(inner, limiter,
                    {limit("bytes", RateKey::kClientIp, RateQuantity::kBytes, 1000),
                     limit("dom", RateKey::kRecipientDomain, RateQuantity::kMessages, 5)});
  env.tenant = "acme";
  env.rcpt_to = {"a@acme.test", "b@ACME.test", "c@beta.test"};
  EXPECT_TRUE(ask(p, Stage::kMailFrom, env, "s@x.example").accepted());  // nothing counts at MAIL here
  EXPECT_TRUE(limiter->asked.empty());
  EXPECT_TRUE(ask(p, Stage::kEndOfData, env, {}, 700).accepted());
  ASSERT_EQ(limiter->asked.back().size(), 3u);  // bytes by IP, then each recipient domain once
  EXPECT_EQ(limiter->asked.back()[0].cost, 700u);
  EXPECT_EQ(limiter->asked.back()[1].key, "acme.test");
  EXPECT_EQ(limiter->asked.back()[2].key, "beta.test");
  EXPECT_EQ(ask(p, Stage::kEndOfData, env, {}, 400).reply(), ReplyId::kRateLimited);
  std::string m = p.renderMetrics();
  EXPECT_NE(m.find("mxgate_rate_limit_refusals_total{limit=\"bytes\"} 1"), std::string::npos) << m;
  EXPECT_NE(m.find("mxgate_rate_limit_decisions_total{limit=\"dom\"} 2"), std::string::npos) << m;
}

TEST_F(DecoratorTest, FailClosedAnswers451Or421With471) {
  limiter->mode = ScriptedLimiter::kBackendError;
  RateLimitPolicy p(inner, limiter,
                    {limit("conn", RateKey::kClientIp, RateQuantity::kConnections, 10),
                     limit("user", RateKey::kUser, RateQuantity::kMessages, 10)});
  EXPECT_EQ(ask(p, Stage::kConnect, env).reply(), ReplyId::kRateLimitUnavailableClose);
  // Unauthenticated: a `user` limit does not apply, so no backend is needed.
  EXPECT_TRUE(ask(p, Stage::kMailFrom, env, "s@x.example").accepted());
  env.auth_user = "alice";
  Verdict v = ask(p, Stage::kMailFrom, env, "s@x.example");
  EXPECT_EQ(v.reply(), ReplyId::kRateLimitUnavailable);
  EXPECT_TRUE(v.transient());
  std::string reply;
  smtp::appendReply(reply, v.reply(), "mx.test");
  EXPECT_EQ(reply, "451 4.7.1 Error: rate limit check unavailable, try again later\r\n");
  EXPECT_NE(p.renderMetrics().find("mxgate_rate_limit_backend_errors_total{limit=\"user\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace mx::policy
