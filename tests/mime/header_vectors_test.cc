// tests/mime/header_vectors_test.cc — our header decoders against the per-header test
// vectors that ship with Stalwart mail-parser (corpus stalwart-mail-parser/header-vectors:
// address, content_type, date, id, unstructured). mail-parser's choices are not the only
// reasonable ones, so this reports how many vectors agree, writes the others to
// header_vectors.failed, and fails only below a floor.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "mime/header.h"
#include "tests/mime/test_util.h"

namespace mx::mime {
namespace {

using mx::testing::JsonValue;

struct Tally {
  int compared = 0;
  int matched = 0;
  std::ostringstream failures;
};

std::string vectorsDir() {
  const std::string c = mx::testing::corpusDir();
  return c.empty() ? "" : c + "/stalwart-mail-parser/header-vectors";
}

bool load(const std::string& name, JsonValue* v) {
  const std::string dir = vectorsDir();
  return !dir.empty() && mx::testing::parseJsonFile(dir + "/" + name, v) && v->isArray();
}

void report(const char* what, Tally& t, double floor) {
  std::printf("[ vectors  ] %-13s %d/%d match mail-parser\n", what, t.matched, t.compared);
  std::ofstream(mx::testing::failedPath(std::string("header_vectors_") + what)) << t.failures.str();
  EXPECT_GT(t.compared, 0);
  EXPECT_GE(t.matched, static_cast<int>(t.compared * floor)) << t.failures.str();
}

std::string str(const std::optional<std::string>& s) { return s ? *s : "<null>"; }
std::string str(const JsonValue& v) { return v.isString() ? v.str : "<null>"; }

// Some vectors carry the rest of the header block after the value: the field ends at the
// first line break not followed by a blank (as the message parser would split it).
std::string fieldValue(std::string raw) {
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && (i + 1 >= raw.size() || (raw[i + 1] != ' ' && raw[i + 1] != '\t'))) {
      raw.resize(i + 1);
      break;
    }
  }
  return raw;
}

TEST(MimeHeaderVectors, Unstructured) {
  JsonValue v;
  if (!load("unstructured.json", &v)) GTEST_SKIP() << "corpus not found (set MXGATE_CORPUS_DIR)";
  Tally t;
  // mail-parser turns the blanks around a fold into one space; we remove only the line
  // break (RFC 5322 section 2.2.3, as Python's email, GMime and postal-mime do). Values that
  // differ in nothing but that are counted apart and not held against the floor.
  auto collapse = [](std::string_view s) {
    std::string out;
    for (char c : s) {
      const bool blank = c == ' ' || c == '\t';
      if (blank && !out.empty() && out.back() == ' ') continue;
      out += blank ? ' ' : c;
    }
    return out;
  };
  int fold_blanks = 0;
  for (const auto& c : v.arr) {
    const std::string raw = fieldValue(c["header"].str);
    DecodeNotes n;
    const std::string got = decodeUnstructured(raw, &n);
    ++t.compared;
    if (got == c["expected"].str) {
      ++t.matched;
    } else {
      const bool fold_only = raw.find('\n') != std::string::npos &&
                             collapse(got) == collapse(c["expected"].str);
      fold_blanks += fold_only;
      t.failures << "unstructured " << raw << "\n  want: " << c["expected"].str
                 << "\n  got:  " << got << (fold_only ? "\n  (blanks around a fold only)" : "")
                 << "\n";
    }
  }
  std::printf("[ vectors  ] unstructured  %d exact; %d more (counted below) differ only in the "
              "blanks around a fold\n",
              t.matched, fold_blanks);
  t.matched += fold_blanks;
  report("unstructured", t, 0.85);
}

// Flattens the expected {List|Group} into (group, name, address) triples.
std::vector<std::string> expectedAddresses(const JsonValue& e) {
  std::vector<std::string> out;
  auto one = [&](const JsonValue& a, const std::string& group) {
    out.push_back(group + "|" + str(a["name"]) + "|" + str(a["address"]));
  };
  if (const JsonValue* list = e.get("List")) {
    for (const auto& a : list->arr) one(a, "<null>");
  } else if (const JsonValue* groups = e.get("Group")) {
    for (const auto& g : groups->arr) {
      if (g["addresses"].arr.empty()) out.push_back(str(g["name"]) + "|<null>|<null>");
      for (const auto& a : g["addresses"].arr) one(a, str(g["name"]));
    }
  }
  return out;
}

