// fuzz/mime/mime_json_fuzz.cc — libFuzzer target over the JSON rendering: parse, render the
// full document (compact, and pretty for some inputs) and the event summary, then require
// each to be one strictly valid RFC 8259 JSON text (tests/mime/json_value.h: no invalid
// UTF-8, no raw control characters, nothing trailing) with the schema's required members.
// Trust: the input is arbitrary bytes.
#include <cstdint>
#include <string>

#include "fuzz/mime/fuzz_options.h"
#include "mime/json.h"
#include "mime/parser.h"
#include "tests/mime/json_value.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mx::mime::ParseOptions opt;
  const std::string_view raw = mx::fuzz::splitOptions(data, size, &opt);
  const mx::mime::ParsedMessage m = mx::mime::parse(raw, opt);
  mx::mime::JsonContext ctx;
  ctx.pretty = size % 3 == 0;
  ctx.offsets = size % 2 == 0;
  ctx.attachment_refs.assign(m.attachments.size() / 2, "ref\"\\\x01");
  const std::string doc = mx::mime::toJson(m, ctx);
  mx::testing::JsonValue v;
  check(mx::testing::parseJson(doc, &v));
  static const char* kRequired[] = {"schema_version", "raw",         "headers",    "subject",
                                    "from",           "to",          "cc",         "date",
                                    "message_id",     "in_reply_to", "references", "body",
                                    "attachments",    "parts",       "auth",       "errors"};
  for (const char* k : kRequired) check(v.get(k) != nullptr);
  check(v["parts"].size() == m.parts.size());
  check(v["headers"].size() == m.top_field_count);
  for (const auto& a : v["attachments"].arr) check(a["sha256"].str.size() == 64);
  mx::testing::JsonValue s;
  check(mx::testing::parseJson(mx::mime::summaryJson(m, ctx), &s));
  return 0;
}
