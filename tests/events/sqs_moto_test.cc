// tests/events/sqs_moto_test.cc — SqsSink over the real http::BeastClient against moto's SQS
// (AWS JSON 1.0 protocol) with signature enforcement (tests/support/moto_server.h): one moto
// for the whole binary. A standard and a FIFO queue are created with the test's own signed
// JSON calls; events are published, read back with ReceiveMessage (bodies, attributes, FIFO
// group and deduplication ids), a resend of a FIFO batch is deduplicated; a wrong secret maps
// to kConfig and a missing queue to kNotFound. moto cannot produce a per-entry failure for
// what the sink sends (its SendMessageBatch only fails entries for DelaySeconds, which the
// sink never sets; every other check fails the whole request), so partial failures are
// covered by sqs_sink_test.cc with the FakeHttpClient.
// Skips, saying so, when moto is not importable. Registered with plain add_test.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "events/sqs/sqs_sink.h"
#include "tests/support/moto_server.h"

namespace mx::events {
namespace {

using namespace std::chrono_literals;

struct Env {
  testing::MotoServer moto;
  bool up = false;
  std::string why;
  aws::Credentials creds;
};
Env& env() {
  static Env e;
  return e;
}

class MotoEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    Env& e = env();
    if (!e.moto.start()) {
      e.why = e.moto.why();
      return;
    }
    auto c = e.moto.bootstrapCredentials();
    if (!c.ok()) {
      e.why = c.error().message();
      return;
    }
    e.creds = *c;
    e.up = true;
  }
  void TearDown() override { env().moto.stop(); }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new MotoEnvironment);

class StaticCredentials final : public aws::CredentialsProvider {
 public:
  explicit StaticCredentials(aws::Credentials c) : c_(std::move(c)) {}
  Result<aws::Credentials> current() override { return c_; }
  void get(std::function<void(Result<aws::Credentials>)> done) override { done(c_); }
  std::string_view source() const override { return "config"; }

 private:
  aws::Credentials c_;
};

class SqsMotoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!env().up) GTEST_SKIP() << env().why;
  }

  // One AWS JSON 1.0 SQS call signed with the good key.
  nlohmann::json call(const std::string& action, const nlohmann::json& body) {
    http::Request req{"POST",
                      env().moto.url("/"),
                      {{"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", "AmazonSQS." + action}},
                      body.dump(),
                      10s};
    aws::Signer({"us-east-1", "sqs", false}).sign(req, env().creds, RealClock().wall());
    auto r = http::sendAndWait(env().moto.http(), std::move(req));
    EXPECT_TRUE(r.ok() && r->status == 200) << action << ": " << (r.ok() ? r->body : r.error().message());
    return r.ok() ? nlohmann::json::parse(r->body, nullptr, false) : nlohmann::json();
  }

  std::string createQueue(const std::string& name, bool fifo) {
    nlohmann::json body = {{"QueueName", name}};
    if (fifo) body["Attributes"] = {{"FifoQueue", "true"}, {"ContentBasedDeduplication", "false"}};
    return call("CreateQueue", body)["QueueUrl"].get<std::string>();
  }

  // Every message now in the queue, received and deleted (a FIFO group stays locked while one
  // of its messages is in flight).
  std::vector<nlohmann::json> receiveAll(const std::string& queue_url, size_t expected) {
    std::vector<nlohmann::json> out;
    for (int i = 0; i < 20 && out.size() < expected; ++i) {
      nlohmann::json r = call("ReceiveMessage", {{"QueueUrl", queue_url},
                                                 {"MaxNumberOfMessages", 10},
                                                 {"MessageAttributeNames", {"All"}},
                                                 {"MessageSystemAttributeNames", {"All"}},
                                                 {"AttributeNames", {"All"}},
                                                 {"WaitTimeSeconds", 0}});
      if (!r.contains("Messages")) break;
      for (const auto& m : r["Messages"]) {
        out.push_back(m);
        call("DeleteMessage", {{"QueueUrl", queue_url}, {"ReceiptHandle", m["ReceiptHandle"]}});
      }
    }
    return out;
  }

  std::unique_ptr<SqsSink> sink(const std::string& queue_url, aws::CredentialsProvider& creds) {
    SqsSinkOptions o;
    o.queue_url = queue_url;
    o.region = "us-east-1";
    o.concurrency = 3;
    o.timeout = 10s;
    auto s = SqsSink::open(env().moto.http(), creds, o);
    EXPECT_TRUE(s.ok()) << s.error().message();
    return s.ok() ? std::move(*s) : nullptr;
  }

  static Event event(const std::string& id, const std::string& tenant) {
    return Event{id, "mxgate.message.received", tenant,
                 R"({"specversion":"1.0","id":")" + id + R"(","data":{"subject":"caf\u00e9 \"q\" <x>"}})"};
  }
};

