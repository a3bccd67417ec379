// tests/mime/test_util.h — helpers shared by the MIME tests: where the shared corpora and
// tools are (MXGATE_CORPUS_DIR / MXGATE_SHARED_DIR, else ../shared beside the source tree,
// found through MXGATE_SOURCE_DIR), which corpus files are messages, mbox splitting, file I/O,
// line-ending conversion, and a writer for ".failed" reports (STYLE.md "Tests").
// Trust: test code over local files.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "tests/mime/json_value.h"

namespace mx::testing {

inline std::string envOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

inline std::string sourceDir() {
#ifdef MXGATE_TEST_SOURCE_DIR
  return envOr("MXGATE_SOURCE_DIR", MXGATE_TEST_SOURCE_DIR);
#else
  return envOr("MXGATE_SOURCE_DIR", ".");
#endif
}

// ../shared beside the checkout (or MXGATE_SHARED_DIR); "" when absent.
inline std::string sharedDir() {
  std::string d = envOr("MXGATE_SHARED_DIR", sourceDir() + "/../shared");
  return std::filesystem::is_directory(d) ? d : "";
}

// The corpus root (MXGATE_CORPUS_DIR, else <shared>/corpus); "" when absent.
inline std::string corpusDir() {
  if (const char* v = std::getenv("MXGATE_CORPUS_DIR"); v && *v) {
    return std::filesystem::is_directory(v) ? std::string(v) : "";
  }
  std::string s = sharedDir();
  if (s.empty()) return "";
  return std::filesystem::is_directory(s + "/corpus") ? s + "/corpus" : "";
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void writeFile(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline bool parseJsonFile(const std::string& path, JsonValue* v) {
  return parseJson(readFile(path), v);
}

inline std::string toCrlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 20);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
    out += s[i];
  }
  return out;
}

inline std::string toLf(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    out += s[i];
  }
  return out;
}

struct CorpusMessage {
  std::string name;  // path relative to the corpus root (plus "#n" for mbox members)
  std::string bytes;
};

inline bool isMessageFile(const std::filesystem::path& p) {
  const std::string b = p.filename().string();
  static const char* kSkip[] = {"SOURCE.md", "COPYING", "README.txt", "ARTISTIC-LICENSE.txt"};
  for (const char* s : kSkip) {
    if (b == s) return false;
  }
  static const char* kSkipExt[] = {".json", ".xml",   ".out",     ".bin", ".pub",
                                   ".pem",  ".bind9", ".tinydns", ".md"};
  const std::string ext = p.extension().string();
  for (const char* e : kSkipExt) {
    if (ext == e) return false;
  }
  if (b.find("_decoded_") != std::string::npos) return false;
  if (b.size() > 12 && b.compare(b.size() - 12, 12, "-summary.txt") == 0) return false;
  return true;
}

inline bool isMbox(const std::string& name) { return name.find(".mbox") != std::string::npos; }

// Splits an mbox at "From " lines that start the file or follow a blank line.
inline std::vector<std::string> splitMbox(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  size_t pos = 0;
  while ((pos = s.find("\nFrom ", pos)) != std::string::npos) {
    const bool after_blank =
        pos >= 1 && (s[pos - 1] == '\n' || (pos >= 2 && s[pos - 1] == '\r' && s[pos - 2] == '\n'));
    if (after_blank && pos + 1 > start) {
      out.push_back(s.substr(start, pos + 1 - start));
      start = pos + 1;
    }
    ++pos;
  }
  if (start < s.size()) out.push_back(s.substr(start));
  return out;
}

// Every message of every corpus under `root` (mbox files split into their messages).
inline std::vector<CorpusMessage> corpusMessages(const std::string& root) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.is_regular_file() && isMessageFile(e.path())) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<CorpusMessage> out;
  for (const auto& f : files) {
    const std::string rel = std::filesystem::relative(f, root).string();
    std::string bytes = readFile(f.string());
    if (isMbox(rel)) {
      int n = 0;
      for (auto& m : splitMbox(bytes))
        out.push_back({rel + "#" + std::to_string(++n), std::move(m)});
    } else {
      out.push_back({rel, std::move(bytes)});
    }
  }
  return out;
}

// The directory for *.failed reports: the test's working directory.
inline std::string failedPath(const std::string& name) { return name + ".failed"; }

}  // namespace mx::testing
