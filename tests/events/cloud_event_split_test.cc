// Tests for events::splitCloudEvent: a real mxgate.message.received event splits into its
// attributes (document order) and the exact text of `data`; escapes, surrogate pairs, numbers,
// booleans and null attributes; and the refusals, each named: every proper prefix of a valid
// event, duplicates, names outside the CloudEvents rule, structured attributes, bad UTF-8,
// lone surrogates, text after the object; and each limit walked across its boundary.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "events/cloud_event.h"
#include "events/cloud_event_split.h"

namespace mx::events {
namespace {

using nlohmann::json;

std::string realEvent() {
  Envelope e;
  e.id = *MessageId::parse("01HF0000000000000000000000");
  e.listener = "smtp";
  e.tenant = "acme";
  e.received_at = WallTime(std::chrono::milliseconds(1700000000123ll));
  e.mail_from = "alice@example.org";
  e.rcpt_to = {"bob@acme.test"};
  e.helo = "mail.example.org\"\\\x01";
  MessageReceived m;
  m.envelope = &e;
  m.hostname = "mx1.example.net";
  m.tenant = "acme";
  m.size = 1234;
  m.sha256 = std::string(64, 'a');
  m.raw_key = "acme/raw/2023/11/14/01HF0000000000000000000000.eml";
  m.summary_json = R"({"subject":"h\u00e9llo \ud83d\ude00"})";
  return buildMessageReceivedJson(m);
}

std::string errorOf(std::string_view text, const SplitLimits& limits = {}) {
  auto r = splitCloudEvent(text, limits);
  if (r.ok()) return "(ok)";
  EXPECT_EQ(r.error().errorClass(), ErrorClass::kProtocol);
  return r.error().message();
}

TEST(CloudEventSplit, RealEventSplitsIntoAttributesAndExactData) {
  const std::string text = realEvent();
  auto parts = splitCloudEvent(text);
  ASSERT_TRUE(parts.ok()) << parts.error().message();
  const json j = json::parse(text);

  std::vector<std::string> names;
  for (const auto& [n, v] : parts->attributes) {
    names.push_back(n);
    EXPECT_EQ(v, j.at(n).get<std::string>()) << n;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"specversion", "type", "source", "id", "time", "datacontenttype",
                                             "subject", "traceparent"}));
  ASSERT_TRUE(parts->data.has_value());
  EXPECT_EQ(json::parse(*parts->data), j.at("data"));
  // The exact bytes: a span of the input, from '{' to its matching '}'.
  const size_t at = text.find("\"data\":") + 7;
  EXPECT_EQ(parts->data->data(), text.data() + at);
  EXPECT_EQ(parts->data->back(), '}');
  ASSERT_NE(parts->find("id"), nullptr);
  EXPECT_EQ(*parts->find("id"), "01HF0000000000000000000000");
  EXPECT_EQ(parts->find("nope"), nullptr);
}

TEST(CloudEventSplit, ScalarsEscapesAndNull) {
  auto parts = splitCloudEvent(
      " {\"id\" : \"a\\u00e9\\ud83d\\ude00\\n\\\"\\/\\\\\\t\", \"seq\":-12.5e+3, \"n0\":0, \"yes\":true, \"no\":false,"
      " \"gone\":null, \"data\":\"text\"}\r\n");
  ASSERT_TRUE(parts.ok()) << parts.error().message();
  ASSERT_EQ(parts->attributes.size(), 5u);
  EXPECT_EQ(*parts->find("id"), "a\xC3\xA9\xF0\x9F\x98\x80\n\"/\\\t");
  EXPECT_EQ(*parts->find("seq"), "-12.5e+3");
  EXPECT_EQ(*parts->find("n0"), "0");
  EXPECT_EQ(*parts->find("yes"), "true");
  EXPECT_EQ(*parts->find("no"), "false");
  EXPECT_EQ(parts->find("gone"), nullptr);  // null: absent
  EXPECT_EQ(*parts->data, "\"text\"");
}

