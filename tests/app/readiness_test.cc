// Tests for app/readiness: /readyz's answer from the stopping flag, the spool's free space
// (a real StorageGuard with an injected free-space reading) and the commit outcomes between
// two probes.
#include "app/readiness.h"

#include <gtest/gtest.h>

namespace mx::app {
namespace {

class ReadinessTest : public ::testing::Test {
 protected:
  // The guard re-reads at every call (refresh 0) the free bytes set by the test.
  policy::StorageGuard guard_{"/spool", 1000, [this](const std::string&) { return std::optional<uint64_t>(free_); },
                              std::chrono::milliseconds(0)};
  CommitOutcomes outcomes_;
  uint64_t free_ = 5000;
  MonoTime now_{};
  MonoTime tick() { return now_ += std::chrono::seconds(1); }
};

TEST_F(ReadinessTest, ReadyUntilStopping) {
  Readiness r(guard_, [this] { return outcomes_; });
  EXPECT_EQ(r.check(tick()), "");
  r.stopping();
  EXPECT_EQ(r.check(tick()), "stopping: draining sessions");
  free_ = 0;
  EXPECT_EQ(r.check(tick()), "stopping: draining sessions");  // stopping is the first reason
}

TEST_F(ReadinessTest, NotReadyWhileTheSpoolDiskIsBelowMinFree) {
  Readiness r(guard_, [this] { return outcomes_; });
  free_ = 999;
  EXPECT_EQ(r.check(tick()), "spool filesystem below spool.min_free or read-only");
  free_ = 1000;
  EXPECT_EQ(r.check(tick()), "");
}

TEST_F(ReadinessTest, FailedCommitsWithoutAnAcceptedOneBetweenProbes) {
  outcomes_ = {10, 2};  // before the Readiness exists: not counted against it
  Readiness r(guard_, [this] { return outcomes_; });
  EXPECT_EQ(r.check(tick()), "");
  outcomes_.failed += 3;
  EXPECT_EQ(r.check(tick()), "commits failing: messages answered 451 and none accepted since the last probe");
  outcomes_.failed += 1;  // failures with a success beside them: the spool works
  outcomes_.accepted += 1;
  EXPECT_EQ(r.check(tick()), "");
  outcomes_.failed += 1;
  EXPECT_NE(r.check(tick()), "");
  // No traffic at all (the balancer took the node out): ready again, so it can come back.
  EXPECT_EQ(r.check(tick()), "");
}

}  // namespace
}  // namespace mx::app
