// Tests for events/webhook: the status table, the secret forms, the Standard Webhooks
// signature (recomputed here with OpenSSL's own HMAC and base64, and the spec libraries'
// published vector), the request's shape, Retry-After on transient answers, the snippet of
// refused ones, the sink-wide concurrency bound, and publish()'s choice of error — against
// the in-memory FakeHttpClient (tests/support), no network.
#include "events/webhook/webhook_sink.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <thread>

#include "tests/support/fake_http_client.h"

namespace mx::events {
namespace {

using mx::testing::FakeHttpClient;
using namespace std::chrono_literals;

// 32 bytes, as "whsec_" + base64.
constexpr std::string_view kSecret = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
constexpr std::string_view kKey = "0123456789abcdef0123456789abcdef";

// HMAC-SHA256 + base64 with OpenSSL directly: not the code under test (core/sha256, core/base64).
std::string independentSignature(std::string_view key, const std::string& content) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(content.data()),
       content.size(), mac, &len);
  unsigned char b64[128];
  int n = EVP_EncodeBlock(b64, mac, static_cast<int>(len));
  return "v1," + std::string(reinterpret_cast<char*>(b64), static_cast<size_t>(n));
}

Event event(std::string id, std::string json = R"({"specversion":"1.0","id":"x"})") {
  return Event{std::move(id), "mxgate.message.received", "acme", std::move(json)};
}

std::string header(const http::Request& r, std::string_view name) {
  const std::string* v = r.header(name);
  return v != nullptr ? *v : "(absent)";
}

http::Response reply(int status, std::string body = {}, http::Headers headers = {}) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

struct Fixture {
  explicit Fixture(uint32_t concurrency = 8) {
    WebhookSinkOptions o;
    o.url = "https://hooks.example.com/in/T0KEN?x=1";
    o.secret = std::string(kSecret);
    o.concurrency = concurrency;
    o.timeout = 2500ms;
    o.clock = &clock;
    auto s = WebhookSink::open(http, o);
    EXPECT_TRUE(s.ok()) << s.error().message();
    sink = std::move(*s);
  }
  ManualClock clock{WallTime{std::chrono::seconds{1'800'000'000}}};
  FakeHttpClient http;
  std::unique_ptr<WebhookSink> sink;
};

TEST(WebhookStatus, Table) {
  struct Row {
    int status;
    std::optional<ErrorClass> expected;
  };
  const auto T = ErrorClass::kTransientBackend;
  const auto P = ErrorClass::kPermanentBackend;
  const Row rows[] = {
      {200, std::nullopt},
      {201, std::nullopt},
      {202, std::nullopt},
      {204, std::nullopt},
      {299, std::nullopt},
      {100, T},
      {101, T},
      {199, T},
      {0, T},
      {-1, T},
      {600, T},
      {999, T},
      {300, P},
      {301, P},
      {302, P},
      {304, P},
      {307, P},
      {308, P},
      {400, P},
      {401, P},
      {403, P},
      {404, P},
      {405, P},
      {407, P},
      {408, T},
      {409, T},
      {410, P},
      {413, P},
      {415, P},
      {422, P},
      {425, T},
      {426, P},
      {429, T},
      {431, P},
      {451, P},
      {499, P},
      {500, T},
      {501, T},
      {502, T},
      {503, T},
      {504, T},
      {511, T},
      {599, T},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(classifyWebhookStatus(row.status), row.expected) << "status " << row.status;
  }
}

TEST(WebhookSecret, Forms) {
  auto k = webhookKeyFromSecret(kSecret);
  ASSERT_TRUE(k.ok()) << k.error().message();
  EXPECT_EQ(*k, kKey);
  // Without the prefix: the bytes as they are (even if they look like base64).
  auto raw = webhookKeyFromSecret("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(*raw, "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=");
  auto bad = webhookKeyFromSecret("whsec_not*base64*at*all*padding*wrong!!");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().errorClass(), ErrorClass::kConfig);
  EXPECT_EQ(bad.error().message().find("not*base64"), std::string::npos) << "the secret must not be quoted";
  // 23 and 24 bytes: the spec's minimum.
  EXPECT_FALSE(webhookKeyFromSecret(std::string(23, 'k')).ok());
  EXPECT_TRUE(webhookKeyFromSecret(std::string(24, 'k')).ok());
  EXPECT_FALSE(webhookKeyFromSecret("whsec_").ok());
  EXPECT_FALSE(webhookKeyFromSecret("").ok());
}

TEST(WebhookSignature, PublishedVectorAndIndependentHmac) {
  // The vector the Standard Webhooks reference libraries test against.
  auto key = webhookKeyFromSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_TRUE(key.ok()) << key.error().message();
  EXPECT_EQ(webhookSignature(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  for (std::string body : {std::string(), std::string("{}"), std::string(5000, 'x'), std::string("a\0b", 3)}) {
    EXPECT_EQ(webhookSignature(kKey, "01JX0", 1800000000, body),
              independentSignature(kKey, "01JX0.1800000000." + body));
  }
}

TEST(WebhookSink, OpenValidates) {
  FakeHttpClient http;
  auto open = [&](std::string url, std::string secret, uint32_t concurrency = 8, bool plain = false) {
    WebhookSinkOptions o;
    o.url = std::move(url);
    o.secret = std::move(secret);
    o.concurrency = concurrency;
    o.allow_plain_http = plain;
    return WebhookSink::open(http, o);
  };
  const std::string s(kSecret);
  auto bad_url = open("hooks.example.com/in", s);
  ASSERT_FALSE(bad_url.ok());
  EXPECT_EQ(bad_url.error().errorClass(), ErrorClass::kConfig);
  EXPECT_NE(bad_url.error().message().find("url \"hooks.example.com/in\""), std::string::npos)
      << bad_url.error().message();
  auto plain = open("http://hooks.example.com/in", s);
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.error().message().find("not https"), std::string::npos);
  EXPECT_TRUE(open("http://127.0.0.1:8080/in", s, 8, true).ok());
  EXPECT_FALSE(open("https://hooks.example.com/in", s, 0).ok());
  auto short_key = open("https://hooks.example.com/in", "short");
  ASSERT_FALSE(short_key.ok());
  EXPECT_EQ(short_key.error().errorClass(), ErrorClass::kConfig);
  auto ok = open("https://hooks.example.com:8443/in?token=abc", s, 3);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)->maxBatch(), 12u);  // four rounds of the 3 in flight
  EXPECT_EQ((*ok)->origin(), "https://hooks.example.com:8443");
}

TEST(WebhookSink, RequestIsSignedStructuredCloudEvent) {
  Fixture f;
  const std::string body = R"({"specversion":"1.0","type":"mxgate.message.received","id":"01JXA"})";
  std::vector<Event> batch{event("01JXA", body)};
  auto out = f.sink->publishEach(batch);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].status.ok());
  auto reqs = f.http.requests();
  ASSERT_EQ(reqs.size(), 1u);
  const http::Request& r = reqs[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.url, "https://hooks.example.com/in/T0KEN?x=1");
  EXPECT_EQ(r.body, body);
  EXPECT_EQ(r.timeout, 2500ms);
  EXPECT_EQ(header(r, "content-type"), "application/cloudevents+json; charset=utf-8");
  EXPECT_EQ(header(r, "webhook-id"), "01JXA");
  EXPECT_EQ(header(r, "webhook-timestamp"), "1800000000");
  EXPECT_EQ(header(r, "webhook-signature"), independentSignature(kKey, "01JXA.1800000000." + body));
  EXPECT_EQ(header(r, "user-agent").rfind("mxgate/", 0), 0u) << header(r, "user-agent");
  // Structured mode only: no binary-mode ce-* headers.
  for (const auto& h : r.headers) EXPECT_NE(h.name.substr(0, 3), "ce-") << h.name;

