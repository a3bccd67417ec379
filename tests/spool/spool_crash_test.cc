// The real crash test: a helper process commits records in a loop and prints each
// acknowledged id; we kill -9 it at random moments, several times over the same spool,
// reopen it, and check that every acknowledged id is present with its exact envelope and
// body. (kill -9 loses what only the process held, not the page cache; torn writes on
// power loss are covered by the every-offset truncation tests in spool_test.)
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "crash_common.h"

namespace mx::spool {
namespace {

using testing::Child;
using testing::TempDir;

TEST(SpoolCrash, EveryAcknowledgedRecordSurvivesKillNine) {
  TempDir t;
  std::string dir = t.sub("spool");
  std::set<std::string> acked;
  std::mt19937 rng(std::random_device{}());
  const int rounds = 6;
  for (int round = 0; round < rounds; ++round) {
    Child child({MX_SPOOL_CRASH_HELPER, dir, "3", std::to_string(round + 1)});
    // Let it get going (recovery can be slow on a busy disk), then kill at a random moment.
    ASSERT_TRUE(child.waitForLine("ACK ", std::chrono::seconds(60))) << "helper acknowledged nothing";
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 700));
    child.kill9();
    size_t before = acked.size();
    for (const auto& line : child.lines()) {
      if (line.rfind("LOG ", 0) == 0) {
        EXPECT_EQ(line.find("corrupt"), std::string::npos) << line;
        continue;
      }
      ASSERT_EQ(line.rfind("ACK ", 0), 0u) << line;
      acked.insert(line.substr(4));
    }
    EXPECT_GT(acked.size(), before) << "round " << round << " acknowledged nothing";

    SpoolOptions o;
    o.dir = dir;
    o.lanes = 3;
    o.inline_max = 64 << 10;
    o.log = [](std::string_view) {};
    auto spool = Spool::open(o);
    ASSERT_TRUE(spool.ok()) << spool.error().message();
    auto st = (*spool)->stats();
    EXPECT_EQ(st.corrupt_regions, 0u);
    EXPECT_EQ(st.corrupt_segments, 0u);
    auto reader = (*spool)->reader();
    std::map<std::string, int> seen;
    size_t checked = 0;
    for (;;) {
      auto r = reader->next(Millis(0));
      ASSERT_TRUE(r.ok()) << r.error().message();
      if (!*r) break;
      std::string id = (*r)->envelope.id.toString();
      ++seen[id];
      // Unacknowledged records may survive too (written, the kill came before the ack);
      // whatever survives must be intact.
      ASSERT_EQ((*r)->envelope, testing::crashEnvelope((*r)->envelope.id)) << id;
      ASSERT_EQ((*r)->body, testing::crashBody(id)) << id;
      ++checked;
    }
    EXPECT_EQ((*spool)->stats().missing_spills, 0u);
    size_t missing = 0;
    for (const auto& id : acked) {
      if (seen.count(id) == 0) {
        ++missing;
        ADD_FAILURE() << "acknowledged " << id << " lost after round " << round;
      }
    }
    for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
    std::printf("round %d: %zu acknowledged so far, %zu records intact, %llu torn tails cut, %zu lost\n",
                round, acked.size(), checked, static_cast<unsigned long long>(st.torn_tails_truncated),
                missing);
  }
}

}  // namespace
}  // namespace mx::spool
