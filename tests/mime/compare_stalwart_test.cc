// tests/mime/compare_stalwart_test.cc — compares our parse of the Stalwart mail-parser
// corpus (rfc/, malformed/, thirdparty/) with mail-parser's expected output that ships with
// it: X.json for the message as stored (LF) and X.crlf.json for it converted to CRLF.
// Compared: part count, each part's content type, decoded text and binary bodies, subject,
// From/To addresses, Message-ID and attachment file names. Reports the agreement, writes
// every difference to stalwart.failed, and fails below a floor.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mime/charset.h"
#include "mime/parser.h"
#include "tests/mime/test_util.h"

namespace mx::mime {
namespace {

using mx::testing::JsonValue;

struct Tally {
  int compared = 0;
  int matched = 0;
  int eol_only = 0;  // bodies that differ only in CRLF vs LF (QP hard breaks, RFC 2045 6.7)
  std::map<std::string, std::pair<int, int>> by_kind;  // kind -> (matched, compared)
  std::ostringstream out;
  void check(const std::string& where, const std::string& kind, const std::string& want,
             const std::string& got) {
    ++compared;
    auto& k = by_kind[kind];
    ++k.second;
    if (want == got) {
      ++matched;
      ++k.first;
    } else {
      out << where << " " << kind << "\n  want: " << want.substr(0, 300)
          << "\n  got:  " << got.substr(0, 300) << "\n";
    }
  }
};

// mail-parser's tree in pre-order, nested messages inlined like our part list.
void flatten(const JsonValue& message, std::vector<const JsonValue*>& out) {
  const JsonValue& parts = message["parts"];
  std::function<void(size_t)> visit = [&](size_t i) {
    if (i >= parts.size()) return;
    const JsonValue& p = parts[i];
    out.push_back(&p);
    const JsonValue& body = p["body"];
    if (const JsonValue* mp = body.get("Multipart")) {
      for (const auto& c : mp->arr) visit(static_cast<size_t>(c.num));
    } else if (const JsonValue* m = body.get("Message")) {
      flatten(*m, out);
    }
  };
  visit(0);
}

const JsonValue* header(const JsonValue& part, std::string_view name) {
  for (const auto& h : part["headers"].arr) {
    if (h["name"].isString() && h["name"].str == name) return &h["value"];
  }
  return nullptr;
}

std::string expectedContentType(const JsonValue& part) {
  const JsonValue* v = header(part, "content_type");
  if (!v || !v->get("ContentType")) return "text/plain";
  const JsonValue& ct = (*v)["ContentType"];
  std::string t = ct["c_type"].s().empty() ? "text" : std::string(ct["c_type"].s());
  std::string s = ct["c_subtype"].isString() ? std::string(ct["c_subtype"].s()) : "";
  for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s.empty()) s = t == "text" ? "plain" : t == "multipart" ? "mixed" : "octet-stream";
  return t + "/" + s;
}

std::string expectedFilename(const JsonValue& part) {
  for (const char* h : {"content_disposition", "content_type"}) {
    const JsonValue* v = header(part, h);
    if (!v || !v->get("ContentType")) continue;
    for (const auto& a : (*v)["ContentType"]["attributes"].arr) {
      const std::string n(a["name"].s());
      if (n == (std::string(h) == "content_type" ? "name" : "filename"))
        return std::string(a["value"].s());
    }
  }
  return "<none>";
}

std::string addressList(const JsonValue* v) {
  std::string s;
  if (!v) return s;
  const JsonValue& a = (*v)["Address"];
  auto one = [&](const JsonValue& x) {
    s += "[" + std::string(x["name"].isString() ? x["name"].s() : "<null>") + "|" +
         std::string(x["address"].isString() ? x["address"].s() : "<null>") + "]";
  };
  if (const JsonValue* l = a.get("List")) {
    for (const auto& x : l->arr) one(x);
  } else if (const JsonValue* g = a.get("Group")) {
    for (const auto& grp : g->arr) {
      for (const auto& x : grp["addresses"].arr) one(x);
    }
  }
  return s;
}

std::string ourAddresses(const std::vector<Address>& list) {
  std::string s;
  for (const auto& a : list) {
    if (!a.address && !a.name) continue;  // an empty group
    s += "[" + (a.name ? *a.name : std::string("<null>")) + "|" +
         (a.address ? *a.address : std::string("<null>")) + "]";
  }
  return s;
}

// Our text for a part as mail-parser shows it: transfer-decoded, then converted to UTF-8.
std::string ourText(const ParsedMessage& m, size_t i) {
  const Part& p = m.parts[i];
  if (p.role == PartRole::kBodyText || p.role == PartRole::kBodyHtml) return p.text;
  std::string bytes, out;
  decodeBody(m, i, bytes);
  convertToUtf8(p.charset, bytes, out);
  return out;
}

void compareMessage(const std::string& name, const ParsedMessage& m, const JsonValue& exp,
                    Tally& t) {
  std::vector<const JsonValue*> theirs;
  flatten(exp, theirs);
  t.check(name, "part-count", std::to_string(theirs.size()), std::to_string(m.parts.size()));
  const JsonValue& root = exp["parts"][0];
  if (const JsonValue* s = header(root, "subject")) {
    t.check(name, "subject", std::string((*s)["Text"].s()), m.subject.value_or(""));
  }
  if (const JsonValue* f = header(root, "from"))
    t.check(name, "from", addressList(f), ourAddresses(m.from));
  if (const JsonValue* to = header(root, "to"))
    t.check(name, "to", addressList(to), ourAddresses(m.to));
  if (const JsonValue* id = header(root, "message_id")) {
    t.check(name, "message-id", std::string((*id)["Text"].s()), m.message_id.value_or(""));
  }
  const size_t n = std::min(theirs.size(), m.parts.size());
  for (size_t i = 0; i < n; ++i) {
    const JsonValue& p = *theirs[i];
    const std::string where = name + " part " + m.parts[i].part_id;
    t.check(where, "content-type", expectedContentType(p), m.parts[i].content_type);
    const JsonValue& body = p["body"];
    if (const JsonValue* txt = body.get("Text")) {
      const std::string got = ourText(m, i);
      t.check(where, "text-body", txt->str, got);
      if (txt->str != got && mx::testing::toLf(txt->str) == mx::testing::toLf(got)) ++t.eol_only;
    } else if (const JsonValue* html = body.get("Html")) {
      const std::string got = ourText(m, i);
      t.check(where, "html-body", html->str, got);
      if (html->str != got && mx::testing::toLf(html->str) == mx::testing::toLf(got)) ++t.eol_only;
    } else if (const JsonValue* bin =
                   body.get("Binary") ? body.get("Binary") : body.get("InlineBinary")) {
      std::string want;
      for (const auto& b : bin->arr) want += static_cast<char>(static_cast<int>(b.num));
      std::string got;
      decodeBody(m, i, got);
      t.check(where, "binary-body", want, got);
    }
    const std::string fn = expectedFilename(p);
    if (fn != "<none>") t.check(where, "filename", fn, m.parts[i].filename.value_or("<none>"));
  }
}

TEST(MimeCompareStalwart, MailParserExpectedOutputs) {
  const std::string root = mx::testing::corpusDir();
  if (root.empty()) GTEST_SKIP() << "shared corpus not found (set MXGATE_CORPUS_DIR)";
  const std::string dir = root + "/stalwart-mail-parser";
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << dir << " absent";
  Tally t;
  int messages = 0;
  for (const char* sub : {"rfc", "malformed", "thirdparty"}) {
    std::vector<std::filesystem::path> emls;
    for (const auto& e : std::filesystem::directory_iterator(dir + "/" + sub)) {
      if (e.path().extension() == ".eml") emls.push_back(e.path());
    }
    std::sort(emls.begin(), emls.end());
    for (const auto& eml : emls) {
      const std::string raw = mx::testing::readFile(eml.string());
      const std::string stem = eml.parent_path().string() + "/" + eml.stem().string();
      JsonValue lf, crlf;
      if (mx::testing::parseJsonFile(stem + ".json", &lf)) {
        ++messages;
        compareMessage(std::string(sub) + "/" + eml.filename().string(), parse(raw), lf, t);
      }
      if (mx::testing::parseJsonFile(stem + ".crlf.json", &crlf)) {
        const std::string c = mx::testing::toCrlf(raw);
        compareMessage(std::string(sub) + "/" + eml.filename().string() + " (crlf)", parse(c), crlf,
                       t);
      }
    }
  }
  std::ofstream(mx::testing::failedPath("stalwart")) << t.out.str();
  std::printf("[ stalwart ] %d messages (x2: LF and CRLF), %d/%d compared fields match\n", messages,
              t.matched, t.compared);
  for (const auto& [k, v] : t.by_kind) {
    std::printf("[ stalwart ]   %-13s %d/%d\n", k.c_str(), v.first, v.second);
  }
  std::printf("[ stalwart ]   %d of the body differences are CRLF-vs-LF only (canonical QP "
              "line breaks)\n",
              t.eol_only);
  ASSERT_GT(messages, 0);
  EXPECT_GE(t.matched, t.compared * 85 / 100) << "see stalwart.failed";
}

}  // namespace
}  // namespace mx::mime