TEST_F(SqsMotoTest, StandardQueueReceivesEveryEvent) {
  const std::string url = createQueue("mx-events", false);
  StaticCredentials creds(env().creds);
  auto s = sink(url, creds);
  ASSERT_TRUE(s);
  std::vector<Event> batch;
  for (int i = 0; i < 23; ++i) batch.push_back(event("01JXSTD" + std::to_string(i), i % 2 ? "acme" : "globex"));
  auto out = s->publishEach(batch);
  ASSERT_EQ(out.size(), batch.size());
  for (const Delivery& d : out) EXPECT_TRUE(d.status.ok()) << d.status.error().message();

  std::map<std::string, nlohmann::json> got;
  for (const auto& m : receiveAll(url, batch.size())) {
    nlohmann::json body = nlohmann::json::parse(m["Body"].get<std::string>());
    got[body["id"].get<std::string>()] = m;
  }
  ASSERT_EQ(got.size(), batch.size());
  for (const Event& e : batch) {
    const auto& m = got[e.id];
    EXPECT_EQ(m["Body"], e.json);
    EXPECT_EQ(m["MessageAttributes"]["type"]["StringValue"], e.type);
    EXPECT_EQ(m["MessageAttributes"]["tenant"]["StringValue"], e.tenant);
  }
}

TEST_F(SqsMotoTest, FifoQueueCarriesGroupAndDeduplicationIds) {
  const std::string url = createQueue("mx-events.fifo", true);
  StaticCredentials creds(env().creds);
  auto s = sink(url, creds);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->fifo());
  std::vector<Event> batch;
  for (int i = 0; i < 12; ++i) batch.push_back(event("01JXFIFO" + std::to_string(i), i < 6 ? "acme" : "globex"));
  for (const Delivery& d : s->publishEach(batch)) EXPECT_TRUE(d.status.ok()) << d.status.error().message();
  // At-least-once: the same batch again is dropped by SQS's deduplication window.
  for (const Delivery& d : s->publishEach(batch)) EXPECT_TRUE(d.status.ok()) << d.status.error().message();

  auto messages = receiveAll(url, batch.size() + 1);
  EXPECT_EQ(messages.size(), batch.size()) << "the resend was not deduplicated";
  std::set<std::string> ids;
  for (const auto& m : messages) {
    nlohmann::json body = nlohmann::json::parse(m["Body"].get<std::string>());
    const std::string id = body["id"].get<std::string>();
    ids.insert(id);
    EXPECT_EQ(m["Attributes"]["MessageDeduplicationId"], id);
    EXPECT_EQ(m["Attributes"]["MessageGroupId"], m["MessageAttributes"]["tenant"]["StringValue"]);
  }
  EXPECT_EQ(ids.size(), batch.size());
}

TEST_F(SqsMotoTest, WrongSecretIsAConfigError) {
  const std::string url = createQueue("mx-events-auth", false);
  aws::Credentials wrong = env().creds;
  wrong.secret_access_key = "not-the-secret";
  StaticCredentials creds(wrong);
  auto s = sink(url, creds);
  ASSERT_TRUE(s);
  auto out = s->publishEach(std::vector<Event>{event("01JXAUTH0", "acme"), event("01JXAUTH1", "acme")});
  for (const Delivery& d : out) {
    ASSERT_FALSE(d.status.ok());
    EXPECT_EQ(d.status.error().errorClass(), ErrorClass::kConfig) << d.status.error().message();
    // moto answers 403 SignatureDoesNotMatch: the code, not only the status, picks kConfig.
    EXPECT_NE(d.status.error().message().find("HTTP 403 SignatureDoesNotMatch"), std::string::npos)
        << d.status.error().message();
  }
  EXPECT_TRUE(receiveAll(url, 1).empty());
}

TEST_F(SqsMotoTest, MissingQueueIsNotFound) {
  StaticCredentials creds(env().creds);
  auto s = sink(env().moto.url("/123456789012/no-such-queue"), creds);
  ASSERT_TRUE(s);
  auto out = s->publishEach(std::vector<Event>{event("01JXNOQ", "acme")});
  ASSERT_FALSE(out[0].status.ok());
  EXPECT_EQ(out[0].status.error().errorClass(), ErrorClass::kNotFound) << out[0].status.error().message();
}

}  // namespace
}  // namespace mx::events
