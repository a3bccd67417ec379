// tests/mime/corpus_test.cc — every message of every corpus in ../shared/corpus (or
// MXGATE_CORPUS_DIR), with its line endings as stored and converted to CRLF and to LF:
// parse without crashing, render JSON that a strict parser accepts, and validate it against
// schemas/parsed-email.schema.json. Skips, saying so, when the corpora are absent.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>

#include "mime/json.h"
#include "mime/parser.h"
#include "tests/mime/schema_validator.h"
#include "tests/mime/test_util.h"

namespace mx::mime {
namespace {

using mx::testing::JsonValue;

TEST(MimeCorpus, EveryMessageParsesAndValidates) {
  const std::string root = mx::testing::corpusDir();
  if (root.empty()) {
    GTEST_SKIP() << "shared corpus not found: set MXGATE_CORPUS_DIR or put ../shared/corpus "
                    "beside the source tree";
  }
  JsonValue schema;
  ASSERT_TRUE(mx::testing::parseJsonFile(
      mx::testing::sourceDir() + "/schemas/parsed-email.schema.json", &schema));
  mx::testing::SchemaValidator validator(schema);
  const auto messages = mx::testing::corpusMessages(root);
  ASSERT_GT(messages.size(), 100u);
  std::map<std::string, int> per_corpus;
  std::map<std::string, int> error_codes;
  std::ofstream failed(mx::testing::failedPath("corpus"));
  int documents = 0, bad = 0;
  for (const auto& msg : messages) {
    const std::string corpus = msg.name.substr(0, msg.name.find('/'));
    ++per_corpus[corpus];
    const std::string variants[] = {msg.bytes, mx::testing::toCrlf(msg.bytes),
                                    mx::testing::toLf(msg.bytes)};
    for (int v = 0; v < 3; ++v) {
      ParsedMessage m = parse(variants[v]);
      const std::string json = toJson(m);
      JsonValue doc;
      std::string err;
      ++documents;
      if (!mx::testing::parseJson(json, &doc, &err)) {
        ++bad;
        failed << msg.name << " [" << v << "] invalid JSON: " << err << "\n";
        continue;
      }
      auto errors = validator.validate(doc);
      if (!errors.empty()) {
        ++bad;
        failed << msg.name << " [" << v << "] schema: " << errors.front() << "\n";
      }
      if (v == 0) {
        for (const auto& e : m.errors) ++error_codes[std::string(errorCodeName(e.code))];
      }
    }
  }
  std::printf("[ corpus   ] %zu messages, %d JSON documents (as stored, CRLF, LF), %d invalid\n",
              messages.size(), documents, bad);
  for (const auto& [c, n] : per_corpus) std::printf("[ corpus   ]   %-24s %d\n", c.c_str(), n);
  std::printf("[ corpus   ] errors[] codes seen:");
  for (const auto& [c, n] : error_codes) std::printf(" %s=%d", c.c_str(), n);
  std::printf("\n");
  EXPECT_EQ(bad, 0) << "see corpus.failed";
}

}  // namespace
}  // namespace mx::mime