TEST(MimeHeaderVectors, Addresses) {
  JsonValue v;
  if (!load("address.json", &v)) GTEST_SKIP() << "corpus not found (set MXGATE_CORPUS_DIR)";
  Tally t;
  for (const auto& c : v.arr) {
    std::vector<Address> got;
    DecodeNotes n;
    parseAddressList(fieldValue(c["header"].str), got, &n);
    std::vector<std::string> g;
    for (const auto& a : got) g.push_back(str(a.group) + "|" + str(a.name) + "|" + str(a.address));
    const std::vector<std::string> want = expectedAddresses(c["expected"]);
    ++t.compared;
    if (g == want) {
      ++t.matched;
    } else {
      t.failures << "address " << c["header"].str << "  want:";
      for (auto& w : want) t.failures << " [" << w << "]";
      t.failures << "\n  got: ";
      for (auto& w : g) t.failures << " [" << w << "]";
      t.failures << "\n";
    }
  }
  report("address", t, 0.75);
}

TEST(MimeHeaderVectors, ContentType) {
  JsonValue v;
  if (!load("content_type.json", &v)) GTEST_SKIP() << "corpus not found (set MXGATE_CORPUS_DIR)";
  Tally t;
  for (const auto& c : v.arr) {
    DecodeNotes n;
    ContentTypeValue got = parseContentType(fieldValue(c["header"].str), &n);
    const JsonValue& e = c["expected"];
    std::string want = str(e["c_type"]) + "/" + str(e["c_subtype"]);
    for (char& ch : want) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::string have = (got.type.empty() ? "<null>" : got.type) + "/" +
                       (got.subtype.empty() ? "<null>" : got.subtype);
    // Parameters compared as a set; mail-parser's "<name>-language" pseudo-parameters (RFC
    // 2231 languages, which we do not report) are left out.
    std::vector<std::string> wp, hp;
    for (const auto& a : e["attributes"].arr) {
      const std::string n = a.isArray() ? str(a[0]) : str(a["name"]);
      const std::string val = a.isArray() ? str(a[1]) : str(a["value"]);
      if (n.size() > 9 && n.compare(n.size() - 9, 9, "-language") == 0) continue;
      wp.push_back(n + "=" + val);
    }
    for (const auto& p : got.params) hp.push_back(p.name + "=" + p.value);
    std::sort(wp.begin(), wp.end());
    std::sort(hp.begin(), hp.end());
    for (const auto& x : wp) want += ";" + x;
    for (const auto& x : hp) have += ";" + x;
    ++t.compared;
    if (have == want) {
      ++t.matched;
    } else {
      t.failures << "content-type " << c["header"].str << "  want: " << want << "\n  got:  " << have
                 << "\n";
    }
  }
  report("content_type", t, 0.75);
}

TEST(MimeHeaderVectors, Dates) {
  JsonValue v;
  if (!load("date.json", &v)) GTEST_SKIP() << "corpus not found (set MXGATE_CORPUS_DIR)";
  Tally t;
  for (const auto& c : v.arr) {
    DateTime dt;
    const bool ok = parseDate(fieldValue(c["header"].str), &dt);
    const JsonValue& e = c["expected"];
    std::string want = "invalid", have = "invalid";
    if (e.isObject()) {
      const int off =
          (static_cast<int>(e["tz_hour"].num) * 60 + static_cast<int>(e["tz_minute"].num)) *
          (e["tz_before_gmt"].b ? -1 : 1);
      char b[64];
      std::snprintf(b, sizeof b, "%04d-%02d-%02d %02d:%02d:%02d %d",
                    static_cast<int>(e["year"].num), static_cast<int>(e["month"].num),
                    static_cast<int>(e["day"].num), static_cast<int>(e["hour"].num),
                    static_cast<int>(e["minute"].num), static_cast<int>(e["second"].num), off);
      want = b;
    }
    if (ok) {
      char b[64];
      std::snprintf(b, sizeof b, "%04d-%02d-%02d %02d:%02d:%02d %d", dt.year, dt.month, dt.day,
                    dt.hour, dt.minute, dt.second, dt.offset_minutes);
      have = b;
    }
    ++t.compared;
    if (have == want) {
      ++t.matched;
    } else {
      t.failures << "date " << c["header"].str << "\n  want: " << want << "\n  got:  " << have
                 << "\n";
    }
  }
  report("date", t, 0.75);
}

TEST(MimeHeaderVectors, MessageIds) {
  JsonValue v;
  if (!load("id.json", &v)) GTEST_SKIP() << "corpus not found (set MXGATE_CORPUS_DIR)";
  Tally t;
  for (const auto& c : v.arr) {
    std::vector<std::string> got;
    parseMessageIds(fieldValue(c["header"].str), got);
    std::vector<std::string> want;
    for (const auto& x : c["expected"].arr) want.push_back(x.str);
    ++t.compared;
    if (got == want) {
      ++t.matched;
    } else {
      t.failures << "id " << c["header"].str << "  want " << want.size() << " got " << got.size()
                 << "\n";
    }
  }
  report("id", t, 0.75);
}

}  // namespace
}  // namespace mx::mime
