// bench/mime/mime_bench.cc — throughput of mx::mime on a corpus held in memory, single
// thread: parse every message (walk all parts, decode every body, convert text to UTF-8,
// decode filenames and headers) and render its JSON document. Modes:
//   full     + SHA-256 of every attachment and of the raw message (core/sha256.h, OpenSSL)
//   keep     as full, keeping attachment bytes in Part::data (what the pipeline does)
//   nohash   the same work as the GMime peer: no hashing (placeholder digests), JSON rendered
//   parse    parse and decode only, no JSON, no hashing
// --pathological times hostile inputs instead (deep nesting, 1 MB header lines, 100k parts).
// --threads=N|all spreads the messages over N threads (wall time is reported).
// Usage: mime_bench [--mode=M] [--runs=N] [--threads=N|all] [--max-size=BYTES] DIR|FILE...
//        | --pathological
// Trust: corpus files are arbitrary bytes.
#include <cstdio>
#include <string>

#include "bench/mime/corpus_loader.h"
#include "mime/json.h"
#include "mime/parser.h"

namespace {

// "nohash": the digests the schema requires, without computing them (GMime computes none).
const std::string kNoDigest(64, '0');

struct Case {
  const char* name;
  std::string input;
  mx::mime::ParseOptions options;
};

std::string deepNesting(int levels) {
  std::string s = "From: a@example.com\r\nSubject: deep\r\n";
  for (int i = 0; i < levels; ++i) {
    s += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
         std::to_string(i) + "\r\n";
  }
  s += "Content-Type: text/plain\r\n\r\nbottom\r\n";
  for (int i = levels - 1; i >= 0; --i) s += "--b" + std::to_string(i) + "--\r\n";
  return s;
}

std::string manyParts(int n) {
  std::string s =
      "From: a@example.com\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n";
  for (int i = 0; i < n; ++i) s += "--x\r\nContent-Type: text/plain\r\n\r\np\r\n";
  s += "--x--\r\n";
  return s;
}

std::string longHeader(const std::string& name, const std::string& unit, size_t bytes) {
  std::string s = name + ": ";
  while (s.size() < bytes) s += unit;
  s += "\r\nFrom: a@example.com\r\n\r\nbody\r\n";
  return s;
}

int runPathological(int runs) {
  std::vector<Case> cases;
  mx::mime::ParseOptions def;
  mx::mime::ParseOptions wide;
  wide.max_depth = 256;
  wide.max_parts = 200000;
  wide.max_header_bytes = 8u << 20;
  cases.push_back({"deep-nesting-10000 (max_depth 64)", deepNesting(10000), def});
  cases.push_back({"deep-nesting-10000 (max_depth 256)", deepNesting(10000), wide});
  cases.push_back({"parts-100000 (max_parts 10000)", manyParts(100000), def});
  cases.push_back({"parts-100000 (max_parts 200000)", manyParts(100000), wide});
  cases.push_back({"subject-1MB-one-line", longHeader("Subject", "abcdefgh ", 1 << 20), def});
  cases.push_back(
      {"subject-1MB-encoded-words", longHeader("Subject", "=?utf-8?q?caf=C3=A9?= ", 1 << 20), def});
  cases.push_back({"to-1MB-addresses", longHeader("To", "Name <a@example.com>, ", 1 << 20), def});
  cases.push_back({"references-1MB", longHeader("References", "<id@example.com> ", 1 << 20), def});
  cases.push_back(
      {"content-type-1MB-params", longHeader("Content-Type", "; p*1*=%41%42", 1 << 20), def});
  {
    std::string folds = "Subject: =?utf-8?q?a?=";
    while (folds.size() < (1 << 20)) folds += "\r\n x";
    cases.push_back({"subject-1MB-many-folds", folds + "\r\n\r\nb", def});
    std::string params = "Content-Type: text/plain";
    for (int i = 0; params.size() < (1 << 20); ++i) params += "; p" + std::to_string(i) + "=v";
    cases.push_back({"content-type-1MB-distinct-params", params + "\r\n\r\nb", def});
  }
  cases.push_back({"to-1MB-angle-brackets", longHeader("To", "<", 1 << 20), def});
  cases.push_back({"to-1MB-route-colons", longHeader("To", "a@b:", 1 << 20), def});
  cases.push_back({"header-8MB-one-line (max_header_bytes 8M)",
                   longHeader("X-Junk", "xxxxxxxx", 8 << 20), wide});
  for (auto& c : cases) {
    size_t sink = 0;
    mx::bench::Corpus one;
    one.messages.push_back(c.input);
    one.bytes = c.input.size();
    auto t = mx::bench::timePasses(runs, [&] {
      auto m = mx::mime::parse(c.input, c.options);
      sink += mx::mime::toJson(m).size();
    });
    std::printf("PATHOLOGICAL case=\"%s\" bytes=%zu median_ms=%.2f max_ms=%.2f\n", c.name,
                c.input.size(), t.median_s * 1e3,
                *std::max_element(t.runs.begin(), t.runs.end()) * 1e3);
    if (sink == 0) std::printf("(no output)\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  mx::bench::Args args = mx::bench::parseArgs(argc, argv);
  if (args.pathological) return runPathological(args.runs);
  if (args.paths.empty()) {
    std::fprintf(stderr,
                 "usage: mime_bench [--mode=full|keep|nohash|parse] [--runs=N] "
                 "[--threads=N|all] [--max-size=BYTES] DIR|FILE... | --pathological\n");
    return 2;
  }
  mx::bench::Corpus corpus = mx::bench::loadCorpus(args.paths, args.max_size);
  if (corpus.messages.empty()) {
    std::fprintf(stderr, "mime_bench: no messages\n");
    return 1;
  }
  mx::mime::ParseOptions opt;
  mx::mime::JsonContext ctx;
  bool json = true;
  bool placeholders = false;
  if (args.mode == "full") {
    // Everything hashed: attachments at parse time, the raw message by toJson.
  } else if (args.mode == "keep") {
    opt.keep_attachment_data = true;
  } else if (args.mode == "nohash") {
    opt.hash_attachments = false;
    ctx.raw_sha256 = kNoDigest;
    placeholders = true;
  } else if (args.mode == "parse") {
    opt.hash_attachments = false;
    json = false;
  } else {
    std::fprintf(stderr, "mime_bench: unknown mode %s\n", args.mode.c_str());
    return 2;
  }
  // One output buffer and one counter per thread (padded apart).
  struct alignas(64) PerThread {
    std::string out;
    size_t sink = 0;
  };
  std::vector<PerThread> per(args.threads);
  auto t = mx::bench::timePasses(args.runs, [&] {
    mx::bench::forEachMessage(args.threads, corpus.messages.size(), [&](unsigned th, size_t k) {
      PerThread& me = per[th];
      mx::mime::ParsedMessage m = mx::mime::parse(corpus.messages[k], opt);
      if (placeholders) {
        for (uint32_t i : m.attachments) m.parts[i].sha256 = kNoDigest;
      }
      if (json) {
        me.out.clear();
        mx::mime::appendJson(m, ctx, me.out);
        me.sink += me.out.size();
      } else {
        me.sink += m.parts.size();
      }
    });
  });
  size_t sink = 0;
  for (const auto& p : per) sink += p.sink;
  mx::bench::printResult("mxgate", args.mode.c_str(), args.threads, corpus, t);
  if (sink == 0) std::printf("(no output)\n");
  return 0;
}