  // A retry is a new attempt: same id, the new time, a new signature.
  f.clock.advance(61s);
  ASSERT_TRUE(f.sink->publish(batch).ok());
  reqs = f.http.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(header(reqs[1], "webhook-id"), "01JXA");
  EXPECT_EQ(header(reqs[1], "webhook-timestamp"), "1800000061");
  EXPECT_EQ(header(reqs[1], "webhook-signature"), independentSignature(kKey, "01JXA.1800000061." + body));
}

TEST(WebhookSink, OutcomesPerEvent) {
  Fixture f;
  f.http.setHandler([](const http::Request& r) -> Result<http::Response> {
    const std::string id = *r.header("webhook-id");
    if (id == "ok") return reply(204);
    if (id == "busy") return reply(503, "down for maintenance", {{"Retry-After", "120"}});
    if (id == "slow") return reply(429, "", {{"retry-after", "Fri, 15 Jan 2027 08:00:10 GMT"}});
    if (id == "huge") return reply(429, "", {{"Retry-After", "999999999999999999999"}});
    if (id == "junk") return reply(502, "", {{"Retry-After", "soon"}});
    if (id == "bad") return reply(400, "invalid\r\nevent \x01\xff\xfe shape" + std::string(500, 'z'));
    if (id == "moved") return reply(301, "", {{"Location", "https://elsewhere/"}, {"Retry-After", "5"}});
    return Error(ErrorClass::kTransientBackend, "connect to hooks.example.com:443: Connection refused");
  });
  std::vector<Event> batch{event("ok"),   event("busy"), event("slow"),  event("huge"),
                           event("junk"), event("bad"),  event("moved"), event("down")};
  auto out = f.sink->publishEach(batch);
  ASSERT_EQ(out.size(), batch.size());
  EXPECT_TRUE(out[0].status.ok());
  for (size_t i : {1, 2, 3, 4, 7}) {
    ASSERT_FALSE(out[i].status.ok()) << batch[i].id;
    EXPECT_EQ(out[i].status.error().errorClass(), ErrorClass::kTransientBackend) << batch[i].id;
  }
  EXPECT_EQ(out[1].retry_after, 120s);
  EXPECT_NE(out[1].status.error().message().find("webhook https://hooks.example.com: HTTP 503: down for"),
            std::string::npos)
      << out[1].status.error().message();
  EXPECT_EQ(out[2].retry_after, 10s);  // the fixture's clock is Fri, 15 Jan 2027 08:00:00 GMT
  EXPECT_EQ(out[3].retry_after, 1h);   // bounded
  EXPECT_EQ(out[4].retry_after, 0ms);
  EXPECT_EQ(out[7].retry_after, 0ms);
  EXPECT_NE(out[7].status.error().message().find("Connection refused"), std::string::npos);
  for (size_t i : {5, 6}) {
    ASSERT_FALSE(out[i].status.ok());
    EXPECT_EQ(out[i].status.error().errorClass(), ErrorClass::kPermanentBackend) << batch[i].id;
    EXPECT_EQ(out[i].retry_after, 0ms) << "no pause for a refused event";
  }
  const std::string& m = out[5].status.error().message();
  EXPECT_EQ(m.rfind("webhook https://hooks.example.com: HTTP 400: invalid?event ? shape", 0), 0u) << m;
  EXPECT_LT(m.size(), 300u);
  EXPECT_EQ(m.find("T0KEN"), std::string::npos) << "the URL's path stays out of messages";
  for (char c : m) EXPECT_TRUE(c >= 0x20 && c < 0x7F) << m;
  EXPECT_NE(out[6].status.error().message().find("HTTP 301"), std::string::npos);
}

