// tests/smtp/transcript_test.cc — runs every tests/smtp/transcripts/*.txt against the
// session, feeding the client bytes at every chunk size from one octet up to the whole
// input (nghttp2's scripted_data_feed), and requires the same replies, actions and body
// octets each time. Invariants (fuzz/smtp/session_checker.h) are checked on every batch.
// Trust: the transcripts are ours; a missing or empty directory fails the test.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/smtp/transcript.h"

namespace mx::smtp::testing {
namespace {

std::filesystem::path transcriptDir() {
  return std::filesystem::path(MXGATE_SMTP_TRANSCRIPT_DIR);
}

std::vector<std::string> transcriptNames() { return smtp::testing::transcriptNamesIn(transcriptDir()); }

std::vector<size_t> chunkSizes(const Transcript& t) {
  const size_t whole = std::max<size_t>(longestSendRun(t), 1);
  const size_t cap = t.max_chunk != 0 ? std::min(t.max_chunk, whole) : whole;
  std::vector<size_t> sizes;
  if (cap <= 2048) {
    for (size_t k = 1; k <= cap; ++k) sizes.push_back(k);
  } else {
    for (size_t k = 1; k <= 64; ++k) sizes.push_back(k);
    for (size_t k : {97, 127, 251, 509, 512, 1021, 1024, 4093, 4096, 8191, 16381, 65536}) {
      if (k < cap) sizes.push_back(k);
    }
    sizes.push_back(cap);
  }
  sizes.push_back(0);  // 0 = each run of client bytes in one receive() call
  return sizes;
}

std::string renderAll(const std::vector<Event>& events) {
  std::string s;
  for (const Event& e : events) s += "    " + e.render() + "\n";
  return s;
}

std::string firstDifference(const std::vector<Event>& want, const std::vector<Event>& got) {
  const size_t n = std::min(want.size(), got.size());
  for (size_t i = 0; i < n; ++i) {
    if (!(want[i] == got[i])) {
      return "at item " + std::to_string(i) + ":\n  want " + want[i].render().substr(0, 400) +
             "\n  got  " + got[i].render().substr(0, 400);
    }
  }
  if (want.size() != got.size()) {
    return "want " + std::to_string(want.size()) + " items, got " + std::to_string(got.size()) +
           "; first extra: " + (want.size() > got.size() ? want[n] : got[n]).render().substr(0, 400);
  }
  return {};
}

class TranscriptTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TranscriptTest, EveryChunkSize) {
  const std::string name = GetParam();
  std::string error;
  const auto t = parseTranscript(name, smtp::testing::readTranscriptFile(transcriptDir() / (name + ".txt")), error);
  ASSERT_TRUE(t.has_value()) << error;
  ASSERT_FALSE(t->expected.empty()) << "transcript expects nothing";
  for (size_t chunk : chunkSizes(*t)) {
    const RunResult r = runTranscript(*t, chunk);
    const std::string label = chunk == 0 ? "whole input" : "chunk size " + std::to_string(chunk);
    ASSERT_TRUE(r.error.empty()) << name << " (" << label << "): " << r.error
                                 << "\n  output so far:\n" << renderAll(r.events);
    const std::string diff = firstDifference(t->expected, r.events);
    ASSERT_TRUE(diff.empty()) << name << " (" << label << "): " << diff << "\n  full output:\n"
                              << renderAll(r.events);
  }
}

INSTANTIATE_TEST_SUITE_P(Transcripts, TranscriptTest, ::testing::ValuesIn(transcriptNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(TranscriptCorpus, IsPresent) {
  // A missing directory would otherwise pass silently with zero parameterised cases.
  EXPECT_GE(transcriptNames().size(), 80u) << "in " << transcriptDir();
}

TEST(TranscriptFormat, EscapesRoundTrip) {
  std::string err;
  const std::string raw = unescape("a\\r\\n\\t\\0\\\\\\x7f\\x00b", err);
  ASSERT_TRUE(err.empty()) << err;
  EXPECT_EQ(raw, std::string("a\r\n\t\0\\\x7f\0b", 9));
  EXPECT_EQ(unescape(escape(raw), err), raw);
  EXPECT_EQ(expandRepeats("x{{3*ab}}y", err), "xabababy");
}

}  // namespace
}  // namespace mx::smtp::testing
