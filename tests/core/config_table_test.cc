// tests/core/config_table_test.cc — field tables: every type from TOML-typed and text
// input, range/choice/non-empty checks with messages that say what the value must be,
// defaults rendered from the default-constructed struct, secrets never rendered, units.
#include "core/config_table.h"

#include <gtest/gtest.h>

namespace mx::config {
namespace {

struct Opts {
  std::string name = "mx";
  bool flag = true;
  uint32_t count = 7;
  uint64_t size = 50ull << 20;
  Millis wait{30'000};
  std::vector<std::string> list = {"a", "b"};
  std::string mode = "fast";
  std::string password = "hunter2";
  struct Inner {
    uint32_t depth = 3;
  } inner;
};

const Table<Opts>& table() {
  static const Table<Opts> t = [] {
    Table<Opts> t("sec", "a test section");
    t.add("name", &Opts::name, "a name", Check::nonEmpty());
    t.add("flag", &Opts::flag, "a flag");
    t.add("count", &Opts::count, "a count", Check::between(1, 100));
    t.add("size", &Opts::size, "a size", Check::atLeast(1024));
    t.add("wait", &Opts::wait, "a wait");
    t.add("list", &Opts::list, "a list");
    t.add("mode", &Opts::mode, "a mode", Check::oneOf({"fast", "safe"}));
    t.secret("password", [](Opts& o) -> std::string& { return o.password; }, "a secret");
    t.add("depth", [](Opts& o) -> uint32_t& { return o.inner.depth; }, "nested member");
    return t;
  }();
  return t;
}

std::string set(Opts& o, const std::string& key, const Input& in) { return table().find(key)->set(o, in); }

Input typed(Input::Kind k) {
  Input i;
  i.kind = k;
  return i;
}

TEST(ConfigTable, TextInputForEveryType) {
  Opts o;
  EXPECT_EQ(set(o, "name", Input::fromText("mx2")), "");
  EXPECT_EQ(set(o, "flag", Input::fromText("no")), "");
  EXPECT_EQ(set(o, "count", Input::fromText("42")), "");
  EXPECT_EQ(set(o, "size", Input::fromText("64KiB")), "");
  EXPECT_EQ(set(o, "wait", Input::fromText("5m")), "");
  EXPECT_EQ(set(o, "list", Input::fromText(" x , y,,z ")), "");
  EXPECT_EQ(set(o, "depth", Input::fromText("9")), "");
  EXPECT_EQ(o.name, "mx2");
  EXPECT_FALSE(o.flag);
  EXPECT_EQ(o.count, 42u);
  EXPECT_EQ(o.size, 64u * 1024);
  EXPECT_EQ(o.wait, Millis(300'000));
  EXPECT_EQ(o.list, (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(o.inner.depth, 9u);
}

TEST(ConfigTable, TypedInputAndTypeMismatches) {
  Opts o;
  Input i = typed(Input::Kind::kInteger);
  i.integer = 5000;
  EXPECT_EQ(set(o, "size", i), "");  // an integer is bytes
  EXPECT_EQ(o.size, 5000u);
  EXPECT_EQ(set(o, "name", i), "must be a string");
  EXPECT_EQ(set(o, "wait", i).rfind("must be a duration", 0), 0u);  // durations need a unit
  i.integer = -1;
  EXPECT_EQ(set(o, "count", i), "must be a non-negative integer");
  Input b = typed(Input::Kind::kBool);
  b.boolean = false;
  EXPECT_EQ(set(o, "flag", b), "");
  EXPECT_FALSE(o.flag);
  EXPECT_EQ(set(o, "count", b), "must be a non-negative integer");
  Input s = typed(Input::Kind::kString);
  s.text = "true";
  EXPECT_EQ(set(o, "flag", s), "must be a boolean");  // a TOML string is not a boolean
  Input l = typed(Input::Kind::kList);
  l.list = {"p", "q"};
  EXPECT_EQ(set(o, "list", l), "");
  EXPECT_EQ(o.list.size(), 2u);
}

TEST(ConfigTable, ChecksSayWhatTheValueMustBe) {
  Opts o;
  EXPECT_EQ(set(o, "count", Input::fromText("0")), "must be between 1 and 100");
  EXPECT_EQ(set(o, "count", Input::fromText("101")), "must be between 1 and 100");
  EXPECT_EQ(set(o, "count", Input::fromText("4294967296")), "must be a non-negative integer");
  EXPECT_EQ(set(o, "size", Input::fromText("10")), "must be at least 1KiB");
  EXPECT_EQ(set(o, "size", Input::fromText("10 parsecs")).rfind("must be a size", 0), 0u);
  EXPECT_EQ(set(o, "mode", Input::fromText("reckless")), "must be one of \"fast\", \"safe\"");
  EXPECT_EQ(set(o, "name", Input::fromText("")), "must not be empty");
  EXPECT_EQ(o.count, 7u);  // a refused value leaves the old one
  EXPECT_EQ(o.mode, "fast");
}

TEST(ConfigTable, DefaultsComeFromTheStructAndSecretsAreNotShown) {
  auto rows = docRows(table(), Opts{});
  ASSERT_EQ(rows.size(), 9u);
  EXPECT_EQ(rows[0].key, "sec.name");
  EXPECT_EQ(rows[0].default_value, "\"mx\"");
  EXPECT_EQ(rows[2].default_value, "7");
  EXPECT_EQ(rows[3].default_value, "\"50MiB\"");
  EXPECT_EQ(rows[4].default_value, "\"30s\"");
  EXPECT_EQ(rows[5].default_value, "[\"a\", \"b\"]");
  EXPECT_NE(rows[6].help.find("`\"safe\"`"), std::string::npos);
  EXPECT_EQ(rows[7].default_value, "(secret)");
  EXPECT_NE(rows[7].help.find("password_file"), std::string::npos);
  for (const auto& r : rows) EXPECT_EQ(r.default_value.find("hunter2"), std::string::npos);
}

TEST(ConfigTable, Units) {
  uint64_t b;
  EXPECT_TRUE(parseSize("1GiB", &b));
  EXPECT_EQ(b, 1ull << 30);
  EXPECT_TRUE(parseSize("10MB", &b));
  EXPECT_EQ(b, 10'000'000u);
  EXPECT_FALSE(parseSize("99999999999999999999", &b));
  EXPECT_FALSE(parseSize("1TiB", &b));
  Millis d;
  EXPECT_TRUE(parseDuration("1h", &d));
  EXPECT_EQ(d, Millis(3'600'000));
  EXPECT_FALSE(parseDuration("5", &d));
  EXPECT_EQ(formatSize(1536), "1536");
  EXPECT_EQ(formatSize(3ull << 20), "3MiB");
  EXPECT_EQ(formatDuration(Millis(90'000)), "90s");
  EXPECT_EQ(formatDuration(Millis(120'000)), "2m");
  EXPECT_EQ(formatDuration(Millis(1500)), "1500ms");
}

}  // namespace
}  // namespace mx::config
