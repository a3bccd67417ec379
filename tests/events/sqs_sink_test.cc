// Tests for events/sqs/sqs_sink: options and region, the SendMessageBatch request (endpoint,
// target, JSON body read back with nlohmann-json, signature recomputed over what was sent),
// FIFO fields, splitting by count and by payload (across the 256 KiB edge), per-entry and
// whole-request outcomes, the sink-wide concurrency bound, and credentials failures —
// against the in-memory FakeHttpClient (tests/support), no network.
#include "events/sqs/sqs_sink.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "core/sha256.h"
#include "tests/support/fake_http_client.h"

namespace mx::events {
namespace {

using mx::testing::FakeCredentials;
using mx::testing::FakeHttpClient;
using namespace std::chrono_literals;

constexpr const char* kQueue = "https://sqs.eu-west-1.amazonaws.com/123456789012/mail-events";
constexpr const char* kFifo = "https://sqs.eu-west-1.amazonaws.com/123456789012/mail-events.fifo";

Event event(size_t i, std::string tenant = "acme", size_t body_bytes = 0) {
  std::string id = "01JXSQS" + std::to_string(i);
  std::string json = R"({"specversion":"1.0","id":")" + id + R"(","data":"\u00e9 \"q\")";
  if (body_bytes > json.size() + 2) json += std::string(body_bytes - json.size() - 2, 'x');
  json += "\"}";
  return Event{id, "mxgate.message.received", std::move(tenant), std::move(json)};
}

nlohmann::json bodyOf(const http::Request& r) { return nlohmann::json::parse(r.body); }

// A 200 answer: every entry of the request Successful.
http::Response allOk(const http::Request& r) {
  nlohmann::json in = bodyOf(r), out = {{"Successful", nlohmann::json::array()}};
  for (const auto& e : in["Entries"]) out["Successful"].push_back({{"Id", e["Id"]}, {"MessageId", "m"}});
  return FakeHttpClient::ok(out.dump());
}

http::Response answer(int status, std::string body, http::Headers headers = {}) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

class FailingCredentials final : public aws::CredentialsProvider {
 public:
  explicit FailingCredentials(ErrorClass c) : c_(c) {}
  Result<aws::Credentials> current() override { return Error(c_, "no credentials yet"); }
  void get(std::function<void(Result<aws::Credentials>)> done) override { done(Error(c_, "no credentials yet")); }
  std::string_view source() const override { return "imds"; }

