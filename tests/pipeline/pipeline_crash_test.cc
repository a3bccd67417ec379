// Pipeline crash test: a helper commits records and runs the consumer (local store, JSONL
// events, quarantine) at the same time; the store refuses the raw objects of about one
// message in 16 for good. We kill -9 it at random moments several times, then let a final
// run drain the spool. Every acknowledged record must then be either (refused) in the
// quarantine, byte-exact with its envelope, and not stored, or (the rest) in the store
// exactly once under its raw key, byte-exact, and in the events file at least once; the
// spool must be empty.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "../spool/crash_common.h"
#include "pipeline/quarantine.h"
#include "pipeline_test_util.h"
#include "store/keys.h"

namespace mx::pipeline {
namespace {

namespace fs = std::filesystem;
using spool::testing::Child;
using spool::testing::TempDir;

TEST(PipelineCrash, KillNineDuringProcessingLosesNothing) {
  TempDir t;
  std::string dir = t.path();
  std::set<std::string> acked;
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round < 6; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    Child child({MX_PIPELINE_CRASH_HELPER, "run", dir, std::to_string(round + 1)});
    ASSERT_TRUE(child.waitForLine("ACK ", std::chrono::seconds(60))) << "helper acknowledged nothing";
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 900));
    child.kill9();
    std::printf("round %d: killed after %lld ms\n", round,
                static_cast<long long>(std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - t0).count()));
    for (const auto& line : child.lines()) {
      if (line.rfind("LOG ", 0) == 0) {
        // Torn tails cut on open are expected; corruption or lost bodies are not.
        EXPECT_EQ(line.find("corrupt"), std::string::npos) << line;
        EXPECT_EQ(line.find("missing"), std::string::npos) << line;
        continue;
      }
      ASSERT_EQ(line.rfind("ACK ", 0), 0u) << line;
      acked.insert(line.substr(4));
    }
  }
  auto t0 = std::chrono::steady_clock::now();
  Child drain({MX_PIPELINE_CRASH_HELPER, "drain", dir, "0"});
  int status = drain.wait();
  std::printf("drain took %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - t0).count()));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  for (const auto& line : drain.lines()) {
    EXPECT_EQ(line.find("corrupt"), std::string::npos) << line;
    EXPECT_EQ(line.find("missing"), std::string::npos) << line;
  }
  ASSERT_FALSE(acked.empty());

  // The store: one .eml per stored record; count stray temporaries from killed puts.
  std::map<std::string, std::string> stored;  // id -> path
  size_t temps = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/store")) {
    if (e.is_directory()) continue;
    if (e.path().parent_path().filename() == ".staging") {
      ++temps;  // a put killed mid-way: never visible, removed on a later open once stale
      continue;
    }
    ASSERT_EQ(e.path().extension(), ".eml") << e.path();
    std::string id = e.path().stem().string();
    ASSERT_EQ(stored.count(id), 0u) << "stored twice: " << id;
    stored[id] = e.path().string();
  }
  // The events file: every line is a complete event.
  std::map<std::string, int> events;
  std::ifstream in(dir + "/var/events.jsonl");
  std::string line;
  size_t lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    auto j = nlohmann::json::parse(line);  // throws (fails) on a torn line
    ++events[j["id"].get<std::string>()];
    ASSERT_EQ(j["data"]["storage"]["raw"].get<std::string>().find(j["id"].get<std::string>()) != std::string::npos, true);
  }
  size_t duplicates = 0;
  for (const auto& [id, n] : events) duplicates += static_cast<size_t>(n - 1);
  // The quarantine: exactly the refused messages, each complete.
  auto q = Quarantine::open({dir + "/spool/quarantine"});
  ASSERT_TRUE(q.ok());
  auto entries = (*q)->list();
  ASSERT_TRUE(entries.ok());
  std::set<std::string> quarantined;
  for (const auto& e : *entries) {
    ASSERT_FALSE(e.damaged) << e.damage;
    EXPECT_TRUE(testing::crashRefuses(e.id)) << e.id;
    EXPECT_EQ(e.failure.error_class, ErrorClass::kPermanentBackend);
    ASSERT_TRUE((*q)->retry(e.id).ok());
    auto full = (*q)->loadRetry(e.name);
    ASSERT_TRUE(full.ok()) << full.error().message();
    EXPECT_EQ(full->raw, spool::testing::crashBody(e.id));
    EXPECT_EQ(full->envelope, spool::testing::crashEnvelope(*MessageId::parse(e.id)));
    quarantined.insert(e.id);
  }
  EXPECT_TRUE((*q)->inbox().ok());
  size_t refused_acked = 0;
  store::KeyLayout keys;
  for (const auto& id : acked) {
    auto mid = MessageId::parse(id);
    ASSERT_TRUE(mid);
    Envelope env = spool::testing::crashEnvelope(*mid);
    if (testing::crashRefuses(id)) {
      ++refused_acked;
      EXPECT_TRUE(quarantined.count(id)) << "acknowledged " << id << " refused by the store, not quarantined";
      EXPECT_FALSE(stored.count(id)) << id;
      continue;
    }
    std::string key = keys.raw(env.tenant, env.received_at, env.id);
    ASSERT_TRUE(stored.count(id)) << "acknowledged " << id << " not in the store";
    EXPECT_EQ(stored[id], dir + "/store/" + key);
    std::ifstream f(stored[id], std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes, spool::testing::crashBody(id)) << id;
    EXPECT_GE(events[id], 1) << "acknowledged " << id << " has no event";
  }
  // Whatever was stored (acknowledged or not) has its event.
  for (const auto& [id, path] : stored) EXPECT_GE(events[id], 1) << id;
  EXPECT_GT(refused_acked, 0u);  // the quarantine path was exercised
  std::printf("%zu acknowledged, %zu stored, %zu quarantined (%zu of them acknowledged), %zu event lines (%zu duplicates), "
              "%zu stray temp files\n",
              acked.size(), stored.size(), quarantined.size(), refused_acked, lines, duplicates, temps);
}

}  // namespace
}  // namespace mx::pipeline
