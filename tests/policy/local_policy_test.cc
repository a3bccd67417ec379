// Tests for policy/local_policy: every stage's verdict through the Policy interface —
// recipient routing (tenant, relay protection, several tenants per transaction, storage low),
// passwords checked on the worker thread (the answer never arrives on the asking thread),
// connect/HELO/MAIL/end of data accepted, and the directory swapped for later queries.
#include "policy/local_policy.h"

#include <gtest/gtest.h>

#include <future>
#include <optional>
#include <thread>

namespace mx::policy {
namespace {

using smtp::ReplyId;
using smtp::Verdict;

// `openssl passwd -6 -salt testsalt secret`
constexpr const char* kSecretHash =
    "$6$testsalt$51yaaBMXXXt5vK522YOlIMZ267vqHtMIzc2klcsu3EEv/bkRDU9g3UmkypXf.NvlpPpIPK1nX5zdbCeJBiQbB/";

DirectoryPtr makeDirectory(const std::string& acme_domain = "acme.test") {
  std::string err;
  auto d = Directory::build({{"acme", {acme_domain}}, {"beta", {"beta.test"}}},
                            {{"alice", kSecretHash, "beta"}}, &err);
  EXPECT_TRUE(d) << err;
  return d;
}

struct Answer {
  Verdict verdict = Verdict::accept();
  std::thread::id thread;
};

// Asks and waits for the answer, wherever it comes from.
Answer ask(Policy& p, Stage stage, const Envelope& env, std::string_view arg = {},
           const smtp::AuthRequest* auth = nullptr) {
  std::promise<Answer> got;
  auto f = got.get_future();
  p.check(Query{stage, env, arg, auth, 0, MonoTime{}},
          [&got](Verdict v) { got.set_value(Answer{std::move(v), std::this_thread::get_id()}); });
  return f.get();
}

TEST(LocalPolicy, RecipientVerdicts) {
  LocalPolicy p(makeDirectory(), nullptr);
  Envelope env;
  Answer a = ask(p, Stage::kRcptTo, env, "bob@ACME.test");
  ASSERT_TRUE(a.verdict.accepted());
  EXPECT_EQ(a.verdict.tenant(), "acme");
  EXPECT_EQ(a.thread, std::this_thread::get_id());  // a local answer comes at once

  a = ask(p, Stage::kRcptTo, env, "x@elsewhere.example");
  EXPECT_FALSE(a.verdict.accepted());
  EXPECT_EQ(a.verdict.reply(), ReplyId::kRelayDenied);
  EXPECT_FALSE(a.verdict.transient());

  a = ask(p, Stage::kRcptTo, env, "nodomain");
  EXPECT_EQ(a.verdict.reply(), ReplyId::kRecipientNeedsDomain);

  // An authenticated submitter may address anyone, for its own tenant.
  Envelope authed;
  authed.auth_user = "alice";
  a = ask(p, Stage::kRcptTo, authed, "x@elsewhere.example");
  ASSERT_TRUE(a.verdict.accepted());
  EXPECT_EQ(a.verdict.tenant(), "beta");
}

TEST(LocalPolicy, SeveralTenantsShareATransaction) {
  LocalPolicy p(makeDirectory(), nullptr);
  Envelope env;
  env.rcpt_to = {"bob@acme.test"};
  env.rcpt_tenants = {"acme"};
  env.tenant = "acme";
  EXPECT_TRUE(ask(p, Stage::kRcptTo, env, "carol@acme.test").verdict.accepted());
  Answer a = ask(p, Stage::kRcptTo, env, "dave@beta.test");  // no more 452 for another tenant
  ASSERT_TRUE(a.verdict.accepted());
  EXPECT_EQ(a.verdict.tenant(), "beta");
}

TEST(LocalPolicy, EndOfDataChecksEveryTenantsSizeLimit) {
  TenantConfig acme{"acme", {"acme.test"}}, beta{"beta", {"beta.test"}};
  beta.max_message_size = 10;
  std::string err;
  LocalPolicy p(Directory::build({acme, beta}, {}, &err), nullptr);
  Envelope env;
  env.tenant = "acme";
  env.rcpt_to = {"bob@acme.test", "eve@beta.test"};
  env.rcpt_tenants = {"acme", "beta"};
  auto eod = [&p, &env](uint64_t size) {
    std::promise<Verdict> got;
    p.check(Query{Stage::kEndOfData, env, {}, nullptr, size, MonoTime{}}, [&got](Verdict v) { got.set_value(v); });
    return got.get_future().get();
  };
  EXPECT_TRUE(eod(10).accepted());
  EXPECT_EQ(eod(11).reply(), ReplyId::kMessageTooBig);  // beta's limit refuses the whole message
  env.rcpt_to = {"bob@acme.test"};
  env.rcpt_tenants = {"acme"};
  EXPECT_TRUE(eod(11).accepted());
}

TEST(LocalPolicy, StorageLowDefersRecipients) {
  uint64_t free_bytes = 100;
  StorageGuard guard("/spool", 1000, [&free_bytes](const std::string&) { return std::optional<uint64_t>(free_bytes); },
                     std::chrono::milliseconds(0));
  LocalPolicy p(makeDirectory(), &guard);
  Envelope env;
  Answer a = ask(p, Stage::kRcptTo, env, "bob@acme.test");
  EXPECT_EQ(a.verdict.reply(), ReplyId::kInsufficientStorage);
  EXPECT_TRUE(a.verdict.transient());
  // Relay protection still comes first: a stranger gets 550, not 452.
  EXPECT_EQ(ask(p, Stage::kRcptTo, env, "x@else.example").verdict.reply(), ReplyId::kRelayDenied);
  free_bytes = 5000;
  EXPECT_TRUE(ask(p, Stage::kRcptTo, env, "bob@acme.test").verdict.accepted());
}

TEST(LocalPolicy, PasswordsAreCheckedOnTheWorker) {
  LocalPolicy p(makeDirectory(), nullptr);
  Envelope env;
  smtp::AuthRequest good{"PLAIN", "", "alice", "secret"};
  Answer a = ask(p, Stage::kAuth, env, {}, &good);
  EXPECT_TRUE(a.verdict.accepted());
  EXPECT_NE(a.thread, std::this_thread::get_id());

  smtp::AuthRequest bad{"LOGIN", "", "alice", "wrong"};
  a = ask(p, Stage::kAuth, env, {}, &bad);
  EXPECT_EQ(a.verdict.reply(), ReplyId::kAuthFailed);
  smtp::AuthRequest unknown{"PLAIN", "", "mallory", "secret"};
  EXPECT_EQ(ask(p, Stage::kAuth, env, {}, &unknown).verdict.reply(), ReplyId::kAuthFailed);
  // PLAIN with an authorization identity other than the user's own.
  smtp::AuthRequest other{"PLAIN", "root", "alice", "secret"};
  EXPECT_EQ(ask(p, Stage::kAuth, env, {}, &other).verdict.reply(), ReplyId::kAuthFailed);
  smtp::AuthRequest self{"PLAIN", "alice", "alice", "secret"};
  EXPECT_TRUE(ask(p, Stage::kAuth, env, {}, &self).verdict.accepted());
}

TEST(LocalPolicy, QueuedPasswordChecksAllAnswerBeforeDestruction) {
  std::atomic<int> answered{0};
  smtp::AuthRequest good{"PLAIN", "", "alice", "secret"};
  Envelope env;
  {
    LocalPolicy p(makeDirectory(), nullptr);
    for (int i = 0; i < 5; ++i) {
      p.check(Query{Stage::kAuth, env, {}, &good, 0, MonoTime{}}, [&answered](Verdict v) {
        if (v.accepted()) answered.fetch_add(1);
      });
    }
  }
  EXPECT_EQ(answered.load(), 5);
}

TEST(LocalPolicy, OtherStagesAccept) {
  LocalPolicy p(makeDirectory(), nullptr);
  Envelope env;
  for (Stage s : {Stage::kConnect, Stage::kHelo, Stage::kMailFrom, Stage::kEndOfData}) {
    EXPECT_TRUE(ask(p, s, env, "x").verdict.accepted()) << stageName(s);
  }
}

TEST(LocalPolicy, SetDirectoryAppliesToLaterQueries) {
  LocalPolicy p(makeDirectory(), nullptr);
  Envelope env;
  EXPECT_FALSE(ask(p, Stage::kRcptTo, env, "bob@new.test").verdict.accepted());
  p.setDirectory(makeDirectory("new.test"));
  Answer a = ask(p, Stage::kRcptTo, env, "bob@new.test");
  ASSERT_TRUE(a.verdict.accepted());
  EXPECT_EQ(a.verdict.tenant(), "acme");
}

}  // namespace
}  // namespace mx::policy