 private:
  ErrorClass c_;
};

struct Fixture {
  explicit Fixture(std::string url = kQueue, uint32_t concurrency = 4) {
    SqsSinkOptions o;
    o.queue_url = std::move(url);
    o.concurrency = concurrency;
    o.timeout = 3s;
    o.clock = &clock;
    auto s = SqsSink::open(http, creds, o);
    EXPECT_TRUE(s.ok()) << s.error().message();
    sink = std::move(*s);
    http.setHandler([](const http::Request& r) -> Result<http::Response> { return allOk(r); });
  }
  ManualClock clock{WallTime{std::chrono::seconds{1'800'000'000}}};
  FakeHttpClient http;
  FakeCredentials creds;
  std::unique_ptr<SqsSink> sink;
};

TEST(SqsSink, RegionFromHost) {
  EXPECT_EQ(sqsRegionFromHost("sqs.eu-west-1.amazonaws.com"), "eu-west-1");
  EXPECT_EQ(sqsRegionFromHost("sqs.cn-north-1.amazonaws.com.cn"), "cn-north-1");
  EXPECT_EQ(sqsRegionFromHost("us-east-2.queue.amazonaws.com"), "us-east-2");
  EXPECT_EQ(sqsRegionFromHost("sqs.amazonaws.com"), std::nullopt);
  EXPECT_EQ(sqsRegionFromHost("sqs..amazonaws.com"), std::nullopt);
  EXPECT_EQ(sqsRegionFromHost("sqs.eu-west-1.amazonaws.com.evil.example"), std::nullopt);
  EXPECT_EQ(sqsRegionFromHost("127.0.0.1"), std::nullopt);
  EXPECT_EQ(sqsRegionFromHost("sqs.EU_WEST.amazonaws.com"), std::nullopt);
}

TEST(SqsSink, OpenValidates) {
  FakeHttpClient http;
  FakeCredentials creds;
  auto open = [&](std::string url, std::string region = "") {
    SqsSinkOptions o;
    o.queue_url = std::move(url);
    o.region = std::move(region);
    return SqsSink::open(http, creds, o);
  };
  auto custom = open("http://127.0.0.1:4566/000000000000/q");
  ASSERT_FALSE(custom.ok());
  EXPECT_EQ(custom.error().errorClass(), ErrorClass::kConfig);
  EXPECT_NE(custom.error().message().find("set region"), std::string::npos) << custom.error().message();
  EXPECT_NE(custom.error().message().find("queue_url \"http://127.0.0.1:4566/000000000000/q\""), std::string::npos);
  auto with_region = open("http://127.0.0.1:4566/000000000000/q", "us-east-1");
  ASSERT_TRUE(with_region.ok());
  EXPECT_EQ((*with_region)->region(), "us-east-1");
  EXPECT_EQ((*with_region)->endpoint(), "http://127.0.0.1:4566/");
  EXPECT_FALSE((*with_region)->fifo());
  auto aws = open(kFifo);
  ASSERT_TRUE(aws.ok());
  EXPECT_EQ((*aws)->region(), "eu-west-1");
  EXPECT_EQ((*aws)->endpoint(), "https://sqs.eu-west-1.amazonaws.com/");
  EXPECT_TRUE((*aws)->fifo());
  EXPECT_EQ((*aws)->maxBatch(), 40u);
  EXPECT_FALSE(open("https://sqs.eu-west-1.amazonaws.com/").ok());
  EXPECT_FALSE(open("https://sqs.eu-west-1.amazonaws.com/1/q?x=1").ok());
  EXPECT_FALSE(open("sqs.eu-west-1.amazonaws.com/1/q").ok());
}

TEST(SqsSink, RequestShapeAndSignature) {
  Fixture f;
  std::vector<Event> batch{event(0), event(1, "")};
  auto out = f.sink->publishEach(batch);
  ASSERT_EQ(out.size(), 2u);
  for (const auto& d : out) EXPECT_TRUE(d.status.ok()) << d.status.error().message();
  auto reqs = f.http.requests();
  ASSERT_EQ(reqs.size(), 1u);
  const http::Request& r = reqs[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "https://sqs.eu-west-1.amazonaws.com/");
  EXPECT_EQ(r.timeout, 3s);
  EXPECT_EQ(*r.header("x-amz-target"), "AmazonSQS.SendMessageBatch");
  EXPECT_EQ(*r.header("content-type"), "application/x-amz-json-1.0");
  EXPECT_EQ(*r.header("x-amz-date"), "20270115T080000Z");
  ASSERT_NE(r.header("authorization"), nullptr);
  EXPECT_EQ(r.header("authorization")
                ->rfind("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20270115/eu-west-1/sqs/aws4_request", 0),
            0u)
      << *r.header("authorization");
  // Signed over exactly what was sent: re-signing the sent request (less its signature)
  // reproduces the header. (The signer itself is checked against botocore in tests/aws.)
  http::Request resend = r;
  std::erase_if(resend.headers,
                [](const http::Header& h) { return h.name == "Authorization" || h.name == "x-amz-date"; });
  aws::Signer signer({"eu-west-1", "sqs", false});
  signer.sign(resend, FakeCredentials().current().value(), f.clock.wall());
  EXPECT_EQ(*resend.header("authorization"), *r.header("authorization"));

  nlohmann::json body = bodyOf(r);
  EXPECT_EQ(body["QueueUrl"], kQueue);
  ASSERT_EQ(body["Entries"].size(), 2u);
  const auto& e0 = body["Entries"][0];
  EXPECT_EQ(e0["Id"], "0");
  EXPECT_EQ(e0["MessageBody"], batch[0].json);
  EXPECT_EQ(e0["MessageAttributes"]["type"]["DataType"], "String");
  EXPECT_EQ(e0["MessageAttributes"]["type"]["StringValue"], "mxgate.message.received");
  EXPECT_EQ(e0["MessageAttributes"]["tenant"]["StringValue"], "acme");
  EXPECT_FALSE(e0.contains("MessageGroupId"));
  EXPECT_FALSE(e0.contains("MessageDeduplicationId"));
  const auto& e1 = body["Entries"][1];
  EXPECT_EQ(e1["Id"], "1");
  EXPECT_FALSE(e1["MessageAttributes"].contains("tenant")) << "SQS refuses empty attribute values";
}

TEST(SqsSink, FifoGroupAndDeduplication) {
  Fixture f(kFifo);
  const std::string odd_tenant = "ac me/\xc3\xa9";
  std::vector<Event> batch{event(0, "acme"), event(1, odd_tenant), event(2, "")};
  auto out = f.sink->publishEach(batch);
  for (const auto& d : out) EXPECT_TRUE(d.status.ok());
  nlohmann::json body = bodyOf(f.http.requests().at(0));
  EXPECT_EQ(body["Entries"][0]["MessageGroupId"], "acme");
  EXPECT_EQ(body["Entries"][0]["MessageDeduplicationId"], "01JXSQS0");
  EXPECT_EQ(body["Entries"][1]["MessageGroupId"], "h-" + sha256Hex(odd_tenant).substr(0, 40));
  EXPECT_EQ(body["Entries"][2]["MessageGroupId"], "h-" + sha256Hex("").substr(0, 40));
  EXPECT_EQ(body["Entries"][2]["MessageDeduplicationId"], "01JXSQS2");
}

TEST(SqsSink, SplitsByCount) {
  Fixture f;
  std::vector<Event> batch;
  for (size_t i = 0; i < 25; ++i) batch.push_back(event(i));
  auto out = f.sink->publishEach(batch);
  for (const auto& d : out) EXPECT_TRUE(d.status.ok());
  auto reqs = f.http.requests();
  ASSERT_EQ(reqs.size(), 3u);
  std::multiset<size_t> sizes;
  std::set<std::string> ids;
  for (const auto& r : reqs) {
    auto entries = bodyOf(r)["Entries"];
    sizes.insert(entries.size());
    for (const auto& e : entries) ids.insert(e["Id"].get<std::string>());
  }
  EXPECT_EQ(sizes, (std::multiset<size_t>{5, 10, 10}));
  EXPECT_EQ(ids.size(), 25u);
}

TEST(SqsSink, SplitsByPayloadAcrossTheEdge) {
  Fixture f;
  // Attributes count: "type" + "String" + 23 bytes, "tenant" + "String" + 4 bytes.
  const size_t attrs = sqsMessageSize(event(0)) - event(0).json.size();
  EXPECT_EQ(attrs, 4 + 6 + 23 + 6 + 6 + 4);
  const size_t half = kSqsMaxPayload / 2 - attrs;
  std::vector<Event> batch{event(0, "acme", half),
                           event(1, "acme", half),                        // exactly 256 KiB together
                           event(2, "acme", half + 1),                    // alone: the next would overflow
                           event(3, "acme", kSqsMaxPayload - attrs),      // exactly the limit: alone
                           event(4, "acme", kSqsMaxPayload - attrs + 1),  // over: refused, not sent
                           event(5)};
  ASSERT_EQ(sqsMessageSize(batch[0]) + sqsMessageSize(batch[1]), kSqsMaxPayload);
  auto out = f.sink->publishEach(batch);
  ASSERT_EQ(out.size(), batch.size());
  for (size_t i : {0, 1, 2, 3, 5}) EXPECT_TRUE(out[i].status.ok()) << i;
  ASSERT_FALSE(out[4].status.ok());
  EXPECT_EQ(out[4].status.error().errorClass(), ErrorClass::kPermanentBackend);
  EXPECT_NE(out[4].status.error().message().find("262145 bytes"), std::string::npos) << out[4].status.error().message();
  std::vector<std::vector<std::string>> groups;
  for (const auto& r : f.http.requests()) {
    std::vector<std::string> ids;
    const nlohmann::json body = bodyOf(r);
    for (const auto& e : body["Entries"]) ids.push_back(e["Id"].get<std::string>());
    groups.push_back(ids);
  }
  std::sort(groups.begin(), groups.end());
  EXPECT_EQ(groups, (std::vector<std::vector<std::string>>{{"0", "1"}, {"2"}, {"3"}, {"5"}}));
}

TEST(SqsSink, PartialFailures) {
  Fixture f;
  f.http.setHandler([](const http::Request&) -> Result<http::Response> {
    return FakeHttpClient::ok(R"({"Successful":[{"Id":"0","MessageId":"a"},{"Id":"3","MessageId":"b"}],
        "Failed":[{"Id":"1","SenderFault":true,"Code":"InvalidMessageContents","Message":"Invalid binary character"},
                  {"Id":"2","SenderFault":false,"Code":"InternalError","Message":"try later"},
                  {"Id":"99","SenderFault":true,"Code":"Stray"}]})");
  });
  std::vector<Event> batch{event(0), event(1), event(2), event(3), event(4)};
  auto out = f.sink->publishEach(batch);
  EXPECT_TRUE(out[0].status.ok());
  EXPECT_TRUE(out[3].status.ok());
  ASSERT_FALSE(out[1].status.ok());
  EXPECT_EQ(out[1].status.error().errorClass(), ErrorClass::kPermanentBackend);
  EXPECT_EQ(out[1].status.error().message(),
            std::string("sqs SendMessageBatch ") + kQueue +
                ": entry 1 failed: InvalidMessageContents: Invalid binary character (sender fault)");
  ASSERT_FALSE(out[2].status.ok());
  EXPECT_EQ(out[2].status.error().errorClass(), ErrorClass::kTransientBackend);
  ASSERT_FALSE(out[4].status.ok());  // not in the answer
  EXPECT_EQ(out[4].status.error().errorClass(), ErrorClass::kTransientBackend);
  EXPECT_NE(out[4].status.error().message().find("not in the answer"), std::string::npos);
  // publish(): a retried failure wins over the refused one.
  auto s = f.sink->publish(batch);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().errorClass(), ErrorClass::kTransientBackend);
}

TEST(SqsSink, WholeRequestErrors) {
  struct Case {
    Result<http::Response> reply;
    ErrorClass expected;
    std::string in_message;
  };
  const std::vector<Case> cases = {
      {answer(400,
              R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."})",
              {{"x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"}}),
       ErrorClass::kNotFound, "HTTP 400 AWS.SimpleQueueService.NonExistentQueue: The specified queue does not exist."},
      {answer(403, R"({"__type":"com.amazon.coral.service#InvalidClientTokenId","message":"bad key"})"),
       ErrorClass::kConfig, "HTTP 403 InvalidClientTokenId: bad key"},
      {answer(400, R"({"__type":"com.amazonaws.sqs#ThrottlingException","message":"slow down"})"),
       ErrorClass::kTransientBackend, "ThrottlingException"},
      {answer(400, R"({"__type":"com.amazonaws.sqs#BatchRequestTooLong","message":"too long"})"),
       ErrorClass::kPermanentBackend, "BatchRequestTooLong"},
      {answer(503, "<html>busy</html>"), ErrorClass::kTransientBackend, "HTTP 503"},
      {answer(200, "<html>captive portal</html>"), ErrorClass::kTransientBackend, "not a JSON object"},
      {Error(ErrorClass::kTransientBackend, "connect: Connection refused"), ErrorClass::kTransientBackend,
       "Connection refused"},
  };
  for (const Case& c : cases) {
    Fixture f;
    f.http.setHandler([&c](const http::Request&) { return c.reply; });
    auto out = f.sink->publishEach(std::vector<Event>{event(0), event(1)});
    for (const auto& d : out) {
      ASSERT_FALSE(d.status.ok()) << c.in_message;
      EXPECT_EQ(d.status.error().errorClass(), c.expected) << d.status.error().message();
      EXPECT_NE(d.status.error().message().find(c.in_message), std::string::npos) << d.status.error().message();
    }
  }
}

TEST(SqsSink, CredentialsFailures) {
  for (ErrorClass c : {ErrorClass::kTransientBackend, ErrorClass::kConfig}) {
    FakeHttpClient http;
    FailingCredentials creds(c);
    SqsSinkOptions o;
    o.queue_url = kQueue;
    auto sink = SqsSink::open(http, creds, o);
    ASSERT_TRUE(sink.ok());
    auto out = (*sink)->publishEach(std::vector<Event>{event(0)});
    ASSERT_FALSE(out[0].status.ok());
    EXPECT_EQ(out[0].status.error().errorClass(), c);
    EXPECT_NE(out[0].status.error().message().find("credentials: no credentials yet"), std::string::npos);
    EXPECT_TRUE(http.requests().empty());
  }
}

TEST(SqsSink, ConcurrencyIsBoundedAcrossCalls) {
  Fixture f(kQueue, 2);
  f.http.hold(true);
  std::vector<Event> batch;
  for (size_t i = 0; i < 30; ++i) batch.push_back(event(i));  // 3 requests per call
  std::vector<Delivery> a, b;
  std::thread t1([&] { a = f.sink->publishEach(batch); });
  std::thread t2([&] { b = f.sink->publishEach(batch); });
  ASSERT_TRUE(f.http.waitForQueued(2));
  std::this_thread::sleep_for(50ms);  // a broken bound would send more meanwhile
  EXPECT_EQ(f.http.queued(), 2u);
  f.http.hold(false);
  t1.join();
  t2.join();
  EXPECT_EQ(f.http.maxOutstanding(), 2u);
  EXPECT_EQ(f.http.requests().size(), 6u);
  for (const auto& d : a) EXPECT_TRUE(d.status.ok());
  for (const auto& d : b) EXPECT_TRUE(d.status.ok());
}

}  // namespace
}  // namespace mx::events
