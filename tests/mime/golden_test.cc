// tests/mime/golden_test.cc — the MIME goldens: every tests/mime/golden/NAME.eml is parsed
// and rendered, and its document compared, field by field, with NAME.json beside it. The
// expected values were written by hand from the RFCs (RFC 2045/2046/2047/2231/5322 appendix
// examples and our own defect cases), not pasted from the parser's output.
//
// Each .eml runs three times: as stored, converted to LF, converted to CRLF (STYLE.md
// "Tests", after mail-parser). The expected file holds the fields to check:
//   - objects: every member given is compared (members not given are not checked), except
//     that a member given as null must be null or absent;
//   - arrays: same length, then element by element;
//   - "errors" is required, so an unexpected error always fails;
//   - "_options": ParseOptions for the case (max_depth, max_parts, max_header_bytes,
//     max_total_size, max_text_bytes, keep_attachment_data, trusted_authserv_ids);
//   - "_converted_exclude": paths ("attachments[2].size", or [*] for any index) not compared in the LF/CRLF
//     variants, beyond the ones that always differ (kVariantExclude). In those variants
//     strings are also compared with CRLF taken as LF: line endings inside text are what
//     the conversion changed.
// Every mismatch is reported with its path and written to golden/NAME.failed in the
// working directory (the build tree). The test fails when no case ran, and when the
// goldens together do not cover every error code the parser can emit.
// Hermetic: reads only tests/mime/golden and schemas/ of the source tree.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "mime/json.h"
#include "mime/parser.h"
#include "tests/mime/schema_validator.h"
#include "tests/mime/test_util.h"

namespace mx::mime {
namespace {

using mx::testing::JsonValue;

// Differ between the stored bytes and their LF/CRLF conversions in every message.
const char* const kVariantExclude[] = {
    "raw.size",        "raw.sha256",        "raw.line_endings",      "raw.header_size",
    "errors[*].offset", "headers[*].offset", "headers[*].length",    "parts[*].offset",
    "parts[*].length",
};

std::string normalizePath(const std::string& path) {
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '[') {
      const size_t close = path.find(']', i);
      out += "[*]";
      i = close == std::string::npos ? path.size() : close;
    } else {
      out += path[i];
    }
  }
  return out;
}

std::string crlfAsLf(std::string_view s) { return mx::testing::toLf(s); }

std::string show(const JsonValue& v) {
  switch (v.type) {
    case JsonValue::Type::kNull:
      return "null";
    case JsonValue::Type::kBool:
      return v.b ? "true" : "false";
    case JsonValue::Type::kNumber: {
      std::ostringstream o;
      if (v.is_integer) {
        o << v.integer;
      } else {
        o << v.num;
      }
      return o.str();
    }
    case JsonValue::Type::kString: {
      std::string s = "\"";
      for (char c : v.str.substr(0, 200)) {
        if (c == '\r') {
          s += "\\r";
        } else if (c == '\n') {
          s += "\\n";
        } else {
          s += c;
        }
      }
      return s + (v.str.size() > 200 ? "...\"" : "\"");
    }
    case JsonValue::Type::kArray:
      return "[array of " + std::to_string(v.arr.size()) + "]";
    case JsonValue::Type::kObject:
      return "{object}";
  }
  return "?";
}

class Comparer {
 public:
  Comparer(bool converted, std::set<std::string> exclude)
      : converted_(converted), exclude_(std::move(exclude)) {}

  void compare(const JsonValue& want, const JsonValue* got, const std::string& path) {
    if (converted_ && (exclude_.count(path) || exclude_.count(normalizePath(path)))) return;
    if (!got) {
      if (!want.isNull()) mismatch(path, show(want), "<absent>");
      return;
    }
    if (want.type != got->type) {
      mismatch(path, show(want), show(*got));
      return;
    }
    switch (want.type) {
      case JsonValue::Type::kNull:
        return;
      case JsonValue::Type::kBool:
        if (want.b != got->b) mismatch(path, show(want), show(*got));
        return;
      case JsonValue::Type::kNumber:
        if (want.num != got->num) mismatch(path, show(want), show(*got));
        return;
      case JsonValue::Type::kString: {
        const bool same =
            converted_ ? crlfAsLf(want.str) == crlfAsLf(got->str) : want.str == got->str;
        if (!same) mismatch(path, show(want), show(*got));
        return;
      }
      case JsonValue::Type::kArray:
        if (want.arr.size() != got->arr.size()) {
          mismatch(path + ".length", std::to_string(want.arr.size()),
                   std::to_string(got->arr.size()));
        }
        for (size_t i = 0; i < std::min(want.arr.size(), got->arr.size()); ++i) {
          compare(want.arr[i], &got->arr[i], path + "[" + std::to_string(i) + "]");
        }
        return;
      case JsonValue::Type::kObject:
        for (const auto& [k, v] : want.obj) {
          if (path.empty() && !k.empty() && k[0] == '_') continue;  // test directives
          compare(v, got->get(k), path.empty() ? k : path + "." + k);
        }
        return;
    }
  }

  const std::vector<std::string>& mismatches() const { return mismatches_; }

 private:
  void mismatch(const std::string& path, const std::string& want, const std::string& got) {
    mismatches_.push_back(path + "\n    want: " + want + "\n    got:  " + got);
  }

