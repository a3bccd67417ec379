// tests/server/edge_request_test.cc — the edge contract's header checks (server/edge_request.h):
// every answer of POST /v1/messages that is decided from the header (401, 415, 413, 400) and
// its order, the envelope it yields, and the WebSocket edge token (none, valid, each way to
// be invalid). The signature over the body is core/webhook_signature.h's (its own tests).
#include "server/edge_request.h"

#include <gtest/gtest.h>

#include "core/webhook_signature.h"

namespace mx::server {
namespace {

constexpr int64_t kNow = 1'800'000'000;
const std::string kKey(32, 'k');

EdgeHead goodHead() {
  EdgeHead h;
  h.content_type = "message/rfc822";
  h.content_length = 100;
  h.mail_from = "<a@example.org>";
  h.rcpt_to = "b@example.test, <c@example.test>";
  h.client_ip = "192.0.2.7";
  h.client_helo = "mail.example.org";
  h.webhook_id = "msg_1";
  h.webhook_timestamp = "1800000000";
  h.webhook_signature = "v1e,anything";
  return h;
}

IngestLimits limits() { return IngestLimits{1000, 10}; }

TEST(IngestHead, GoodHeadGivesTheEnvelope) {
  IngestCheck c = checkIngestHead(goodHead(), limits(), kNow);
  ASSERT_EQ(c.status, 0) << c.error;
  EXPECT_EQ(c.envelope.mail_from, "a@example.org");
  EXPECT_EQ(c.envelope.rcpt_to, (std::vector<std::string>{"b@example.test", "c@example.test"}));
  EXPECT_EQ(c.envelope.client_ip, "192.0.2.7");
  EXPECT_EQ(c.envelope.helo, "mail.example.org");
  EXPECT_FALSE(c.envelope.smtputf8);
}

TEST(IngestHead, NullSenderAndOptionalHelo) {
  for (std::string_view from : {"<>", "", "  <>  "}) {
    EdgeHead h = goodHead();
    h.mail_from = from;
    h.client_helo.reset();
    IngestCheck c = checkIngestHead(h, limits(), kNow);
    ASSERT_EQ(c.status, 0) << from << ": " << c.error;
    EXPECT_EQ(c.envelope.mail_from, "");
    EXPECT_EQ(c.envelope.helo, "");
  }
}

TEST(IngestHead, CanonicalIpv6AndUtf8) {
  EdgeHead h = goodHead();
  h.client_ip = "2001:DB8:0:0::1";
  h.rcpt_to = "jörg@example.test";
  IngestCheck c = checkIngestHead(h, limits(), kNow);
  ASSERT_EQ(c.status, 0) << c.error;
  EXPECT_EQ(c.envelope.client_ip, "2001:db8::1");
  EXPECT_TRUE(c.envelope.smtputf8);
}

TEST(IngestHead, AuthenticationHeadersFirst) {
  for (auto drop : {&EdgeHead::webhook_id, &EdgeHead::webhook_timestamp, &EdgeHead::webhook_signature}) {
    EdgeHead h = goodHead();
    h.*drop = std::nullopt;
    h.content_type = "text/plain";  // 415 too, but 401 comes first
    EXPECT_EQ(checkIngestHead(h, limits(), kNow).status, 401);
  }
  EdgeHead h = goodHead();
  h.webhook_id = "bad id";
  EXPECT_EQ(checkIngestHead(h, limits(), kNow).status, 401);
  h = goodHead();
  h.webhook_timestamp = "18e8";
  EXPECT_EQ(checkIngestHead(h, limits(), kNow).status, 401);
  h.webhook_signature = "";
  EXPECT_EQ(checkIngestHead(h, limits(), kNow).status, 401);
}

TEST(IngestHead, ABodyOnlySignatureIsRefusedBeforeTheBody) {
  // Standard Webhooks' "v1" covers the message alone: the envelope headers could be
  // rewritten in transit. 401 even when the rest is wrong too.
  EdgeHead h = goodHead();
  h.webhook_signature = "v1,anything v1a,other";
  h.content_type = "text/plain";
  IngestCheck c = checkIngestHead(h, limits(), kNow);
  EXPECT_EQ(c.status, 401);
  EXPECT_EQ(c.error, "webhook-signature has no v1e entry (the ingest signs the envelope headers too: docs/edge.md)");
  h = goodHead();
  h.webhook_signature = "v1,old v1e,new";  // rotation: both kinds may come; v1e is checked
  EXPECT_EQ(checkIngestHead(h, limits(), kNow).status, 0);
}

TEST(IngestHead, SignedEnvelopeIsFourLinesOfTrimmedValues) {
  EdgeHead h = goodHead();
  h.mail_from = " <a@example.org>\t";
  EXPECT_EQ(signedEnvelope(h),
            "mx-mail-from:<a@example.org>\n"
            "mx-rcpt-to:b@example.test, <c@example.test>\n"
            "mx-client-ip:192.0.2.7\n"
            "mx-client-helo:mail.example.org\n"
            "\n");
  h.client_helo.reset();  // absent: an empty value
  h.mail_from = "<>";
  EXPECT_EQ(signedEnvelope(h),
            "mx-mail-from:<>\nmx-rcpt-to:b@example.test, <c@example.test>\nmx-client-ip:192.0.2.7\n"
            "mx-client-helo:\n\n");
}

TEST(IngestHead, TheEnvelopeSignatureBindsEveryEnvelopeHeader) {
  // What the driver does: HMAC over "<id>.<ts>." + signedEnvelope + body, version v1e.
  const std::string body = "Subject: x\r\n\r\nhello\r\n";
  EdgeHead signed_head = goodHead();
  const std::string sig = webhookSignature(kKey, *signed_head.webhook_id, 1800000000,
                                           signedEnvelope(signed_head) + body, kIngestSignatureVersion);
  auto verifies = [&](const EdgeHead& h) {
    WebhookVerifier v(kKey, *h.webhook_id, *h.webhook_timestamp);
    v.update(signedEnvelope(h));
    v.update(body);
    return v.matches(sig, kIngestSignatureVersion);
  };
  EXPECT_TRUE(verifies(signed_head));
  for (auto field : {&EdgeHead::mail_from, &EdgeHead::rcpt_to, &EdgeHead::client_ip, &EdgeHead::client_helo}) {
    EdgeHead h = goodHead();
    h.*field = "x@evil.example";
    EXPECT_FALSE(verifies(h));
  }
  EdgeHead moved = goodHead();  // a recipient moved into the HELO: still another envelope
  moved.rcpt_to = "b@example.test";
  moved.client_helo = "mail.example.org, <c@example.test>";
  EXPECT_FALSE(verifies(moved));
  // The same HMAC under the plain tag is not accepted as v1e, nor the reverse.
  WebhookVerifier v(kKey, *signed_head.webhook_id, *signed_head.webhook_timestamp);
  v.update(signedEnvelope(signed_head));
  v.update(body);
  EXPECT_FALSE(v.matches("v1," + sig.substr(4), kIngestSignatureVersion));
}

TEST(IngestHead, TimestampWindowBoundary) {
  for (int64_t delta : {-301, -300, 0, 300, 301}) {
    EdgeHead h = goodHead();
    std::string ts = std::to_string(kNow + delta);
    h.webhook_timestamp = ts;
    EXPECT_EQ(checkIngestHead(h, limits(), kNow).status, std::abs(delta) > 300 ? 401 : 0) << delta;
  }
}

TEST(IngestHead, ContentTypeAndSize) {
  for (std::string_view ct :
       {"message/rfc822", "Message/RFC822", "message/rfc822; charset=utf-8", " message/rfc822 "}) {
    EdgeHead h = goodHead();
    h.content_type = ct;
    EXPECT_EQ(checkIngestHead(h, limits(), kNow).status, 0) << ct;
  }
  for (std::string_view ct : {"text/plain", "message/rfc8222", "application/octet-stream", ""}) {
    EdgeHead h = goodHead();
    h.content_type = ct;
    EXPECT_EQ(checkIngestHead(h, limits(), kNow).status, 415) << ct;
  }
  EdgeHead h = goodHead();
  h.content_type.reset();
  EXPECT_EQ(checkIngestHead(h, limits(), kNow).status, 415);
  // The limit itself is allowed; one more byte is not. Chunked (no length) is checked later.
  h = goodHead();
  h.content_length = 1000;
  EXPECT_EQ(checkIngestHead(h, limits(), kNow).status, 0);
  h.content_length = 1001;
  EXPECT_EQ(checkIngestHead(h, limits(), kNow).status, 413);
  h.content_length.reset();
  EXPECT_EQ(checkIngestHead(h, limits(), kNow).status, 0);
}

TEST(IngestHead, BadEnvelopeIs400) {
  auto with = [](auto member, std::optional<std::string_view> v) {
    EdgeHead h = goodHead();
    h.*member = v;
    return checkIngestHead(h, limits(), kNow).status;
  };
  EXPECT_EQ(with(&EdgeHead::mail_from, std::nullopt), 400);
  EXPECT_EQ(with(&EdgeHead::mail_from, "not an address"), 400);
  EXPECT_EQ(with(&EdgeHead::mail_from, "<a@example.org> SIZE=10"), 400);
  EXPECT_EQ(with(&EdgeHead::rcpt_to, std::nullopt), 400);
  EXPECT_EQ(with(&EdgeHead::rcpt_to, ""), 400);
  EXPECT_EQ(with(&EdgeHead::rcpt_to, "<>"), 400);
  EXPECT_EQ(with(&EdgeHead::rcpt_to, "a@example.test,"), 400);
  EXPECT_EQ(with(&EdgeHead::rcpt_to, "a@example.test,,b@example.test"), 400);
  EXPECT_EQ(with(&EdgeHead::rcpt_to, "a@example.test b@example.test"), 400);
  EXPECT_EQ(with(&EdgeHead::client_ip, std::nullopt), 400);
  EXPECT_EQ(with(&EdgeHead::client_ip, "192.0.2.256"), 400);
  EXPECT_EQ(with(&EdgeHead::client_ip, "example.org"), 400);
  EXPECT_EQ(with(&EdgeHead::client_helo, "bad helo"), 400);
  EXPECT_EQ(with(&EdgeHead::client_helo, std::string(256, 'h')), 400);
  EXPECT_EQ(with(&EdgeHead::client_helo, std::string(255, 'h')), 0);
  EdgeHead h = goodHead();
  h.duplicated = true;
  EXPECT_EQ(checkIngestHead(h, limits(), kNow).status, 400);
}

TEST(IngestHead, RecipientLimitBoundary) {
  std::string ten, eleven;
  for (int i = 0; i < 11; ++i) {
    std::string a = "r" + std::to_string(i) + "@example.test";
    if (i < 10) ten += (i ? "," : "") + a;
    eleven += (i ? "," : "") + a;
  }
  EdgeHead h = goodHead();
  h.rcpt_to = ten;
  EXPECT_EQ(checkIngestHead(h, limits(), kNow).status, 0);
  h.rcpt_to = eleven;
  EXPECT_EQ(checkIngestHead(h, limits(), kNow).status, 400);
}

EdgeHead tokenHead(std::string_view ip, int64_t ts, std::string_view signed_ip) {
  static std::string ts_text, sig;
  ts_text = std::to_string(ts);
  sig = webhookSignature(kKey, "tok_1", ts, signed_ip);
  EdgeHead h;
  h.client_ip = ip;
  h.webhook_id = "tok_1";
  h.webhook_timestamp = ts_text;
  h.webhook_signature = sig;
  return h;
}

TEST(EdgeToken, NoneValidInvalid) {
  EXPECT_EQ(checkEdgeToken(EdgeHead{}, kKey, kNow).status, EdgeTokenStatus::kNone);
  EdgeTokenCheck ok = checkEdgeToken(tokenHead("198.51.100.9", kNow, "198.51.100.9"), kKey, kNow);
  EXPECT_EQ(ok.status, EdgeTokenStatus::kValid) << ok.error;
  EXPECT_EQ(ok.client_ip, "198.51.100.9");
  // Signed for another address, expired, wrong key, incomplete, no key configured.
  EXPECT_EQ(checkEdgeToken(tokenHead("198.51.100.9", kNow, "198.51.100.10"), kKey, kNow).status,
            EdgeTokenStatus::kInvalid);
  EXPECT_EQ(checkEdgeToken(tokenHead("198.51.100.9", kNow - 301, "198.51.100.9"), kKey, kNow).status,
            EdgeTokenStatus::kInvalid);
  EXPECT_EQ(checkEdgeToken(tokenHead("198.51.100.9", kNow, "198.51.100.9"), std::string(32, 'x'), kNow).status,
            EdgeTokenStatus::kInvalid);
  EXPECT_EQ(checkEdgeToken(tokenHead("198.51.100.9", kNow, "198.51.100.9"), "", kNow).status,
            EdgeTokenStatus::kInvalid);
  for (auto drop :
       {&EdgeHead::client_ip, &EdgeHead::webhook_id, &EdgeHead::webhook_timestamp, &EdgeHead::webhook_signature}) {
    EdgeHead h = tokenHead("198.51.100.9", kNow, "198.51.100.9");
    h.*drop = std::nullopt;
    EXPECT_EQ(checkEdgeToken(h, kKey, kNow).status, EdgeTokenStatus::kInvalid);
  }
  // Signed, but not an address.
  EXPECT_EQ(checkEdgeToken(tokenHead("localhost", kNow, "localhost"), kKey, kNow).status, EdgeTokenStatus::kInvalid);
  EdgeHead dup = tokenHead("198.51.100.9", kNow, "198.51.100.9");
  dup.duplicated = true;
  EXPECT_EQ(checkEdgeToken(dup, kKey, kNow).status, EdgeTokenStatus::kInvalid);
}

}  // namespace
}  // namespace mx::server
