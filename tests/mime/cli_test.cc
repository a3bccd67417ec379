// tests/mime/cli_test.cc — runParseCommand (`mxgate parse`): one JSON line per file, the
// summary and pretty forms, options, directories, --jobs (same output, in input order, for
// any number of workers), and the exit codes for unreadable files and bad usage.
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

// Many files through several workers: the documents come out in input order, identical to
// one worker's, whatever order the workers finish in (sizes vary so they do not finish in
// turn).
TEST_F(MimeCli, JobsKeepInputOrder) {
  std::vector<std::string> files;
  for (int i = 0; i < 200; ++i) {
    const std::string p = (dir_ / ("m" + std::to_string(1000 + i) + ".eml")).string();
    std::string body((i % 7) * 20000, 'x');
    mx::testing::writeFile(p, "Subject: message " + std::to_string(i) + "\r\n\r\n" + body);
    files.push_back(p);
  }
  std::vector<std::string> args = {"--jobs=1"};
  args.insert(args.end(), files.begin(), files.end());
  ASSERT_EQ(run(args), 0);
  const std::string one = out_.str();
  auto l = lines();
  ASSERT_EQ(l.size(), 200u);
  for (int i = 0; i < 200; ++i) {
    mx::testing::JsonValue v;
    ASSERT_TRUE(mx::testing::parseJson(l[i], &v));
    EXPECT_EQ(v["subject"].s(), "message " + std::to_string(i));
  }
  for (const char* jobs : {"--jobs=2", "--jobs=8"}) {
    args[0] = jobs;
    ASSERT_EQ(run(args), 0);
    EXPECT_TRUE(out_.str() == one) << jobs;
  }
  args = {"--jobs", "3"};
  args.insert(args.end(), files.begin(), files.end());
  ASSERT_EQ(run(args), 0);
  EXPECT_TRUE(out_.str() == one);
  args.erase(args.begin(), args.begin() + 2);  // default: all cores
  ASSERT_EQ(run(args), 0);
  EXPECT_TRUE(out_.str() == one);
  // An unreadable file in the middle: reported, the others printed in order, exit 1.
  args = {"--jobs=4", files[0], (dir_ / "missing.eml").string(), files[1]};
  EXPECT_EQ(run(args), 1);
  ASSERT_EQ(lines().size(), 2u);
  EXPECT_NE(lines()[1].find("message 1\""), std::string::npos);
  EXPECT_NE(err_.str().find("missing.eml"), std::string::npos);
}

// A directory stands for its files, recursively, sorted by path; dot files are skipped.
TEST_F(MimeCli, DirectoriesExpandSorted) {
  const auto d = dir_ / "tree";
  std::filesystem::create_directories(d / "sub");
  std::filesystem::create_directories(d / ".hidden");
  mx::testing::writeFile((d / "b.eml").string(), "Subject: b\r\n\r\nx");
  mx::testing::writeFile((d / "a.eml").string(), "Subject: a\r\n\r\nx");
  mx::testing::writeFile((d / "sub" / "c").string(), "Subject: c\r\n\r\nx");
  mx::testing::writeFile((d / ".skip.eml").string(), "Subject: skip\r\n\r\nx");
  mx::testing::writeFile((d / ".hidden" / "h.eml").string(), "Subject: hidden\r\n\r\nx");
  for (const char* jobs : {"--jobs=1", "--jobs=2"}) {
    ASSERT_EQ(run({jobs, d.string(), a_}), 0) << err_.str();
    auto l = lines();
    ASSERT_EQ(l.size(), 4u) << jobs;
    const char* want[] = {"a", "b", "c", "first"};
    for (size_t i = 0; i < 4; ++i) {
      mx::testing::JsonValue v;
      ASSERT_TRUE(mx::testing::parseJson(l[i], &v));
      EXPECT_EQ(v["subject"].s(), want[i]) << jobs << " line " << i;
    }
  }
}

TEST_F(MimeCli, ErrorsAndUsage) {
  EXPECT_EQ(run({(dir_ / "missing.eml").string(), a_}), 1);
  EXPECT_EQ(lines().size(), 1u);  // the readable file is still printed
  EXPECT_NE(err_.str().find("cannot read"), std::string::npos);
  EXPECT_EQ(run({}), 2);
  EXPECT_EQ(run({"--bogus", a_}), 2);
  EXPECT_EQ(run({"--max-depth=x", a_}), 2);
  EXPECT_EQ(run({"--jobs=0", a_}), 2);
  EXPECT_EQ(run({"--jobs"}), 2);
  EXPECT_EQ(run({"--jobs=two", a_}), 2);
  EXPECT_EQ(run({"--help"}), 0);
}

}  // namespace
}  // namespace mx::mime
