// tests/policy/auth_limit_test.cc — AuthLimitPolicy (policy/auth_limits): failed AUTH per
// address and per user name, the growing delay, the lock-outs, what a success clears, the
// window and the lock-out ending (an injected clock), and that other stages pass through.
#include "policy/auth_limits/auth_limit_policy.h"

#include <gtest/gtest.h>

#include <future>
#include <string>
#include <vector>

namespace mx::policy {
namespace {

using smtp::ReplyId;
using smtp::Verdict;

// The wrapped policy: "good" is the password, anything else fails (535 AuthFailed); counts
// how often it was asked (a locked-out attempt must not reach it).
class Passwords final : public Policy {
 public:
  void check(const Query& q, VerdictCallback done) override {
    ++asked;
    if (q.stage != Stage::kAuth) {
      done(Verdict::accept());
      return;
    }
    done(q.auth->password == "good" ? Verdict::accept() : Verdict::refuse(ReplyId::kAuthFailed));
  }
  int asked = 0;
};

class AuthLimitTest : public ::testing::Test {
 protected:
  AuthLimitsSettings settings() {
    AuthLimitsSettings s;
    s.max_failures = 3;
    s.user_max_failures = 5;
    s.window = Millis(60'000);
    s.lockout = Millis(300'000);
    s.delay_base = Millis(0);  // the delay maths is checked through delayFor(); no waiting here
    s.delay_max = Millis(0);
    return s;
  }

  std::unique_ptr<AuthLimitPolicy> make(AuthLimitsSettings s) {
    return std::make_unique<AuthLimitPolicy>(
        inner, s, [this](std::string_view l) { logs.emplace_back(l); }, [this] { return now; });
  }

  Verdict auth(AuthLimitPolicy& p, const std::string& ip, const std::string& user, const std::string& password) {
    Envelope env;
    env.client_ip = ip;
    smtp::AuthRequest req{"PLAIN", "", user, password};
    Query q{Stage::kAuth, env, {}, &req, 0, now};
    std::promise<Verdict> got;
    auto f = got.get_future();
    p.check(q, [&got](Verdict v) { got.set_value(std::move(v)); });
    return f.get();
  }

  Passwords inner;
  MonoTime now = MonoTime() + std::chrono::hours(1);
  std::vector<std::string> logs;
};

TEST_F(AuthLimitTest, AnAddressIsLockedOutAfterMaxFailuresWithoutAskingThePasswordCheck) {
  auto p = make(settings());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(auth(*p, "192.0.2.1", "alice", "bad").reply(), ReplyId::kAuthFailed);
  EXPECT_TRUE(p->lockedOut("192.0.2.1", "alice"));
  const int asked = inner.asked;
  Verdict v = auth(*p, "192.0.2.1", "alice", "good");  // even the right password
  EXPECT_FALSE(v.accepted());
  EXPECT_EQ(v.reply(), ReplyId::kAuthLockedOut);
  EXPECT_EQ(inner.asked, asked) << "a locked-out attempt costs no password check";
  // Another address is not affected.
  EXPECT_TRUE(auth(*p, "192.0.2.2", "alice", "good").accepted());
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("192.0.2.1"), std::string::npos);
  EXPECT_NE(logs[0].find("alice"), std::string::npos);
  EXPECT_EQ(logs[0].find("bad"), std::string::npos) << "never the password";
}

TEST_F(AuthLimitTest, TheLockOutEndsAfterItsPeriodAndOldFailuresLeaveTheWindow) {
  auto p = make(settings());
  for (int i = 0; i < 3; ++i) auth(*p, "192.0.2.1", "alice", "bad");
  now += Millis(299'000);
  EXPECT_EQ(auth(*p, "192.0.2.1", "alice", "good").reply(), ReplyId::kAuthLockedOut);
  now += Millis(2'000);
  EXPECT_TRUE(auth(*p, "192.0.2.1", "alice", "good").accepted());
  // Two failures, then the window passes: two more do not lock out.
  auth(*p, "192.0.2.3", "bob", "bad");
  auth(*p, "192.0.2.3", "bob", "bad");
  now += Millis(61'000);
  auth(*p, "192.0.2.3", "bob", "bad");
  auth(*p, "192.0.2.3", "bob", "bad");
  EXPECT_FALSE(p->lockedOut("192.0.2.3", "bob"));
}

TEST_F(AuthLimitTest, ASuccessClearsTheAddressesFailures) {
  auto p = make(settings());
  auth(*p, "192.0.2.1", "alice", "bad");
  auth(*p, "192.0.2.1", "alice", "bad");
  EXPECT_TRUE(auth(*p, "192.0.2.1", "alice", "good").accepted());
  auth(*p, "192.0.2.1", "alice", "bad");
  auth(*p, "192.0.2.1", "alice", "bad");
  EXPECT_FALSE(p->lockedOut("192.0.2.1", "alice"));
}

TEST_F(AuthLimitTest, AUserUnderAttackLocksOutTheAddressesThatFailedForItButNotAGoodLoginElsewhere) {
  AuthLimitsSettings s = settings();
  s.max_failures = 100;  // only the per-user rule here
  auto p = make(s);
  // A distributed guess: five addresses, one failure each.
  for (int i = 1; i <= 5; ++i) auth(*p, "198.51.100." + std::to_string(i), "alice", "bad");
  // Each of them is now locked out for alice...
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(auth(*p, "198.51.100." + std::to_string(i), "alice", "good").reply(), ReplyId::kAuthLockedOut) << i;
  }
  // ...but not for another user, and alice from an address that never failed logs in.
  EXPECT_TRUE(auth(*p, "198.51.100.1", "bob", "good").accepted());
  EXPECT_TRUE(auth(*p, "203.0.113.7", "alice", "good").accepted());
}

TEST_F(AuthLimitTest, TheDelayDoublesPerFailureUpToTheMaximumAndCountsTheUsersFailuresToo) {
  AuthLimitsSettings s = settings();
  s.max_failures = 100;
  s.user_max_failures = 100;
  s.delay_base = Millis(1'000);
  s.delay_max = Millis(5'000);
  // Failures are recorded with the real delay only on the answer: use a policy without
  // delay to record them, and one with the delay settings to read the maths back.
  AuthLimitsSettings record = s;
  record.delay_base = Millis(0);
  auto p = make(record);
  EXPECT_EQ(p->delayFor("192.0.2.1", "alice"), Millis(0));
  auto q = make(s);
  EXPECT_EQ(q->delayFor("192.0.2.1", "alice"), Millis(0));
  auth(*q, "192.0.2.1", "alice", "bad");  // the first failure is answered at once (n was 0)
  EXPECT_EQ(q->delayFor("192.0.2.1", "alice"), Millis(1'000));
  EXPECT_EQ(q->delayFor("192.0.2.9", "alice"), Millis(1'000)) << "the user's failures count from anywhere";
  EXPECT_EQ(q->delayFor("192.0.2.1", "bob"), Millis(1'000)) << "the address's failures count for any user";
  EXPECT_EQ(q->delayFor("192.0.2.9", "bob"), Millis(0));
}

TEST_F(AuthLimitTest, OtherStagesAndTemporaryFailuresPassThroughUncounted) {
  auto p = make(settings());
  Envelope env;
  env.client_ip = "192.0.2.1";
  Query q{Stage::kRcptTo, env, "a@example.test", nullptr, 0, now};
  bool accepted = false;
  p->check(q, [&](Verdict v) { accepted = v.accepted(); });
  EXPECT_TRUE(accepted);
  AuthLimitsSettings off = settings();
  off.enabled = false;
  auto d = make(off);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(auth(*d, "192.0.2.1", "alice", "bad").reply(), ReplyId::kAuthFailed);
}

TEST_F(AuthLimitTest, MetricsCountFailuresRefusalsAndLockOuts) {
  auto p = make(settings());
  for (int i = 0; i < 4; ++i) auth(*p, "192.0.2.1", "alice", "bad");
  std::string m = p->renderMetrics();
  EXPECT_NE(m.find("mxgate_auth_limit_failures_total 3\n"), std::string::npos) << m;
  EXPECT_NE(m.find("mxgate_auth_limit_refusals_total 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("mxgate_auth_limit_lockouts_total{scope=\"address\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("mxgate_auth_limit_locked_addresses 1\n"), std::string::npos) << m;
}

}  // namespace
}  // namespace mx::policy
