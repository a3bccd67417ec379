// tests/mime/compare_mime4j_test.cc — compares our entity tree and transfer-decoded bodies
// with Apache mime4j's expected outputs (corpus mime4j: testmsgs/ and the MIME-tools
// mimetools-testmsgs/): X_decoded.xml gives the tree (<message>, <body-part>, leaf
// <text-body|binary-body name="X_decoded_1_2.txt"/>), and each named file holds the decoded
// (not charset-converted) body. Compared: entity count, leaf count, each leaf's bytes.
// Reports agreement, writes differences to mime4j.failed, fails below a floor.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "mime/parser.h"
#include "tests/mime/test_util.h"

namespace mx::mime {
namespace {

struct Expected {
  int entities = 0;
  std::vector<std::string> leaf_files;  // in pre-order
};

// Reads the tree from X_decoded.xml: every <message> and <body-part> opens an entity.
Expected readTree(const std::string& xml) {
  Expected e;
  static const std::regex tag(R"re(<(/?)(message|body-part|text-body|binary-body)\b([^>]*)>)re");
  static const std::regex name(R"re(name="([^"]*)")re");
  for (auto it = std::sregex_iterator(xml.begin(), xml.end(), tag); it != std::sregex_iterator();
       ++it) {
    const auto& m = *it;
    if (m[1].length() != 0) continue;  // closing tag
    const std::string t = m[2];
    if (t == "message" || t == "body-part") {
      ++e.entities;
    } else {
      std::smatch n;
      const std::string attrs = m[3];
      if (std::regex_search(attrs, n, name)) e.leaf_files.push_back(n[1]);
    }
  }
  return e;
}

TEST(MimeCompareMime4j, DecodedTreesAndBodies) {
  const std::string root = mx::testing::corpusDir();
  if (root.empty()) GTEST_SKIP() << "shared corpus not found (set MXGATE_CORPUS_DIR)";
  int messages = 0, compared = 0, matched = 0;
  int tree_cmp = 0, tree_ok = 0, body_cmp = 0, body_ok = 0;
  std::ostringstream failures;
  for (const char* sub : {"mime4j/testmsgs", "mime4j/mimetools-testmsgs"}) {
    const std::string dir = root + "/" + sub;
    if (!std::filesystem::is_directory(dir)) continue;
    std::vector<std::filesystem::path> msgs;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (e.path().extension() == ".msg") msgs.push_back(e.path());
    }
    std::sort(msgs.begin(), msgs.end());
    for (const auto& path : msgs) {
      const std::string stem = dir + "/" + path.stem().string();
      if (!std::filesystem::exists(stem + "_decoded.xml")) continue;
      ++messages;
      const Expected exp = readTree(mx::testing::readFile(stem + "_decoded.xml"));
      const std::string raw = mx::testing::readFile(path.string());
      ParsedMessage m = parse(raw);
      const std::string name = path.filename().string();
      // Entities: mime4j lists a multipart without parts, or a message/rfc822, the same way.
      ++compared;
      ++tree_cmp;
      if (static_cast<int>(m.parts.size()) == exp.entities) {
        ++matched;
        ++tree_ok;
      } else {
        failures << name << " entities want " << exp.entities << " got " << m.parts.size() << "\n";
      }
      std::vector<size_t> leaves;
      for (size_t i = 0; i < m.parts.size(); ++i) {
        const Part& p = m.parts[i];
        if (p.role != PartRole::kContainer && p.role != PartRole::kMessage) leaves.push_back(i);
      }
      ++compared;
      ++tree_cmp;
      if (leaves.size() == exp.leaf_files.size()) {
        ++matched;
        ++tree_ok;
      } else {
        failures << name << " leaves want " << exp.leaf_files.size() << " got " << leaves.size()
                 << "\n";
      }
      for (size_t k = 0; k < std::min(leaves.size(), exp.leaf_files.size()); ++k) {
        const std::string want = mx::testing::readFile(dir + "/" + exp.leaf_files[k]);
        std::string got;
        decodeBody(m, leaves[k], got);
        ++compared;
        ++body_cmp;
        if (got == want) {
          ++matched;
          ++body_ok;
        } else {
          failures << name << " body " << exp.leaf_files[k] << " (our part "
                   << m.parts[leaves[k]].part_id << ") differs: want " << want.size()
                   << " bytes, got " << got.size() << "\n";
        }
      }
    }
  }
  if (messages == 0) GTEST_SKIP() << "mime4j corpus absent";
  std::ofstream(mx::testing::failedPath("mime4j")) << failures.str();
  std::printf(
      "[ mime4j   ] %d messages: %d/%d compared fields match (tree %d/%d, decoded bodies %d/%d)\n",
      messages, matched, compared, tree_ok, tree_cmp, body_ok, body_cmp);
  EXPECT_GE(matched, compared * 85 / 100) << "see mime4j.failed";
}

}  // namespace
}  // namespace mx::mime
