// tests/mime/json_test.cc — the JSON document and the event summary: strict RFC 8259
// validity whatever the input bytes, validation against schemas/parsed-email.schema.json,
// caller context (id, received_at, envelope, refs), pretty printing, and the fast escaper.
#include "mime/json.h"

#include <gtest/gtest.h>

#include <random>

#include "core/envelope.h"
#include "core/json_writer.h"
#include "core/sha256.h"
#include "mime/parser.h"
#include "tests/mime/schema_validator.h"
#include "tests/mime/test_util.h"

namespace mx::mime {
namespace {

using mx::testing::JsonValue;

const JsonValue& schema() {
  static JsonValue s = [] {
    JsonValue v;
    const std::string path = mx::testing::sourceDir() + "/schemas/parsed-email.schema.json";
    EXPECT_TRUE(mx::testing::parseJsonFile(path, &v)) << path;
    return v;
  }();
  return s;
}

JsonValue checkDocument(const std::string& json) {
  JsonValue v;
  std::string err;
  EXPECT_TRUE(mx::testing::parseJson(json, &v, &err)) << err << "\n" << json.substr(0, 2000);
  mx::testing::SchemaValidator val(schema());
  auto errors = val.validate(v);
  EXPECT_TRUE(errors.empty()) << errors.front();
  return v;
}

const char kMessage[] =
    "From: Ana <ana@example.net>\r\nTo: b@example.org\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n"
    "X-Raw: caf\xE9\r\nDate: Mon, 1 Jan 2024 14:06:57 +0100\r\nMessage-ID: <a@b>\r\n"
    "Authentication-Results: mx.test; spf=pass smtp.mailfrom=example.net\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello \"quoted\"\t\x01\r\n"
    "--b\r\nContent-Type: text/plain\r\n\r\nsecond text\r\n"
    "--b\r\nContent-Type: image/png; name=p.png\r\nContent-Transfer-Encoding: "
    "base64\r\n\r\niVBORw==\r\n"
    "--b--\r\n";

TEST(MimeJson, DocumentIsValidAndCarriesContext) {
  ParseOptions opt;
  opt.trusted_authserv_ids = {"mx.test"};
  ParsedMessage m = parse(kMessage, opt);
  JsonContext ctx;
  ctx.id = "01J0EXAMPLE0000000000000000";
  ctx.received_at = "2024-01-04T10:12:09Z";
  Envelope env;
  env.listener = "smtp";
  env.mail_from = "a@example.net";
  env.rcpt_to = {"r@x.test"};
  ctx.envelope_json = envelopeJson(env);  // the one envelope writer (core/envelope.h)
  ctx.raw_ref = "blob:raw";
  ctx.attachment_refs = {"tenant/attachments/ID/1-p.png"};
  ctx.offsets = true;
  JsonValue v = checkDocument(toJson(m, ctx));
  EXPECT_EQ(v["schema_version"].num, 3);
  EXPECT_EQ(v["id"].s(), "01J0EXAMPLE0000000000000000");
  EXPECT_EQ(v["envelope"]["mail_from"].s(), "a@example.net");
  EXPECT_EQ(v["raw"]["ref"].s(), "blob:raw");
  EXPECT_EQ(v["raw"]["sha256"].s(), mx::sha256Hex(kMessage));
  EXPECT_EQ(v["subject"].s(), "café");
  EXPECT_EQ(v["headers"][3]["value"].s(), "café");  // 8-bit header read as windows-1252
  EXPECT_EQ(v["body"]["text"].s(), "hello \"quoted\"\t\x01");
  EXPECT_EQ(v["body"]["text_parts"].size(), 2u);
  EXPECT_EQ(v["parts"][2]["content"].s(), "second text");  // nothing lost
  EXPECT_EQ(v["attachments"][0]["ref"].s(), "tenant/attachments/ID/1-p.png");
  EXPECT_EQ(v["attachments"][0]["size"].num, 4);
  EXPECT_EQ(v["auth"]["summary"]["spf"].s(), "pass");
  EXPECT_TRUE(v["headers"][0].get("offset"));
}

// The example shipped next to the schema stays valid against it.
TEST(MimeJson, SchemaExampleValidates) {
  JsonValue v;
  ASSERT_TRUE(
      mx::testing::parseJsonFile(mx::testing::sourceDir() + "/schemas/example-parsed.json", &v));
  mx::testing::SchemaValidator val(schema());
  auto errors = val.validate(v);
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(v["schema_version"].num, kSchemaVersion);
}

TEST(MimeJson, PrettyEqualsCompact) {
  ParsedMessage m = parse(kMessage);
  JsonContext ctx;
  std::string compact = toJson(m, ctx);
  ctx.pretty = true;
  std::string pretty = toJson(m, ctx);
  EXPECT_NE(compact, pretty);
  JsonValue a, b;
  ASSERT_TRUE(mx::testing::parseJson(compact, &a));
  ASSERT_TRUE(mx::testing::parseJson(pretty, &b));
  EXPECT_EQ(prettyJson(compact), pretty);
  EXPECT_EQ(a["body"]["text"].s(), b["body"]["text"].s());
}

TEST(MimeJson, Summary) {
  ParseOptions opt;
  opt.trusted_authserv_ids = {"mx.test"};
  ParsedMessage m = parse(kMessage, opt);
  JsonValue v;
  ASSERT_TRUE(mx::testing::parseJson(summaryJson(m), &v));
  EXPECT_EQ(v["subject"].s(), "café");
  EXPECT_EQ(v["from"]["address"].s(), "ana@example.net");
  EXPECT_EQ(v["message_id"].s(), "a@b");
  EXPECT_EQ(v["thread_key"].s(), "t:a@b");
  EXPECT_EQ(v["attachment_count"].num, 1);
  EXPECT_EQ(v["attachments"][0]["sha256"].s().size(), 64u);
  EXPECT_EQ(v["auth"]["spf"].s(), "pass");
  EXPECT_EQ(v["auth"]["dkim"].s(), "none");
}

TEST(MimeJson, FastEscaperMatchesCoreWriter) {
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 80, '\0');
    for (auto& c : s) c = static_cast<char>(rng() % 0x80);  // ASCII incl. controls
    if (i % 3 == 0) s += "\xC3\xA9\xE2\x82\xAC";
    std::string a, b;
    appendJsonStringUtf8(a, s);
    appendJsonString(b, s);
    ASSERT_EQ(a, b);
  }
}

