// tests/mime/generated_corpus_test.cc — runs ../shared/tools/mime/gen_corpus.py (seeded,
// deterministic) into a temporary directory, parses every message, and compares with the
// generator's ground truth in expected.jsonl: subject, From/To/Cc, Message-ID, In-Reply-To,
// References, thread root, Authentication-Results summary, the MIME tree, and every
// attachment's name, type, disposition, Content-ID, nesting, decoded size and SHA-256.
// CRLF (as received over SMTP) and LF variants. Skips, saying so, where ../shared is absent.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mime/parser.h"
#include "tests/mime/test_util.h"

namespace mx::mime {
namespace {

using mx::testing::JsonValue;

std::string tree(const ParsedMessage& m, size_t i) {
  const Part& p = m.parts[i];
  if (p.role == PartRole::kContainer || p.role == PartRole::kMessage) {
    std::string s = p.content_type + "(";
    for (size_t k = 0; k < p.children.size(); ++k) {
      if (k) s += ",";
      s += tree(m, p.children[k]);
    }
    return s + ")";
  }
  return p.content_type;
}

std::string stripBrackets(std::string_view s) {
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

struct Tally {
  int compared = 0;
  int matched = 0;
  std::ostringstream out;
  void check(const std::string& file, const std::string& what, const std::string& want,
             const std::string& got) {
    ++compared;
    if (want == got) {
      ++matched;
    } else {
      out << file << " " << what << "\n  want: " << want << "\n  got:  " << got << "\n";
    }
  }
};

std::string person(const std::optional<std::string>& name, const std::optional<std::string>& addr) {
  return name.value_or("") + " <" + addr.value_or("") + ">";
}

void compareOne(const std::string& file, const ParsedMessage& m, const JsonValue& e, Tally& t) {
  t.check(file, "subject", e["subject"].str, m.subject.value_or("<none>"));
  t.check(file, "from", person(e["from"]["name"].str, e["from"]["addr"].str),
          m.from.empty() ? "<none>" : person(m.from[0].name, m.from[0].address));
  for (const char* key : {"to", "cc"}) {
    const std::vector<Address>& ours = std::string(key) == "to" ? m.to : m.cc;
    std::string want, got;
    for (const auto& a : e[key].arr) want += person(a["name"].str, a["addr"].str) + ";";
    for (const auto& a : ours) got += person(a.name, a.address) + ";";
    t.check(file, key, want, got);
  }
  t.check(file, "message_id", stripBrackets(e["message_id"].s()), m.message_id.value_or(""));
  t.check(file, "in_reply_to",
          e["in_reply_to"].isString() ? stripBrackets(e["in_reply_to"].str) : "",
          m.in_reply_to.empty() ? "" : m.in_reply_to.front());
  std::string refs_want, refs_got;
  for (const auto& r : e["references"].arr) refs_want += stripBrackets(r.str) + " ";
  for (const auto& r : m.references) refs_got += r + " ";
  t.check(file, "references", refs_want, refs_got);
  t.check(file, "thread_root", stripBrackets(e["thread_root"].s()), m.thread.root_id.value_or(""));
  t.check(file, "auth",
          std::string(e["auth"]["spf"].s()) + "/" + std::string(e["auth"]["dkim"].s()) + "/" +
              std::string(e["auth"]["dmarc"].s()),
          m.auth_summary.spf + "/" + m.auth_summary.dkim + "/" + m.auth_summary.dmarc);
  t.check(file, "mime_tree", e["mime_tree"].str, tree(m, 0));
  std::vector<const Part*> named;
  for (uint32_t i : m.attachments) {
    if (m.parts[i].filename) named.push_back(&m.parts[i]);
  }
  t.check(file, "attachment_count", std::to_string(e["attachments"].size()),
          std::to_string(named.size()));
  for (size_t k = 0; k < std::min(named.size(), e["attachments"].size()); ++k) {
    const JsonValue& a = e["attachments"][k];
    const Part& p = *named[k];
    const std::string w = file + " attachment " + std::to_string(k);
    t.check(w, "filename", a["filename"].str, *p.filename);
    t.check(w, "content_type", a["content_type"].str, p.content_type);
    t.check(w, "disposition", a["disposition"].str, p.disposition.value_or(""));
    t.check(w, "size", std::to_string(static_cast<int64_t>(a["size"].num)),
            std::to_string(p.size.value_or(0)));
    t.check(w, "sha256", a["sha256"].str, p.sha256);
    t.check(w, "nested", a["nested"].b ? "true" : "false", p.nested ? "true" : "false");
    if (a.get("content_id"))
      t.check(w, "content_id", a["content_id"].str, p.content_id.value_or(""));
  }
}

void runGenerated(int seed, int n, bool lf, const char* label) {
  const std::string shared = mx::testing::sharedDir();
  const std::string gen = shared + "/tools/mime/gen_corpus.py";
  if (shared.empty() || !std::filesystem::exists(gen)) {
    GTEST_SKIP() << "../shared/tools/mime/gen_corpus.py not found (set MXGATE_SHARED_DIR); "
                    "generated-corpus comparison skipped";
  }
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("mxgate-mime-gen-" + std::to_string(getpid()) + "-" + label);
  std::filesystem::remove_all(dir);
  const std::string python = mx::testing::envOr("PYTHON", "python3");
  const std::string cmd = python + " " + gen + " --out " + dir.string() + " --seed " +
                          std::to_string(seed) + " --n " + std::to_string(n) + (lf ? " --lf" : "") +
                          " 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "could not run " << cmd;
  ParseOptions opt;
  opt.trusted_authserv_ids = {"mx1.inbound.example"};
  Tally t;
  std::ifstream lines(dir / "expected.jsonl");
  std::string line;
  int messages = 0;
  while (std::getline(lines, line)) {
    JsonValue e;
    ASSERT_TRUE(mx::testing::parseJson(line, &e));
    const std::string file = e["file"].str;
    const std::string raw = mx::testing::readFile((dir / file).string());
    ASSERT_EQ(raw.size(), static_cast<size_t>(e["size"].num)) << file;
    compareOne(file, parse(raw, opt), e, t);
    ++messages;
  }
  std::filesystem::remove_all(dir);
  std::ofstream(mx::testing::failedPath(std::string("generated_") + label)) << t.out.str();
  std::printf("[ generated] seed %d %s: %d messages, %d/%d compared fields match\n", seed,
              lf ? "LF" : "CRLF", messages, t.matched, t.compared);
  EXPECT_EQ(messages, n);
  EXPECT_EQ(t.matched, t.compared) << t.out.str().substr(0, 4000);
}

// MXGATE_TEST_MIME_GEN_COUNT=N runs N messages instead (e.g. 2366 = the 200 MB benchmark corpus
// for seed 7 with MXGATE_TEST_MIME_GEN_SEED=7).
int count(int dflt) {
  return std::atoi(mx::testing::envOr("MXGATE_TEST_MIME_GEN_COUNT", std::to_string(dflt)).c_str());
}
int seed(int dflt) {
  return std::atoi(mx::testing::envOr("MXGATE_TEST_MIME_GEN_SEED", std::to_string(dflt)).c_str());
}

TEST(MimeGeneratedCorpus, Seed5Crlf) { runGenerated(seed(5), count(400), false, "crlf"); }
TEST(MimeGeneratedCorpus, Seed6Lf) { runGenerated(seed(6), count(200), true, "lf"); }

}  // namespace
}  // namespace mx::mime
