// mime/cli.cc — see cli.h.
// Trust: file contents are untrusted (parse() handles any bytes); a file that cannot be read
// is reported, not fatal.
#include "mime/cli.h"

#include <charconv>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "mime/json.h"
#include "mime/parser.h"

namespace mx::mime {
namespace {

bool readAll(const std::string& path, std::string& out) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    out = ss.str();
    return !std::cin.bad();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

template <typename T>
bool numberArg(std::string_view arg, std::string_view prefix, T* v) {
  if (arg.substr(0, prefix.size()) != prefix) return false;
  std::string_view num = arg.substr(prefix.size());
  T x{};
  auto r = std::from_chars(num.data(), num.data() + num.size(), x);
  if (r.ec != std::errc() || r.ptr != num.data() + num.size()) return false;
  *v = x;
  return true;
}

}  // namespace

const char* parseCommandUsage() {
  return "usage: mxgate parse [--pretty] [--summary] [--offsets] [--trust=AUTHSERV_ID]...\n"
         "                    [--max-depth=N] [--max-parts=N] [--max-header-bytes=N]\n"
         "                    [--max-size=N] FILE... | -\n"
         "Prints one JSON document per message (schemas/parsed-email.schema.json).\n";
}

int runParseCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  ParseOptions opt;
  JsonContext ctx;
  bool summary = false;
  std::vector<std::string> files;
  for (const auto& a : args) {
    std::string_view v = a;
    if (v == "--pretty") {
      ctx.pretty = true;
    } else if (v == "--summary") {
      summary = true;
    } else if (v == "--offsets") {
      ctx.offsets = true;
    } else if (v.substr(0, 8) == "--trust=") {
      opt.trusted_authserv_ids.emplace_back(v.substr(8));
    } else if (numberArg(v, "--max-depth=", &opt.max_depth) ||
               numberArg(v, "--max-parts=", &opt.max_parts) ||
               numberArg(v, "--max-header-bytes=", &opt.max_header_bytes) ||
               numberArg(v, "--max-size=", &opt.max_total_size)) {
      continue;
    } else if (v == "-h" || v == "--help") {
      out << parseCommandUsage();
      return 0;
    } else if (v.size() > 1 && v[0] == '-') {
      err << "mxgate parse: unknown option " << a << "\n" << parseCommandUsage();
      return 2;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    err << parseCommandUsage();
    return 2;
  }
  int rc = 0;
  std::string raw;
  std::string doc;
  for (const auto& f : files) {
    if (!readAll(f, raw)) {
      err << "mxgate parse: cannot read " << f << "\n";
      rc = 1;
      continue;
    }
    ParsedMessage m = parse(raw, opt);
    doc.clear();
    if (summary) {
      appendSummaryJson(m, ctx, doc);
      if (ctx.pretty) doc = prettyJson(doc);
    } else {
      appendJson(m, ctx, doc);
    }
    doc += '\n';
    out << doc;
  }
  out.flush();
  return rc;
}

}  // namespace mx::mime