// Random bytes, random MIME-ish soup: the output is always strictly valid and schema-valid.
TEST(MimeJson, AlwaysValidOnGarbage) {
  std::mt19937 rng(11);
  const char* atoms[] = {
      "\r\n",
      "\n",
      "--b\r\n",
      "--b--\r\n",
      "Content-Type: multipart/mixed; boundary=b\r\n",
      "Content-Type: message/rfc822\r\n",
      "Subject: =?utf-8?B?w6k=?=\r\n",
      "Content-Transfer-Encoding: base64\r\n",
      "Content-Transfer-Encoding: quoted-printable\r\n",
      "=C3=A9=\r\n",
      "\xFF\xFE\x00",
      "From: \"a\" <b@c>, (x\r\n",
      ": ",
      " \t",
      "Content-Disposition: attachment; filename*0*=utf-8''%E2%82; filename*1*=%AC\r\n",
      "Date: 31 Feb 99 25:00 +9999\r\n",
      "Content-Type: text/plain; charset=shift_jis\r\n",
      "\x82\xA0\x93\xFA",
      "=?x?Q?",
      "?="};
  for (int i = 0; i < 400; ++i) {
    std::string raw;
    const int n = 1 + rng() % 40;
    for (int k = 0; k < n; ++k) {
      if (rng() % 5 == 0) {
        raw += static_cast<char>(rng());
      } else {
        raw += atoms[rng() % std::size(atoms)];
      }
    }
    ParsedMessage m = parse(raw);
    checkDocument(toJson(m));
    JsonValue s;
    ASSERT_TRUE(mx::testing::parseJson(summaryJson(m), &s));
  }
}

}  // namespace
}  // namespace mx::mime
