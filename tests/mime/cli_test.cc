// tests/mime/cli_test.cc — runParseCommand (`mxgate parse`): one JSON line per file, the
// summary and pretty forms, options, and the exit codes for unreadable files and bad usage.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "mime/cli.h"
#include "tests/mime/json_value.h"
#include "tests/mime/test_util.h"

namespace mx::mime {
namespace {

class MimeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("mxgate-mime-cli-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    a_ = (dir_ / "a.eml").string();
    b_ = (dir_ / "b.eml").string();
    mx::testing::writeFile(a_, "Subject: first\r\nAuthentication-Results: mx.test; spf=pass\r\n\r\nbody\r\n");
    mx::testing::writeFile(b_, "no headers at all\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  int run(const std::vector<std::string>& args) {
    out_.str("");
    err_.str("");
    return runParseCommand(args, out_, err_);
  }
  std::vector<std::string> lines() const {
    std::vector<std::string> v;
    std::istringstream in(out_.str());
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  }

  std::filesystem::path dir_;
  std::string a_, b_;
  std::ostringstream out_, err_;
};

TEST_F(MimeCli, OneDocumentPerLine) {
  EXPECT_EQ(run({a_, b_}), 0);
  auto l = lines();
  ASSERT_EQ(l.size(), 2u);
  mx::testing::JsonValue v;
  ASSERT_TRUE(mx::testing::parseJson(l[0], &v));
  EXPECT_EQ(v["subject"].s(), "first");
  EXPECT_FALSE(v["auth"]["results"][0]["trusted"].b);
  ASSERT_TRUE(mx::testing::parseJson(l[1], &v));
  EXPECT_EQ(v["errors"][0]["code"].s(), "NO_HEADERS");
}

TEST_F(MimeCli, SummaryTrustAndPretty) {
  EXPECT_EQ(run({"--summary", "--trust=mx.test", a_}), 0);
  mx::testing::JsonValue v;
  ASSERT_TRUE(mx::testing::parseJson(out_.str(), &v));
  EXPECT_EQ(v["auth"]["spf"].s(), "pass");
  EXPECT_EQ(run({"--pretty", "--max-depth=3", a_}), 0);
  EXPECT_NE(out_.str().find("\n  \"schema_version\": 3"), std::string::npos);
  ASSERT_TRUE(mx::testing::parseJson(out_.str(), &v));
}

TEST_F(MimeCli, ErrorsAndUsage) {
  EXPECT_EQ(run({(dir_ / "missing.eml").string(), a_}), 1);
  EXPECT_EQ(lines().size(), 1u);  // the readable file is still printed
  EXPECT_NE(err_.str().find("cannot read"), std::string::npos);
  EXPECT_EQ(run({}), 2);
  EXPECT_EQ(run({"--bogus", a_}), 2);
  EXPECT_EQ(run({"--max-depth=x", a_}), 2);
  EXPECT_EQ(run({"--help"}), 0);
}

}  // namespace
}  // namespace mx::mime
