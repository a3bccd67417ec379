// bench/mime/corpus_loader.h — loads a benchmark corpus into memory (one buffer per message)
// and times repeated passes over it, on one thread or several (messages handed out one at a
// time from a shared counter); shared by the mxgate benchmark and the GMime peer so both
// read the same bytes, split the work the same way and report the same way.
// Trust: files come from gen_corpus.py or the operator; any bytes are fine.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace mx::bench {

struct Corpus {
  std::vector<std::string> messages;
  size_t bytes = 0;
};

// Loads every regular file under each path (or the file itself), except expected.jsonl and
// *.json; skips messages larger than max_size (0: no limit). Sorted by path.
inline Corpus loadCorpus(const std::vector<std::string>& paths, size_t max_size) {
  std::vector<std::filesystem::path> files;
  for (const auto& p : paths) {
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(p)) {
        if (!e.is_regular_file()) continue;
        const auto ext = e.path().extension().string();
        if (ext == ".jsonl" || ext == ".json" || ext == ".md") continue;
        files.push_back(e.path());
      }
    } else {
      files.emplace_back(p);
    }
  }
  std::sort(files.begin(), files.end());
  Corpus c;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (max_size && s.size() > max_size) continue;
    c.bytes += s.size();
    c.messages.push_back(std::move(s));
  }
  return c;
}

struct Timing {
  double median_s = 0;
  double min_s = 0;
  std::vector<double> runs;
};

// One warm-up pass, then `runs` timed passes of `pass`.
inline Timing timePasses(int runs, const std::function<void()>& pass) {
  pass();
  Timing t;
  for (int i = 0; i < runs; ++i) {
    const auto a = std::chrono::steady_clock::now();
    pass();
    const auto b = std::chrono::steady_clock::now();
    t.runs.push_back(std::chrono::duration<double>(b - a).count());
  }
  std::vector<double> s = t.runs;
  std::sort(s.begin(), s.end());
  t.median_s = s[s.size() / 2];
  t.min_s = s.front();
  return t;
}

// Calls work(thread_index, message_index) for every message once, on `threads` threads
// (1: on the calling thread). Each thread takes the next message when it is done with one.
inline void forEachMessage(unsigned threads, size_t n,
                           const std::function<void(unsigned, size_t)>& work) {
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) work(0, i);
    return;
  }
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) work(t, i);
    });
  }
  for (auto& th : pool) th.join();
}

// "RESULT impl=... mode=... threads=... msgs=... bytes=... median_s=... mb_s=... msgs_s=..."
// — the line bench/mime/run.sh reads.
inline void printResult(const char* impl, const char* mode, unsigned threads, const Corpus& c,
                        const Timing& t) {
  std::printf("RESULT impl=%s mode=%s threads=%u msgs=%zu bytes=%zu median_s=%.4f mb_s=%.1f "
              "msgs_s=%.0f runs=",
              impl, mode, threads, c.messages.size(), c.bytes, t.median_s,
              c.bytes / 1e6 / t.median_s, c.messages.size() / t.median_s);
  for (size_t i = 0; i < t.runs.size(); ++i) std::printf("%s%.4f", i ? "," : "", t.runs[i]);
  std::printf("\n");
  std::fflush(stdout);
}

struct Args {
  int runs = 5;
  unsigned threads = 1;  // --threads=N; 0 or "all": every core
  size_t max_size = 0;
  std::string mode = "full";
  bool pathological = false;
  std::vector<std::string> paths;
};

inline Args parseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--runs=", 0) == 0) {
      a.runs = std::max(1, std::atoi(s.c_str() + 7));
    } else if (s.rfind("--max-size=", 0) == 0) {
      a.max_size = std::strtoull(s.c_str() + 11, nullptr, 10);
    } else if (s.rfind("--threads=", 0) == 0) {
      a.threads = s == "--threads=all" ? 0 : static_cast<unsigned>(std::atoi(s.c_str() + 10));
      if (a.threads == 0) a.threads = std::max(1u, std::thread::hardware_concurrency());
    } else if (s.rfind("--mode=", 0) == 0) {
      a.mode = s.substr(7);
    } else if (s == "--pathological") {
      a.pathological = true;
    } else {
      a.paths.push_back(s);
    }
  }
  return a;
}

}  // namespace mx::bench
