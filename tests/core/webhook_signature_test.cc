// tests/core/webhook_signature_test.cc — the receiving side of Standard Webhooks
// (core/webhook_signature.h): the published vector verifies, streamed in any split; key
// rotation (several entries); every way a signature header can be wrong; the 300 s window
// walked across its edges; the contract's webhook-id alphabet.
#include "core/webhook_signature.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

constexpr std::string_view kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::string_view kTs = "1614265330";
constexpr std::string_view kBody = R"({"test": 2432232314})";
constexpr std::string_view kSig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

std::string key() { return *webhookKeyFromSecret(kSecret); }

TEST(WebhookVerifier, PublishedVectorInEverySplit) {
  for (size_t split = 0; split <= kBody.size(); ++split) {
    WebhookVerifier v(key(), kId, kTs);
    v.update(kBody.substr(0, split));
    v.update(kBody.substr(split));
    EXPECT_TRUE(v.matches(kSig)) << split;
  }
  // One byte at a time.
  WebhookVerifier v(key(), kId, kTs);
  for (char c : kBody) v.update(std::string_view(&c, 1));
  EXPECT_TRUE(v.matches(kSig));
}

TEST(WebhookVerifier, IncrementalHmacEqualsOneShot) {
  const std::string k(40, 'k');
  std::string data;
  for (int i = 0; i < 200000; ++i) data += static_cast<char>(i * 7);
  HmacSha256 h(k);
  for (size_t off = 0; off < data.size(); off += 65536) h.update(std::string_view(data).substr(off, 65536));
  EXPECT_EQ(h.finish(), hmacSha256(k, data));
  HmacSha256 empty_key("");
  empty_key.update("x");
  EXPECT_EQ(empty_key.finish(), hmacSha256("", "x"));
}

TEST(WebhookVerifier, AnyEntryMayMatch) {
  const std::string other = "v1," + std::string(43, 'A') + "=";
  for (std::string header : {other + " " + std::string(kSig), std::string(kSig) + " " + other,
                             "v1a,xyz " + std::string(kSig), std::string(kSig) + " "}) {
    WebhookVerifier v(key(), kId, kTs);
    v.update(kBody);
    EXPECT_TRUE(v.matches(header)) << header;
  }
}

TEST(WebhookVerifier, VersionTagIsChosenByTheCaller) {
  const std::string b64 = std::string(kSig).substr(3);
  WebhookVerifier a(key(), kId, kTs);
  a.update(kBody);
  EXPECT_TRUE(a.matches("v1e," + b64, "v1e"));
  WebhookVerifier b(key(), kId, kTs);
  b.update(kBody);
  EXPECT_FALSE(b.matches(std::string(kSig), "v1e"));  // "v1," is another version
  WebhookVerifier c(key(), kId, kTs);
  c.update(kBody);
  EXPECT_FALSE(c.matches("v1e," + b64));  // and "v1e," is not "v1,"
  EXPECT_EQ(webhookSignature(key(), kId, 1614265330, kBody, "v1e"), "v1e," + b64);
  EXPECT_TRUE(hasWebhookSignatureVersion("v1,x v1e,y", "v1e"));
  EXPECT_TRUE(hasWebhookSignatureVersion("v1e,", "v1e"));
  EXPECT_FALSE(hasWebhookSignatureVersion("v1,x v1a,y v1e", "v1e"));
  EXPECT_FALSE(hasWebhookSignatureVersion("", "v1e"));
}

TEST(WebhookVerifier, RefusesWrongSignatures) {
  const std::string good(kSig);
  std::string flipped = good;
  flipped[5] = flipped[5] == 'A' ? 'B' : 'A';
  for (std::string header : {std::string(), std::string("v1,"), std::string("v2,") + good.substr(3), good.substr(3),
                             flipped, good.substr(0, good.size() - 1), good + "AAAA", std::string("v1,!!!!"),
                             std::string("v1, ") + good.substr(3), std::string("V1,") + good.substr(3)}) {
    WebhookVerifier v(key(), kId, kTs);
    v.update(kBody);
    EXPECT_FALSE(v.matches(header)) << header;
  }
  // The right signature over other content.
  for (auto [id, ts, body] : {std::tuple<std::string_view, std::string_view, std::string_view>{"msg_x", kTs, kBody},
                              {kId, "1614265331", kBody},
                              {kId, kTs, "{\"test\": 2432232315}"}}) {
    WebhookVerifier v(key(), id, ts);
    v.update(body);
    EXPECT_FALSE(v.matches(kSig));
  }
}

TEST(VerifyWebhook, WindowEdges) {
  const int64_t ts = 1614265330;
  EXPECT_EQ(verifyWebhook(key(), kId, kTs, kSig, kBody, ts), WebhookCheck::kOk);
  EXPECT_EQ(verifyWebhook(key(), kId, kTs, kSig, kBody, ts + 300), WebhookCheck::kOk);
  EXPECT_EQ(verifyWebhook(key(), kId, kTs, kSig, kBody, ts - 300), WebhookCheck::kOk);
  EXPECT_EQ(verifyWebhook(key(), kId, kTs, kSig, kBody, ts + 301), WebhookCheck::kExpired);
  EXPECT_EQ(verifyWebhook(key(), kId, kTs, kSig, kBody, ts - 301), WebhookCheck::kExpired);
  EXPECT_EQ(verifyWebhook(key(), kId, "", kSig, kBody, ts), WebhookCheck::kBadTimestamp);
  EXPECT_EQ(verifyWebhook(key(), kId, "-1614265330", kSig, kBody, ts), WebhookCheck::kBadTimestamp);
  EXPECT_EQ(verifyWebhook(key(), kId, "1614265330.0", kSig, kBody, ts), WebhookCheck::kBadTimestamp);
  EXPECT_EQ(verifyWebhook(key(), kId, "9999999999999999999999", kSig, kBody, ts), WebhookCheck::kBadTimestamp);
  EXPECT_EQ(verifyWebhook(key(), kId, kTs, kSig, "x", ts), WebhookCheck::kBadSignature);
}

TEST(WebhookId, ContractAlphabetAndLength) {
  EXPECT_TRUE(isEdgeWebhookId("a"));
  EXPECT_TRUE(isEdgeWebhookId("msg_01J:x.y-z"));
  EXPECT_TRUE(isEdgeWebhookId(std::string(128, 'x')));
  EXPECT_FALSE(isEdgeWebhookId(std::string(129, 'x')));
  EXPECT_FALSE(isEdgeWebhookId(""));
  for (const std::string& bad : {std::string("a b"), std::string("a\nb"), std::string("a/b"), std::string("a,b"),
                                 std::string("é"), std::string("a\0b", 3)}) {
    EXPECT_FALSE(isEdgeWebhookId(bad)) << bad;
  }
}

}  // namespace
}  // namespace mx