TEST(WebhookSink, RetryAfterDateIsRelativeToTheSinksClock) {
  Fixture f;
  f.http.setHandler([](const http::Request&) -> Result<http::Response> {
    // 1800000000 is Fri, 15 Jan 2027 08:00:00 GMT.
    return reply(503, "", {{"Retry-After", "Fri, 15 Jan 2027 08:00:42 GMT"}});
  });
  auto out = f.sink->publishEach(std::vector<Event>{event("a")});
  EXPECT_EQ(out[0].retry_after, 42s);
}

TEST(WebhookSink, InvalidIdsAreRefusedWithoutSending) {
  Fixture f;
  std::vector<Event> batch{event("a.b"), event(""), event("ok"), event("sp ace"), event("nl\r\nx-evil: 1")};
  auto out = f.sink->publishEach(batch);
  EXPECT_TRUE(out[2].status.ok());
  for (size_t i : {0, 1, 3, 4}) {
    ASSERT_FALSE(out[i].status.ok());
    EXPECT_EQ(out[i].status.error().errorClass(), ErrorClass::kPermanentBackend);
  }
  EXPECT_EQ(f.http.requests().size(), 1u);
}

TEST(WebhookSink, ConcurrencyIsBoundedAcrossCalls) {
  Fixture f(3);
  f.http.hold(true);
  std::vector<Event> batch;
  for (int i = 0; i < 20; ++i) batch.push_back(event("e" + std::to_string(i)));
  std::vector<Delivery> a, b;
  std::thread t1([&] { a = f.sink->publishEach(batch); });
  std::thread t2([&] { b = f.sink->publishEach(batch); });
  ASSERT_TRUE(f.http.waitForQueued(3));
  // Give a broken bound the chance to send more; a correct one holds at 3.
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(f.http.queued(), 3u);
  f.http.hold(false);
  t1.join();
  t2.join();
  EXPECT_EQ(f.http.maxOutstanding(), 3u);
  EXPECT_EQ(f.http.requests().size(), 40u);
  for (const auto& d : a) EXPECT_TRUE(d.status.ok());
  for (const auto& d : b) EXPECT_TRUE(d.status.ok());
}

TEST(WebhookSink, PublishPrefersTheRetriedError) {
  Fixture f;
  f.http.setHandler([](const http::Request& r) -> Result<http::Response> {
    const std::string id = *r.header("webhook-id");
    return reply(id == "gone" ? 410 : id == "busy" ? 503 : 200);
  });
  auto s = f.sink->publish(std::vector<Event>{event("gone"), event("busy"), event("fine")});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().errorClass(), ErrorClass::kTransientBackend);
  s = f.sink->publish(std::vector<Event>{event("fine"), event("gone")});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().errorClass(), ErrorClass::kPermanentBackend);
  EXPECT_TRUE(f.sink->publish(std::vector<Event>{event("fine")}).ok());
  EXPECT_TRUE(f.sink->publishEach({}).empty());
}

}  // namespace
}  // namespace mx::events
