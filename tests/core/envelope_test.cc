// tests/core/envelope_test.cc — the one envelope-to-JSON writer: every field, null forms
// for absent values, recipient decomposition (RFC 5233 detail), untrusted bytes escaped.
#include "core/envelope.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

Envelope sample() {
  Envelope e;
  e.reception = Reception::kSmtp;
  e.listener = "smtp";
  e.tenant = "acme";
  e.client_ip = "192.0.2.7";
  e.client_port = 40001;
  e.helo = "client.example";
  e.esmtp = true;
  e.mail_from = "a@x.example";
  e.rcpt_to = {"bob+orders@acme.test", "Postmaster"};
  e.declared_size = 1234;
  e.body = BodyType::kEightBitMime;
  e.smtputf8 = true;
  e.chunked = true;
  return e;
}

TEST(EnvelopeJson, AllFields) {
  Envelope e = sample();
  e.proxy_peer_ip = "10.0.0.1";
  e.tls_version = "TLSv1.3";
  e.tls_cipher = "TLS_AES_128_GCM_SHA256";
  e.auth_user = "alice";
  EXPECT_EQ(envelopeJson(e),
            R"({"reception":"smtp","listener":"smtp","mail_from":"a@x.example","rcpt_to":[)"
            R"({"address":"bob+orders@acme.test","local":"bob+orders","domain":"acme.test","detail":"orders"},)"
            R"({"address":"Postmaster","local":"Postmaster","domain":null,"detail":null}],)"
            R"("helo":"client.example","esmtp":true,"client_ip":"192.0.2.7","client_port":40001,)"
            R"("proxy_peer_ip":"10.0.0.1","tls":{"version":"TLSv1.3","cipher":"TLS_AES_128_GCM_SHA256"},)"
            R"("auth_user":"alice","declared_size":1234,"body":"8bitmime","smtputf8":true,"chunked":true})");
}

TEST(EnvelopeJson, AbsentValuesAreNull) {
  Envelope e;
  e.reception = Reception::kHttp;
  std::string j = envelopeJson(e);
  EXPECT_NE(j.find(R"("reception":"http")"), std::string::npos);
  EXPECT_NE(j.find(R"("mail_from":null)"), std::string::npos);  // the null reverse-path <>
  EXPECT_NE(j.find(R"("proxy_peer_ip":null)"), std::string::npos);
  EXPECT_NE(j.find(R"("tls":null)"), std::string::npos);
  EXPECT_NE(j.find(R"("auth_user":null)"), std::string::npos);
  EXPECT_NE(j.find(R"("body":"7bit")"), std::string::npos);
}

TEST(EnvelopeJson, UntrustedBytesStayValidJson) {
  Envelope e = sample();
  e.helo = std::string("a\"b\\c\x01\xff", 7);
  std::string j = envelopeJson(e);
  EXPECT_NE(j.find("\"helo\":\"a\\\"b\\\\c\\u0001\xef\xbf\xbd\""), std::string::npos) << j;  // U+FFFD as UTF-8
}

TEST(Envelope, ResetTransactionKeepsSessionFields) {
  Envelope e = sample();
  e.auth_user = "alice";
  e.id = MessageId(5, 6, 7);
  e.rcpt_tenants = {"acme"};
  e.resetTransaction();
  EXPECT_TRUE(e.mail_from.empty());
  EXPECT_TRUE(e.rcpt_to.empty());
  EXPECT_TRUE(e.rcpt_tenants.empty());
  EXPECT_TRUE(e.tenant.empty());
  EXPECT_EQ(e.body, BodyType::kSevenBit);
  EXPECT_FALSE(e.chunked);
  EXPECT_EQ(e.id, MessageId());
  EXPECT_EQ(e.helo, "client.example");
  EXPECT_EQ(e.auth_user, "alice");
  EXPECT_EQ(e.client_ip, "192.0.2.7");
}

TEST(Envelope, SplitByTenantGivesEachTenantItsOwnRecipients) {
  Envelope e = sample();
  e.tenant = "acme";
  e.rcpt_to = {"a@acme.test", "b@beta.test", "c@acme.test", "d@gamma.test", "e@beta.test"};
  e.rcpt_tenants = {"acme", "beta", "acme", "gamma", "beta"};
  EXPECT_EQ(tenantsOf(e), (std::vector<std::string>{"acme", "beta", "gamma"}));
  std::vector<Envelope> copies = splitByTenant(e);
  ASSERT_EQ(copies.size(), 3u);
  EXPECT_EQ(copies[0].tenant, "acme");
  EXPECT_EQ(copies[0].rcpt_to, (std::vector<std::string>{"a@acme.test", "c@acme.test"}));
  EXPECT_EQ(copies[1].tenant, "beta");
  EXPECT_EQ(copies[1].rcpt_to, (std::vector<std::string>{"b@beta.test", "e@beta.test"}));
  EXPECT_EQ(copies[2].rcpt_to, (std::vector<std::string>{"d@gamma.test"}));
  for (const Envelope& c : copies) {
    EXPECT_TRUE(c.rcpt_tenants.empty());
    EXPECT_EQ(c.mail_from, e.mail_from);  // everything else is the transaction's
    EXPECT_EQ(c.client_ip, e.client_ip);
  }
}

TEST(Envelope, SplitByTenantOfOneTenantIsTheEnvelopeItself) {
  Envelope e = sample();
  e.tenant = "acme";
  e.rcpt_to = {"a@acme.test", "b@acme.test"};
  e.rcpt_tenants = {"acme", ""};  // an empty tenant is the envelope's
  std::vector<Envelope> copies = splitByTenant(e);
  ASSERT_EQ(copies.size(), 1u);
  Envelope want = e;
  want.rcpt_tenants.clear();
  EXPECT_EQ(copies[0], want);
  e.rcpt_tenants.clear();  // no per-recipient tenants at all
  EXPECT_EQ(splitByTenant(e).front(), want);
  EXPECT_EQ(tenantsOf(e), std::vector<std::string>{"acme"});
}

TEST(Envelope, Names) {
  EXPECT_EQ(receptionName(Reception::kWebSocket), "websocket");
  EXPECT_EQ(receptionName(Reception::kLambda), "lambda");
  EXPECT_EQ(bodyTypeName(BodyType::kBinaryMime), "binarymime");
}

}  // namespace
}  // namespace mx
