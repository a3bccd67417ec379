// Tests for the recipient lookup ([tenant.recipients] rule = "lookup"): HttpRecipientLookup
// through the real Beast client against a small HTTP server in the test (port 0), behind
// CachingRecipientLookup with a manual clock, and LocalPolicy's verdicts from it — accept
// (200), reject (404: 550 5.1.1), timeout and other statuses (451 4.3.0, or accept with
// on_failure = "accept"), the cache (the server counts requests; TTLs on the manual clock),
// questions about one address sharing a request, and the bound on questions waiting. No
// wall-clock bounds: a timeout test only checks the outcome.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "../http/test_server.h"
#include "http/beast_client.h"
#include "policy/local_policy.h"
#include "policy/lookup/http_recipient_lookup.h"

namespace mx::policy {
namespace {

using smtp::ReplyId;
using smtp::Verdict;
using testing::TestReply;
using testing::TestRequest;
using testing::TestServer;

// Knows bob and alice; "slow" hangs until the server stops; "boom" is a 503.
TestReply directoryOf(const TestRequest& r) {
  const std::string& t = r.target;
  const std::string who = r.method == "POST" ? r.body : t;
  if (who.find("boom") != std::string::npos) return TestReply{503, "down"};
  if (who.find("slow") != std::string::npos) {
    TestReply h;
    h.hang = true;
    return h;
  }
  if (who.find("bob") != std::string::npos || who.find("alice") != std::string::npos) return TestReply{200, "ok"};
  return TestReply{404, "no such user"};
}

LookupSettings settingsFor(const TestServer& server) {
  LookupSettings s;
  s.url = server.url("/mx/recipient");
  s.timeout = Millis(300);
  s.positive_ttl = Millis(60'000);
  s.negative_ttl = Millis(10'000);
  return s;
}

LookupAnswer ask(RecipientLookup& l, const LookupSettings& s, const std::string& address,
                 const std::string& tenant = "acme") {
  std::promise<LookupAnswer> got;
  auto f = got.get_future();
  l.lookup(tenant, s, address, [&got](LookupAnswer a) { got.set_value(a); });
  return f.get();
}

class RecipientLookupTest : public ::testing::Test {
 protected:
  RecipientLookupTest() : server_(directoryOf), client_(http::makeHttpClient({})), http_(*client_) {}
  ~RecipientLookupTest() override {
    server_.stop();  // releases a hung request; its answer is a failure
    client_.reset();
  }
  TestServer server_;
  http::HttpClientPtr client_;
  HttpRecipientLookup http_;
  ManualClock clock_;
};

TEST_F(RecipientLookupTest, GetAsksWithTheEncodedAddressAndMapsTheStatus) {
  std::vector<TestRequest> seen;
  std::mutex mu;
  TestServer server([&](const TestRequest& r) {
    std::lock_guard lock(mu);
    seen.push_back(r);
    return directoryOf(r);
  });
  LookupSettings s = settingsFor(server);
  s.url = server.url("/mx/recipient?key=1");
  s.authorization = "Bearer t0ken";
  EXPECT_EQ(ask(http_, s, "bob@acme.test"), LookupAnswer::kExists);
  EXPECT_EQ(ask(http_, s, "carol+x y@acme.test"), LookupAnswer::kUnknown);
  EXPECT_EQ(ask(http_, s, "boom@acme.test"), LookupAnswer::kFailed);
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/mx/recipient?key=1&address=bob%40acme.test&tenant=acme");
  EXPECT_EQ(seen[0].header("authorization"), "Bearer t0ken");
  EXPECT_EQ(seen[1].target, "/mx/recipient?key=1&address=carol%2Bx%20y%40acme.test&tenant=acme");
}

TEST_F(RecipientLookupTest, PostSendsJson) {
  std::promise<TestRequest> got;
  TestServer server([&](const TestRequest& r) {
    got.set_value(r);
    return TestReply{404, ""};
  });
  LookupSettings s = settingsFor(server);
  s.method = "POST";
  EXPECT_EQ(ask(http_, s, "eve\"@acme.test", "t1"), LookupAnswer::kUnknown);
  TestRequest r = got.get_future().get();
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/mx/recipient");
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.body, "{\"address\":\"eve\\\"@acme.test\",\"tenant\":\"t1\"}");
}

TEST_F(RecipientLookupTest, TimeoutAndUnreachableFail) {
  const LookupSettings s = settingsFor(server_);
  EXPECT_EQ(ask(http_, s, "slow@acme.test"), LookupAnswer::kFailed);
  LookupSettings nowhere = s;
  nowhere.url = "http://127.0.0.1:1/x";  // nothing listens on port 1
  EXPECT_EQ(ask(http_, nowhere, "bob@acme.test"), LookupAnswer::kFailed);
}

TEST_F(RecipientLookupTest, CacheKeepsAnswersForTheirTtlAndNeverFailures) {
  CachingRecipientLookup cache(http_, clock_);
  const LookupSettings s = settingsFor(server_);
  EXPECT_EQ(ask(cache, s, "bob@acme.test"), LookupAnswer::kExists);
  EXPECT_EQ(ask(cache, s, "BOB@acme.test"), LookupAnswer::kExists);  // case-insensitive key
  EXPECT_EQ(ask(cache, s, "nobody@acme.test"), LookupAnswer::kUnknown);
  EXPECT_EQ(ask(cache, s, "nobody@acme.test"), LookupAnswer::kUnknown);
  EXPECT_EQ(server_.requests(), 2);
  EXPECT_EQ(ask(cache, s, "bob@acme.test", "other"), LookupAnswer::kExists);  // per tenant
  EXPECT_EQ(server_.requests(), 3);
  clock_.advance(Millis(10'001));  // past negative_ttl, within positive_ttl
  EXPECT_EQ(ask(cache, s, "bob@acme.test"), LookupAnswer::kExists);
  EXPECT_EQ(ask(cache, s, "nobody@acme.test"), LookupAnswer::kUnknown);
  EXPECT_EQ(server_.requests(), 4);
  clock_.advance(Millis(50'000));  // past positive_ttl
  EXPECT_EQ(ask(cache, s, "bob@acme.test"), LookupAnswer::kExists);
  EXPECT_EQ(server_.requests(), 5);
  EXPECT_EQ(ask(cache, s, "boom@acme.test"), LookupAnswer::kFailed);
  EXPECT_EQ(ask(cache, s, "boom@acme.test"), LookupAnswer::kFailed);
  EXPECT_EQ(server_.requests(), 7);
  const LookupCacheStats st = cache.stats();
  EXPECT_EQ(st.hits, 3u);
  EXPECT_EQ(st.misses, 7u);
  EXPECT_EQ(st.failures, 2u);
  EXPECT_NE(cache.renderMetrics().find("mxgate_recipient_lookups_total{result=\"hit\"} 3"), std::string::npos)
      << cache.renderMetrics();
}

TEST_F(RecipientLookupTest, CacheIsBoundedLeastRecentlyUsedFirst) {
  CachingRecipientLookup cache(http_, clock_);
  LookupSettings s = settingsFor(server_);
  s.cache_size = 2;
  ask(cache, s, "bob@acme.test");
  ask(cache, s, "alice@acme.test");
  ask(cache, s, "bob@acme.test");  // hit: bob is the newest now
  ask(cache, s, "x@acme.test");    // evicts alice
  EXPECT_EQ(server_.requests(), 3);
  ask(cache, s, "bob@acme.test");  // still there
  EXPECT_EQ(server_.requests(), 3);
  ask(cache, s, "alice@acme.test");  // asked again
  EXPECT_EQ(server_.requests(), 4);
  EXPECT_EQ(cache.stats().evictions, 2u);
}

// A backend that holds every question until released: deterministic concurrency.
class HeldLookup final : public RecipientLookup {
 public:
  void lookup(const std::string&, const LookupSettings&, const std::string& address, LookupCallback done) override {
    std::lock_guard lock(mu_);
    asked_.push_back(address);
    held_.push_back(std::move(done));
  }
  void releaseAll(LookupAnswer a) {
    std::vector<LookupCallback> h;
    {
      std::lock_guard lock(mu_);
      h.swap(held_);
    }
    for (auto& d : h) d(a);
  }
  std::vector<std::string> asked() {
    std::lock_guard lock(mu_);
    return asked_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> asked_;
  std::vector<LookupCallback> held_;
};

TEST(CachingRecipientLookup, QuestionsAboutOneAddressShareARequestAndPendingIsBounded) {
  HeldLookup backend;
  ManualClock clock;
  CachingRecipientLookup cache(backend, clock, /*max_pending=*/2);
  LookupSettings s;
  s.url = "http://app.test/";
  std::vector<LookupAnswer> answers;
  auto record = [&answers](LookupAnswer a) { answers.push_back(a); };
  cache.lookup("t", s, "a@x.test", record);
  cache.lookup("t", s, "A@x.test", record);  // joins the first
  cache.lookup("t", s, "b@x.test", record);
  cache.lookup("t", s, "c@x.test", record);  // a third distinct question: over the bound
  ASSERT_EQ(answers, std::vector<LookupAnswer>{LookupAnswer::kFailed});
  EXPECT_EQ(backend.asked(), (std::vector<std::string>{"a@x.test", "b@x.test"}));
  backend.releaseAll(LookupAnswer::kExists);
  EXPECT_EQ(answers.size(), 4u);
  const LookupCacheStats st = cache.stats();
  EXPECT_EQ(st.coalesced, 1u);
  EXPECT_EQ(st.overflows, 1u);
}

// LocalPolicy over the real lookup: the verdicts a client sees at RCPT.
class LookupPolicyTest : public RecipientLookupTest {
 protected:
  DirectoryPtr directory(const std::string& on_failure) {
    TenantConfig t{"acme", {"acme.test"}};
    t.recipients.rule = "lookup";
    t.recipients.addresses = {"sales"};  // known without asking
    t.recipients.url = server_.url("/mx/recipient");
    t.recipients.timeout = Millis(300);
    t.recipients.on_failure = on_failure;
    std::string err;
    auto d = Directory::build({t}, {}, &err);
    EXPECT_TRUE(d) << err;
    return d;
  }
  struct Answer {
    Verdict verdict = Verdict::accept();
    std::thread::id thread;
  };
  static Answer rcpt(Policy& p, std::string_view address) {
    Envelope env;
    std::promise<Answer> got;
    auto f = got.get_future();
    p.check(Query{Stage::kRcptTo, env, address, nullptr, 0, MonoTime{}}, [&got](Verdict v) {
      got.set_value(Answer{std::move(v), std::this_thread::get_id()});
    });
    return f.get();
  }
};

TEST_F(LookupPolicyTest, VerdictsFromTheApplication) {
  CachingRecipientLookup cache(http_, clock_);
  LocalPolicy p(directory("tempfail"), nullptr, &cache);
  Answer a = rcpt(p, "Bob+news@ACME.test");  // asked as bob@acme.test
  ASSERT_TRUE(a.verdict.accepted());
  EXPECT_EQ(a.verdict.tenant(), "acme");
  EXPECT_NE(a.thread, std::this_thread::get_id());  // answered on the client's thread
  a = rcpt(p, "carol@acme.test");
  EXPECT_EQ(a.verdict.reply(), ReplyId::kUnknownRecipient);
  a = rcpt(p, "boom@acme.test");
  EXPECT_EQ(a.verdict.reply(), ReplyId::kPolicyTempFail);
  EXPECT_TRUE(a.verdict.transient());
  a = rcpt(p, "slow@acme.test");
  EXPECT_EQ(a.verdict.reply(), ReplyId::kPolicyTempFail);
  a = rcpt(p, "sales@acme.test");  // the list answers first, at once
  EXPECT_TRUE(a.verdict.accepted());
  EXPECT_EQ(a.thread, std::this_thread::get_id());
  a = rcpt(p, "bob@acme.test");  // from the cache: at once
  EXPECT_TRUE(a.verdict.accepted());
  EXPECT_EQ(a.thread, std::this_thread::get_id());
  EXPECT_EQ(server_.requests(), 4);
}

TEST_F(LookupPolicyTest, OnFailureAcceptAccepts) {
  CachingRecipientLookup cache(http_, clock_);
  LocalPolicy p(directory("accept"), nullptr, &cache);
  EXPECT_TRUE(rcpt(p, "boom@acme.test").verdict.accepted());
  EXPECT_EQ(rcpt(p, "carol@acme.test").verdict.reply(), ReplyId::kUnknownRecipient);  // an answer is an answer
  LocalPolicy without(directory("tempfail"), nullptr, nullptr);
  EXPECT_EQ(rcpt(without, "bob@acme.test").verdict.reply(), ReplyId::kPolicyTempFail);
}

}  // namespace
}  // namespace mx::policy