  bool converted_;
  std::set<std::string> exclude_;
  std::vector<std::string> mismatches_;
};

ParseOptions optionsFrom(const JsonValue& o) {
  ParseOptions opt;
  if (!o.isObject()) return opt;
  if (const JsonValue* v = o.get("max_depth")) opt.max_depth = static_cast<uint32_t>(v->num);
  if (const JsonValue* v = o.get("max_parts")) opt.max_parts = static_cast<uint32_t>(v->num);
  if (const JsonValue* v = o.get("max_header_bytes")) {
    opt.max_header_bytes = static_cast<size_t>(v->num);
  }
  if (const JsonValue* v = o.get("max_total_size")) {
    opt.max_total_size = static_cast<size_t>(v->num);
  }
  if (const JsonValue* v = o.get("max_text_bytes")) {
    opt.max_text_bytes = static_cast<size_t>(v->num);
  }
  if (const JsonValue* v = o.get("keep_attachment_data")) opt.keep_attachment_data = v->b;
  if (const JsonValue* v = o.get("trusted_authserv_ids")) {
    for (const auto& id : v->arr) opt.trusted_authserv_ids.push_back(id.str);
  }
  return opt;
}

TEST(MimeGolden, EveryCaseMatchesItsExpectedDocument) {
  const std::string src = mx::testing::sourceDir();
  const std::filesystem::path dir = std::filesystem::path(src) / "tests/mime/golden";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  JsonValue schema;
  ASSERT_TRUE(mx::testing::parseJsonFile(src + "/schemas/parsed-email.schema.json", &schema));
  mx::testing::SchemaValidator validator(schema);

  std::vector<std::filesystem::path> cases;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".eml") cases.push_back(e.path());
  }
  std::sort(cases.begin(), cases.end());
  const std::filesystem::path out_dir = std::filesystem::current_path() / "golden";
  std::filesystem::create_directories(out_dir);

  int ran = 0, failed = 0;
  std::set<std::string> codes_expected;
  for (const auto& eml : cases) {
    const std::string name = eml.stem().string();
    const std::filesystem::path failed_file = out_dir / (name + ".failed");
    std::filesystem::remove(failed_file);
    JsonValue want;
    std::string perr;
    const std::string want_text =
        mx::testing::readFile((dir / (name + ".json")).string());
    if (!mx::testing::parseJson(want_text, &want, &perr) || !want.isObject()) {
      ADD_FAILURE() << name << ".json missing or not a JSON object: " << perr;
      ++failed;
      continue;
    }
    if (!want.get("errors") || !want["errors"].isArray()) {
      ADD_FAILURE() << name << ".json must give \"errors\" (an array, possibly empty)";
      ++failed;
      continue;
    }
    for (const auto& e : want["errors"].arr) codes_expected.insert(std::string(e["code"].s()));
    const ParseOptions opt = optionsFrom(want["_options"]);
    std::set<std::string> exclude(std::begin(kVariantExclude), std::end(kVariantExclude));
    for (const auto& p : want["_converted_exclude"].arr) exclude.insert(p.str);

    const std::string stored = mx::testing::readFile(eml.string());
    const std::pair<const char*, std::string> variants[] = {
        {"as stored", stored}, {"LF", mx::testing::toLf(stored)}, {"CRLF", mx::testing::toCrlf(stored)}};
    std::ostringstream report;
    bool case_failed = false;
    for (size_t v = 0; v < std::size(variants); ++v) {
      const auto& [label, bytes] = variants[v];
      ParsedMessage m = parse(bytes, opt);
      const std::string json = toJson(m);
      JsonValue got;
      std::string jerr;
      ++ran;
      if (!mx::testing::parseJson(json, &got, &jerr)) {
        report << "[" << label << "] invalid JSON: " << jerr << "\n";
        case_failed = true;
        continue;
      }
      for (const auto& s : validator.validate(got)) {
        report << "[" << label << "] schema: " << s << "\n";
        case_failed = true;
      }
      Comparer c(v != 0, exclude);
      c.compare(want, &got, "");
      for (const auto& mm : c.mismatches()) {
        report << "[" << label << "] " << mm << "\n";
        case_failed = true;
      }
      if (case_failed && v == 0) report << "[as stored] document:\n" << prettyJson(json) << "\n";
    }
    if (case_failed) {
      ++failed;
      std::ofstream(failed_file) << report.str();
      ADD_FAILURE() << "golden " << name << " (see " << failed_file.string() << "):\n"
                    << report.str().substr(0, 4000);
    }
  }
  std::printf("[ golden   ] %zu cases, %d runs (as stored, LF, CRLF), %d failed\n", cases.size(),
              ran, failed);
  ASSERT_GT(ran, 0) << "no golden case ran";

  // The goldens must show every error code the parser can emit. CHARSET_REFUSED and OTHER
  // are reserved (docs/mime.md): nothing produces them.
  std::set<std::string> missing;
  for (const auto& c : schema["$defs"]["Error"]["properties"]["code"]["enum"].arr) {
    if (c.str == "CHARSET_REFUSED" || c.str == "OTHER") continue;
    if (!codes_expected.count(c.str)) missing.insert(c.str);
  }
  std::string list;
  for (const auto& c : missing) list += " " + c;
  EXPECT_TRUE(missing.empty()) << "error codes no golden expects:" << list;
}

}  // namespace
}  // namespace mx::mime
