// Tests for core/json_writer: structure, escaping and UTF-8 repair.
#include "core/json_writer.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

TEST(JsonWriter, NestedStructure) {
  std::string out;
  JsonWriter w(out);
  w.beginObject().field("a", 1).key("b").beginArray().value("x").value(true).null().endArray();
  w.field("c", int64_t{-5}).key("d").beginObject().endObject().endObject();
  EXPECT_EQ(out, R"({"a":1,"b":["x",true,null],"c":-5,"d":{}})");
  EXPECT_TRUE(w.allValidUtf8());
}

TEST(JsonWriter, EscapesControlAndQuotes) {
  std::string out;
  appendJsonString(out, std::string("a\"b\\c\n\r\t\x01\x7f", 10));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\r\\t\\u0001\x7f\"");
}

TEST(JsonWriter, KeepsValidUtf8) {
  std::string out;
  EXPECT_TRUE(appendJsonString(out, "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_EQ(out, "\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\"");
}

TEST(JsonWriter, ReplacesInvalidUtf8) {
  struct Case { std::string in; std::string want; };
  const Case cases[] = {
      {"\xFF", "\"\xEF\xBF\xBD\""},
      {"\xC3", "\"\xEF\xBF\xBD\""},                       // truncated sequence
      {"\xC0\xAF", "\"\xEF\xBF\xBD\xEF\xBF\xBD\""},       // overlong
      {"\xED\xA0\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""},  // surrogate
      {"a\xE9z", "\"a\xEF\xBF\xBDz\""},                   // latin-1 byte
  };
  for (const auto& c : cases) {
    std::string out;
    EXPECT_FALSE(appendJsonString(out, c.in));
    EXPECT_EQ(out, c.want);
  }
}

TEST(JsonWriter, NonFiniteDoubleIsNull) {
  std::string out;
  JsonWriter w(out);
  w.beginArray().value(1.5).value(1.0 / 0.0).endArray();
  EXPECT_EQ(out, "[1.5,null]");
}

}  // namespace
}  // namespace mx