TEST(CloudEventSplit, EmptyObjectAndNoData) {
  auto parts = splitCloudEvent("{}");
  ASSERT_TRUE(parts.ok());
  EXPECT_TRUE(parts->attributes.empty());
  EXPECT_FALSE(parts->data.has_value());
  auto d = splitCloudEvent(R"({"data":null})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d->data, "null");
}

TEST(CloudEventSplit, EveryProperPrefixOfAValidEventIsRefused) {
  const std::string text = realEvent();
  int refused = 0;
  for (size_t n = 0; n < text.size(); ++n) {
    auto r = splitCloudEvent(std::string_view(text).substr(0, n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().errorClass(), ErrorClass::kProtocol);
    ++refused;
  }
  EXPECT_GT(refused, 500);
}

TEST(CloudEventSplit, RefusalsNameTheProblem) {
  EXPECT_EQ(errorOf(R"({"id":"a","id":"b"})"), "cloudevent: duplicate attribute \"id\" at offset 10");
  EXPECT_EQ(errorOf(R"({"data":1,"data":2})"), "cloudevent: duplicate member \"data\" at offset 10");
  EXPECT_EQ(errorOf(R"({"ID":"x"})"), "cloudevent: attribute name is not lower-case a-z0-9 at offset 1");
  EXPECT_EQ(errorOf(R"({"ce_id":"x"})"), "cloudevent: attribute name is not lower-case a-z0-9 at offset 1");
  EXPECT_EQ(errorOf(R"({"":"x"})"), "cloudevent: attribute name is not lower-case a-z0-9 at offset 1");
  EXPECT_EQ(errorOf(R"({"source":{"a":1}})"), "cloudevent: attribute \"source\" is an object or array at offset 10");
  EXPECT_EQ(errorOf(R"({"id":"a"} x)"), "cloudevent: text after the object at offset 11");
  EXPECT_EQ(errorOf(R"([1])"), "cloudevent: '{' expected at offset 0");
  EXPECT_EQ(errorOf(""), "cloudevent: '{' expected at offset 0");
  EXPECT_EQ(errorOf(R"({"id":"a",})"), "cloudevent: member name expected at offset 10");
  EXPECT_EQ(errorOf(R"({"id" "a"})"), "cloudevent: ':' expected at offset 6");
  EXPECT_EQ(errorOf(R"({"id":"\ud800"})"), "cloudevent: unpaired high surrogate at offset 7");
  EXPECT_EQ(errorOf(R"({"id":"\ud800\u0041"})"), "cloudevent: unpaired high surrogate at offset 7");
  EXPECT_EQ(errorOf(R"({"id":"\udc00"})"), "cloudevent: unpaired low surrogate at offset 7");
  EXPECT_EQ(errorOf(R"({"id":"\x"})"), "cloudevent: invalid escape at offset 7");
  EXPECT_EQ(errorOf(R"({"id":"\u12g4"})"), "cloudevent: invalid \\u escape at offset 7");
  EXPECT_EQ(errorOf("{\"id\":\"a\tb\"}"), "cloudevent: control character in string at offset 8");
  EXPECT_EQ(errorOf("{\"id\":\"\xC0\x80\"}"), "cloudevent: invalid UTF-8 lead byte at offset 7");         // overlong
  EXPECT_EQ(errorOf("{\"id\":\"\xED\xA0\x80\"}"), "cloudevent: invalid UTF-8 sequence at offset 7");      // surrogate
  EXPECT_EQ(errorOf("{\"id\":\"\xF4\x90\x80\x80\"}"), "cloudevent: invalid UTF-8 sequence at offset 7");  // > U+10FFFF
  EXPECT_EQ(errorOf("{\"id\":\"\xE2\x82\"}"), "cloudevent: invalid UTF-8 sequence at offset 7");
  EXPECT_EQ(errorOf(R"({"n":01})"), "cloudevent: ',' or '}' expected at offset 6");
  EXPECT_EQ(errorOf(R"({"n":1.})"), "cloudevent: invalid number fraction at offset 7");
  EXPECT_EQ(errorOf(R"({"n":1e})"), "cloudevent: invalid number exponent at offset 7");
  EXPECT_EQ(errorOf(R"({"n":-})"), "cloudevent: invalid number at offset 6");
  EXPECT_EQ(errorOf(R"({"n":tru})"), "cloudevent: invalid literal at offset 5");
  EXPECT_EQ(errorOf(R"({"data":[1,]})"), "cloudevent: value expected at offset 11");
  EXPECT_EQ(errorOf(R"({"data":{"a" 1}})"), "cloudevent: ':' expected at offset 13");
  EXPECT_EQ(errorOf(R"({"data":{1:2}})"), "cloudevent: member name expected at offset 9");
  // Valid escapes still fine right beside the refusals.
  EXPECT_EQ(errorOf(R"({"id":"\ud83d\ude00","data":[1,{"a":[]}]})"), "(ok)");
}

TEST(CloudEventSplit, DepthLimitAcrossItsBoundary) {
  SplitLimits limits;
  limits.max_depth = 4;
  // data at depth 2 (the event object is depth 1): [[[]]] reaches depth 4.
  EXPECT_EQ(errorOf(R"({"data":[[[]]]})", limits), "(ok)");
  EXPECT_EQ(errorOf(R"({"data":[[[[]]]]})", limits), "cloudevent: nesting deeper than 4 at offset 11");
  // The default limit holds against a deep input without deep recursion.
  const std::string deep = "{\"data\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_NE(errorOf(deep).find("nesting deeper than 64"), std::string::npos);
}

TEST(CloudEventSplit, AttributeAndSizeLimitsAcrossTheirBoundary) {
  SplitLimits limits;
  limits.max_attributes = 3;
  EXPECT_EQ(errorOf(R"({"a":"1","b":"2","c":"3","n":null,"data":{}})", limits), "(ok)");
  EXPECT_EQ(errorOf(R"({"a":"1","b":"2","c":"3","d":"4"})", limits), "cloudevent: more than 3 attributes at offset 25");
  const std::string text = R"({"id":"abc"})";
  limits.max_bytes = text.size();
  EXPECT_EQ(errorOf(text, limits), "(ok)");
  limits.max_bytes = text.size() - 1;
  EXPECT_EQ(errorOf(text, limits), "cloudevent: 12 bytes, more than the limit of 11");
}

}  // namespace
}  // namespace mx::events
