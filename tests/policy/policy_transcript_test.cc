// tests/policy/policy_transcript_test.cc — the policy's replies as a client sees them: every
// tests/policy/transcripts/*.txt runs against a fresh smtp::Session whose questions the
// real LocalPolicy answers (through the transcript runner's PolicyHook: RCPT, MAIL and the
// end-of-data size check as the server asks them), fed at every chunk size from one octet
// to the whole input. The file picks its directory with `@fixture NAME` (see fixture()).
// Trust: the transcripts and fixtures are ours; a missing directory fails the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "policy/local_policy.h"
#include "tests/smtp/transcript.h"

namespace mx::policy {
namespace {

using smtp::testing::Transcript;

// The directories the transcripts run against.
//   tenants (default): acme — acme.test and every subdomain, messages up to 100 octets, a
//                      list of recipients: bob (any domain), sales@acme.test, ticket-*,
//                      anyone @sub.acme.test (plus-addressing on);
//                      beta — beta.test and every subdomain of eu.acme.test, no size limit,
//                      catch-all.
//   single:            solo — solo.test only, messages up to 100 octets.
DirectoryPtr fixture(const std::string& name) {
  std::vector<TenantConfig> tenants;
  if (name == "single") {
    TenantConfig solo{"solo", {"solo.test"}};
    solo.max_message_size = 100;
    tenants = {solo};
  } else if (name.empty() || name == "tenants") {
    TenantConfig acme{"acme", {"acme.test", "*.acme.test"}};
    acme.max_message_size = 100;
    acme.recipients.rule = "list";
    acme.recipients.addresses = {"bob", "sales@acme.test"};
    acme.recipients.patterns = {"ticket-*", "*@sub.acme.test"};
    TenantConfig beta{"beta", {"beta.test", "*.eu.acme.test"}};
    tenants = {acme, beta};
  } else {
    ADD_FAILURE() << "unknown @fixture " << name;
    return nullptr;
  }
  std::string error;
  auto dir = Directory::build(tenants, {}, &error);
  EXPECT_TRUE(dir) << error;
  return dir;
}

// Asks the policy and requires the answer at once (local rules never wait).
smtp::Verdict askNow(Policy& p, const Query& q) {
  std::optional<smtp::Verdict> got;
  p.check(q, [&got](smtp::Verdict v) { got.emplace(std::move(v)); });
  if (!got) {
    ADD_FAILURE() << "the policy did not answer " << stageName(q.stage) << " at once";
    return smtp::Verdict::refuse(smtp::ReplyId::kPolicyTempFail);
  }
  return *got;
}

std::filesystem::path transcriptDir() { return std::filesystem::path(MXGATE_POLICY_TRANSCRIPT_DIR); }

std::vector<std::string> transcriptNames() { return smtp::testing::transcriptNamesIn(transcriptDir()); }

std::string renderAll(const std::vector<smtp::testing::Event>& events) {
  std::string s;
  for (const auto& e : events) s += "    " + e.render() + "\n";
  return s;
}

class PolicyTranscriptTest : public ::testing::TestWithParam<std::string> {};

TEST_P(PolicyTranscriptTest, EveryChunkSize) {
  const std::string name = GetParam();
  std::string error;
  const auto t =
      smtp::testing::parseTranscript(name, smtp::testing::readTranscriptFile(transcriptDir() / (name + ".txt")), error);
  ASSERT_TRUE(t.has_value()) << error;
  ASSERT_FALSE(t->expected.empty()) << "transcript expects nothing";
  DirectoryPtr dir = fixture(t->fixture);
  ASSERT_TRUE(dir);
  LocalPolicy policy(dir, nullptr);
  smtp::testing::PolicyHook hook;
  hook.ask = [&policy](const smtp::Session& s, smtp::PolicyStage stage) {
    Query q{stageOf(stage), s.envelope(), {}, nullptr, 0, MonoTime{}};
    if (stage == smtp::PolicyStage::kHelo || stage == smtp::PolicyStage::kMailFrom ||
        stage == smtp::PolicyStage::kRcptTo) {
      q.argument = s.pendingArgument();
    }
    if (stage == smtp::PolicyStage::kAuth) return smtp::Verdict::refuse(smtp::ReplyId::kAuthFailed);
    return askNow(policy, q);
  };
  hook.end_of_data = [&policy](const smtp::Session& s, uint64_t octets) {
    return askNow(policy, Query{Stage::kEndOfData, s.envelope(), {}, nullptr, octets, MonoTime{}});
  };
  const size_t whole = std::max<size_t>(smtp::testing::longestSendRun(*t), 1);
  std::vector<size_t> sizes;
  for (size_t k = 1; k <= std::min<size_t>(whole, 2048); ++k) sizes.push_back(k);
  sizes.push_back(0);  // each run of client bytes at once
  for (size_t chunk : sizes) {
    const auto r = smtp::testing::runTranscript(*t, chunk, &hook);
    const std::string label = chunk == 0 ? "whole input" : "chunk size " + std::to_string(chunk);
    ASSERT_TRUE(r.error.empty()) << name << " (" << label << "): " << r.error << "\n  output so far:\n"
                                 << renderAll(r.events);
    ASSERT_EQ(renderAll(t->expected), renderAll(r.events)) << name << " (" << label << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(Transcripts, PolicyTranscriptTest, ::testing::ValuesIn(transcriptNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(PolicyTranscriptCorpus, IsPresent) { EXPECT_GE(transcriptNames().size(), 4u) << "in " << transcriptDir(); }

}  // namespace
}  // namespace mx::policy
