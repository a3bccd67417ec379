// Tests for the spool: commit → read, group commit, spill files, checkpoints and resume,
// segment roll and deletion, recovery from torn tails and corruption (every byte offset of
// the last record), orphan spill cleanup, sync failures, lane-count changes and locking.
#include "spool/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <future>
#include <thread>

#include "spool/file_util.h"
#include "spool_test_util.h"

namespace mx::spool {
namespace {

namespace fs = std::filesystem;
using testing::commitSync;
using testing::drain;
using testing::makeBody;
using testing::makeEnvelope;
using testing::TempDir;
using testing::testOptions;

std::unique_ptr<Spool> openOrDie(const SpoolOptions& o) {
  auto s = Spool::open(o);
  if (!s.ok()) {
    ADD_FAILURE() << s.error().message();
    return nullptr;
  }
  return std::move(*s);
}

std::vector<std::string> files(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (n.size() >= suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t fileSize(const std::string& p) { return fs::file_size(p); }

TEST(Spool, CommitThenRead) {
  TempDir t;
  auto spool = openOrDie(testOptions(t.path()));
  ASSERT_TRUE(spool);
  ASSERT_EQ(spool->laneCount(), 1u);
  std::string body = "From: a@b\r\n\r\nhello\r\n";
  ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(1), body).ok());
  auto reader = spool->reader();
  auto r = reader->next(Millis(0));
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(*r);
  EXPECT_EQ((*r)->envelope, makeEnvelope(1));
  EXPECT_EQ((*r)->body, body);
  EXPECT_EQ((*r)->lane, 0u);
  EXPECT_EQ((*r)->sequence, 1u);
  auto none = reader->next(Millis(0));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  auto st = spool->stats();
  EXPECT_EQ(st.commits, 1u);
  EXPECT_EQ(st.records_read, 1u);
}

TEST(Spool, EmptyBodyAndManySizesRoundTrip) {
  TempDir t;
  auto o = testOptions(t.path());
  o.inline_max = 1000;
  auto spool = openOrDie(o);
  std::vector<size_t> sizes = {0, 1, 999, 1000, 1001, 4096, 70000};
  for (size_t i = 0; i < sizes.size(); ++i) {
    ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(i), makeBody(i, sizes[i]), 333).ok());
  }
  auto reader = spool->reader();
  auto got = drain(*reader);
  ASSERT_EQ(got.size(), sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(got[i].body, makeBody(i, sizes[i])) << i;
    EXPECT_EQ(got[i].envelope, makeEnvelope(i));
  }
  auto st = spool->stats();
  EXPECT_EQ(st.spills_created, 3u);  // 1001, 4096, 70000
  EXPECT_EQ(st.spill_syncs, 3u);     // each spill file synced before its ack
  EXPECT_GE(st.dir_syncs, 3u);       // and its directory entry
}

TEST(Spool, ReaderWaitsForDurableRecord) {
  TempDir t;
  auto spool = openOrDie(testOptions(t.path()));
  auto reader = spool->reader();
  std::thread committer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(7), "x").ok());
  });
  auto r = reader->next(Millis(30000));
  committer.join();
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(*r);
  EXPECT_EQ((*r)->envelope.id, makeEnvelope(7).id);
}

std::atomic<bool> g_hold_syncs{false};
bool holdSegmentSyncs(std::string_view path) {
  if (path.size() > 4 && path.substr(path.size() - 4) == ".seg") {
    while (g_hold_syncs.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

TEST(Spool, ReaderNeverSeesARecordBeforeItsSyncCompletes) {
  TempDir t;
  auto spool = openOrDie(testOptions(t.path()));
  auto reader = spool->reader();
  g_hold_syncs = true;
  setSyncFaultHookForTest(&holdSegmentSyncs);
  std::promise<bool> acked;
  auto w = spool->lane(0).begin();
  ASSERT_TRUE(w->append("written, not yet durable").ok());
  spool->lane(0).commit(std::move(w), makeEnvelope(1), [&](Status s) { acked.set_value(s.ok()); });
  auto future = acked.get_future();
  // The record is in the segment file (one pwritev) but its fdatasync has not returned.
  EXPECT_EQ(future.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  auto early = reader->next(Millis(50));
  ASSERT_TRUE(early.ok());
  EXPECT_FALSE(*early);
  g_hold_syncs = false;
  auto r = reader->next(Millis(30000));  // woken by the sync thread
  setSyncFaultHookForTest(nullptr);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ((*r)->body, "written, not yet durable");
  EXPECT_TRUE(future.get());
}

TEST(Spool, GroupCommitManyLanesAndThreads) {
  TempDir t;
  constexpr size_t kLanes = 4, kThreadsPerLane = 4, kPerThread = 150;
  auto spool = openOrDie(testOptions(t.path(), kLanes));
  std::atomic<uint64_t> ok{0}, failed{0};
  std::vector<std::thread> threads;
  for (size_t l = 0; l < kLanes; ++l) {
    for (size_t k = 0; k < kThreadsPerLane; ++k) {
      threads.emplace_back([&, l, k] {
        // Each thread keeps up to 16 commits in flight, like an I/O thread with many
        // connections waiting for their 250.
        std::mutex mu;
        std::condition_variable cv;
        size_t inflight = 0;
        for (size_t i = 0; i < kPerThread; ++i) {
          {
            std::unique_lock lk(mu);
            cv.wait(lk, [&] { return inflight < 16; });
            ++inflight;
          }
          uint64_t n = (l * kThreadsPerLane + k) * kPerThread + i;
          auto w = spool->lane(l).begin();
          ASSERT_TRUE(w->append(makeBody(n, 1024)).ok());
          spool->lane(l).commit(std::move(w), makeEnvelope(n), [&](Status s) {
            (s.ok() ? ok : failed).fetch_add(1);
            std::lock_guard lk(mu);
            --inflight;
            cv.notify_all();
          });
        }
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return inflight == 0; });
      });
    }
  }
  for (auto& th : threads) th.join();
  const uint64_t total = kLanes * kThreadsPerLane * kPerThread;
  EXPECT_EQ(ok.load(), total);
  EXPECT_EQ(failed.load(), 0u);
  auto st = spool->stats();
  EXPECT_EQ(st.commits, total);
  // One fdatasync covers every record appended since the previous one.
  EXPECT_LT(st.segment_syncs * 4, st.commits) << "syncs=" << st.segment_syncs;
  std::printf("group commit: %llu commits, %llu segment fdatasyncs, %llu batches\n",
              static_cast<unsigned long long>(st.commits),
              static_cast<unsigned long long>(st.segment_syncs),
              static_cast<unsigned long long>(st.sync_batches));
  // Every record is readable, each lane in sequence order.
  auto reader = spool->reader();
  auto got = drain(*reader);
  ASSERT_EQ(got.size(), total);
  std::vector<uint64_t> last(kLanes, 0);
  std::set<std::string> ids;
  for (const auto& r : got) {
    EXPECT_GT(r.sequence, last[r.lane]);
    last[r.lane] = r.sequence;
    ids.insert(r.envelope.id.toString());
  }
  EXPECT_EQ(ids.size(), total);
}

TEST(Spool, CheckpointResumeAfterReopen) {
  TempDir t;
  {
    auto spool = openOrDie(testOptions(t.path()));
    for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(i), makeBody(i, 100)).ok());
    auto reader = spool->reader();
    std::optional<Record> fourth;
    for (int i = 0; i < 4; ++i) {
      auto r = reader->next(Millis(0));
      ASSERT_TRUE(r.ok() && *r);
      if (i == 3) fourth = **r;
    }
    ASSERT_TRUE(reader->checkpoint(*fourth).ok());
    EXPECT_EQ(drain(*reader).size(), 6u);  // read but not checkpointed
  }
  auto spool = openOrDie(testOptions(t.path()));
  EXPECT_EQ(spool->stats().recovered_records, 6u);
  auto reader = spool->reader();
  auto got = drain(*reader);
  ASSERT_EQ(got.size(), 6u);
  // Records finished before the restart are skipped quietly, not as corruption.
  EXPECT_EQ(spool->stats().corrupt_regions, 0u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(got[i].envelope, makeEnvelope(i + 4));
    EXPECT_EQ(got[i].body, makeBody(i + 4, 100));
  }
  // New commits get sequences above every earlier one.
  ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(100), "new").ok());
  auto n = drain(*reader);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_GT(n[0].sequence, got.back().sequence);
}

TEST(Spool, RewindRedeliversEverythingSinceTheCheckpoint) {
  TempDir t;
  auto o = testOptions(t.path(), 2);
  o.segment_bytes = 2048;
  o.inline_max = 200;
  auto spool = openOrDie(o);
  for (uint64_t i = 0; i < 40; ++i) {
    ASSERT_TRUE(commitSync(spool->lane(i % 2), makeEnvelope(i), makeBody(i, i % 3 ? 100 : 300)).ok());
  }
  auto reader = spool->reader();
  std::vector<Record> first;
  for (int i = 0; i < 15; ++i) {
    auto r = reader->next(Millis(0));
    ASSERT_TRUE(r.ok() && *r);
    first.push_back(**r);
  }
  ASSERT_TRUE(reader->checkpoint(first[9]).ok());
  auto after = drain(*reader);  // 25 more, never checkpointed
  ASSERT_EQ(after.size(), 25u);
  reader->rewind();
  auto again = drain(*reader);
  ASSERT_EQ(again.size(), 30u);  // first[10..14] and the 25
  std::set<std::string> want, got;
  for (size_t i = 10; i < 15; ++i) want.insert(first[i].envelope.id.toString());
  for (const auto& r : after) want.insert(r.envelope.id.toString());
  for (const auto& r : again) {
    got.insert(r.envelope.id.toString());
    uint64_t n = 0;
    for (; n < 40 && !(makeEnvelope(n).id == r.envelope.id); ++n) {
    }
    EXPECT_EQ(r.body, makeBody(n, n % 3 ? 100 : 300));
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(spool->stats().corrupt_regions, 0u);
  // Checkpointing the re-delivered records works as usual.
  drain(*reader);
  reader->rewind();
  auto all = drain(*reader, true);
  EXPECT_EQ(all.size(), 30u);
  reader->rewind();
  EXPECT_TRUE(drain(*reader).empty());
}

TEST(Spool, CheckpointRejectsUnknownRecordAndIsIdempotent) {
  TempDir t;
  auto spool = openOrDie(testOptions(t.path()));
  ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(1), "a").ok());
  auto reader = spool->reader();
  auto r = reader->next(Millis(0));
  ASSERT_TRUE(r.ok() && *r);
  Record rec = **r;
  ASSERT_TRUE(reader->checkpoint(rec).ok());
  EXPECT_TRUE(reader->checkpoint(rec).ok());  // already done
  Record bogus = rec;
  bogus.sequence = 99;
  EXPECT_FALSE(reader->checkpoint(bogus).ok());
}

TEST(Spool, SegmentsRollAndAreDeletedOnceCheckpointed) {
  TempDir t;
  auto o = testOptions(t.path());
  o.segment_bytes = 4096;
  o.inline_max = 300;
  auto spool = openOrDie(o);
  // Half of the bodies spill, so segment deletion must take their spill files too.
  for (uint64_t i = 0; i < 60; ++i) {
    ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(i), makeBody(i, i % 2 ? 500 : 200)).ok());
  }
  std::string lane = t.sub("lane-0000");
  size_t before = files(lane, ".seg").size();
  EXPECT_GT(before, 5u);
  EXPECT_EQ(files(lane + "/spill", ".spill").size(), 30u);
  auto reader = spool->reader();
  // Checkpoint in two steps: after the first, only segments wholly before it go.
  std::vector<Record> recs;
  for (int i = 0; i < 30; ++i) {
    auto r = reader->next(Millis(0));
    ASSERT_TRUE(r.ok() && *r);
    recs.push_back(**r);
  }
  ASSERT_TRUE(reader->checkpoint(recs.back()).ok());
  size_t mid = files(lane, ".seg").size();
  EXPECT_LT(mid, before);
  EXPECT_GT(mid, 1u);
  EXPECT_EQ(files(lane + "/spill", ".spill").size(), 15u);
  auto rest = drain(*reader, /*checkpoint_last=*/true);
  EXPECT_EQ(rest.size(), 30u);
  // Only the active segment (which may hold records but is still open) can remain, and
  // every spill file is gone.
  size_t after = files(lane, ".seg").size();
  EXPECT_LE(after, 1u);
  EXPECT_EQ(files(lane + "/spill", ".spill").size(), 0u);
  EXPECT_EQ(spool->stats().segments_deleted, before - after);
  spool.reset();
  // Reopen: nothing is re-delivered, and the old segment goes too.
  auto again = openOrDie(o);
  auto r2 = again->reader();
  EXPECT_TRUE(drain(*r2).empty());
  EXPECT_EQ(files(lane, ".seg").size(), 1u);  // the fresh active segment only
}

// A message for several tenants: one body, one record per envelope, durable together.
Status commitCopiesSync(Lane& lane, std::vector<Envelope> envs, std::string_view body) {
  auto w = lane.begin();
  if (auto s = w->append(body); !s.ok()) return s;
  std::promise<std::optional<Error>> p;
  auto f = p.get_future();
  lane.commitCopies(std::move(w), std::move(envs),
                    [&p](Status s) { p.set_value(s.ok() ? std::nullopt : std::optional<Error>(s.error())); });
  auto r = f.get();
  if (r) return *r;
  return okStatus();
}

TEST(Spool, CopiesOfOneBodyAreSeparateRecordsInOneGroupCommit) {
  for (const size_t body_size : {size_t{200}, size_t{5000}}) {  // inline, then spilled
    TempDir t;
    auto o = testOptions(t.path());
    o.inline_max = 1000;
    std::string spill_dir = t.sub("lane-0000/spill");
    {
      auto spool = openOrDie(o);
      const std::string body = makeBody(7, body_size);
      ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(1), "before").ok());
      const uint64_t batches = spool->stats().sync_batches;
      ASSERT_TRUE(commitCopiesSync(spool->lane(0), {makeEnvelope(2), makeEnvelope(3), makeEnvelope(4)}, body).ok());
      const SpoolStats st = spool->stats();
      EXPECT_EQ(st.sync_batches, batches + 1);  // one group commit for the three
      EXPECT_EQ(st.commits, 4u);
      EXPECT_EQ(files(spill_dir, ".spill").size(), body_size > 1000 ? 3u : 0u);  // one name each
      auto reader = spool->reader();
      auto got = drain(*reader);
      ASSERT_EQ(got.size(), 4u);
      for (size_t i = 1; i < 4; ++i) {
        EXPECT_EQ(got[i].envelope, makeEnvelope(i + 1));
        EXPECT_EQ(got[i].body, body);
        EXPECT_EQ(got[i].sequence, got[0].sequence + i);
      }
      // Done with the first two copies: their spill files go, the third's stays readable.
      reader.reset();
      auto again = spool->reader();
      std::vector<Record> recs;
      for (int i = 0; i < 3; ++i) {
        auto r = again->next(Millis(0));
        ASSERT_TRUE(r.ok() && *r);
        recs.push_back(**r);
      }
      ASSERT_TRUE(again->checkpoint(recs.back()).ok());
      EXPECT_EQ(files(spill_dir, ".spill").size(), body_size > 1000 ? 1u : 0u);
    }
    // After a restart the last copy is still there, byte-exact.
    auto spool = openOrDie(o);
    auto reader = spool->reader();
    auto got = drain(*reader);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].envelope, makeEnvelope(4));
    EXPECT_EQ(got[0].body, makeBody(7, body_size));
  }
}

TEST(Spool, CopiesWithoutAnEnvelopeFail) {
  TempDir t;
  auto spool = openOrDie(testOptions(t.path()));
  EXPECT_FALSE(commitCopiesSync(spool->lane(0), {}, "x").ok());
}

TEST(Spool, OrphanSpillFilesAreRemoved) {
  TempDir t;
  auto o = testOptions(t.path());
  o.inline_max = 10;
  std::string spill_dir = t.sub("lane-0000/spill");
  {
    auto spool = openOrDie(o);
    {
      auto w = spool->lane(0).begin();
      ASSERT_TRUE(w->append(makeBody(1, 100)).ok());
      EXPECT_EQ(files(spill_dir, ".spill").size(), 1u);
    }  // abandoned message (RSET / disconnect)
    EXPECT_EQ(files(spill_dir, ".spill").size(), 0u);
    ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(2), makeBody(2, 100)).ok());
  }
  // A crash mid-message leaves a spill file no record refers to.
  std::ofstream(spill_dir + "/00000000deadbeef.spill") << "partial";
  std::ofstream(spill_dir + "/junk.tmp") << "x";
  auto spool = openOrDie(o);
  EXPECT_EQ(spool->stats().orphan_spills_removed, 2u);
  EXPECT_EQ(files(spill_dir, ".spill").size(), 1u);
  auto reader = spool->reader();
  auto got = drain(*reader);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, makeBody(2, 100));
}

TEST(Spool, MissingSpillFileSkipsRecordWithCounter) {
  TempDir t;
  auto o = testOptions(t.path());
  o.inline_max = 10;
  auto spool = openOrDie(o);
  ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(1), makeBody(1, 100)).ok());
  ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(2), makeBody(2, 5)).ok());
  for (const auto& f : files(t.sub("lane-0000/spill"), ".spill")) fs::remove(f);
  auto reader = spool->reader();
  auto got = drain(*reader);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].envelope.id, makeEnvelope(2).id);
  EXPECT_EQ(spool->stats().missing_spills, 1u);
}

// Builds a spool with three records in its first segment and returns the byte range of
// the last one, so recovery tests can damage it.
struct ThreeRecords {
  std::string seg;        // path of the first segment
  uint64_t last_begin;    // offset of the third record
  uint64_t last_end;      // file size after it
};

ThreeRecords makeThree(const SpoolOptions& o, size_t last_body) {
  auto spool = openOrDie(o);
  ThreeRecords r;
  EXPECT_TRUE(commitSync(spool->lane(0), makeEnvelope(1), makeBody(1, 50)).ok());
  EXPECT_TRUE(commitSync(spool->lane(0), makeEnvelope(2), makeBody(2, 60)).ok());
  r.seg = files(o.dir + "/lane-0000", ".seg").at(0);
  r.last_begin = fileSize(r.seg);
  EXPECT_TRUE(commitSync(spool->lane(0), makeEnvelope(3), makeBody(3, last_body)).ok());
  r.last_end = fileSize(r.seg);
  spool->close();
  return r;
}

void copyTree(const std::string& from, const std::string& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
  fs::remove(to + "/LOCK");
}

void checkFirstTwoSurvive(const SpoolOptions& o, const std::string& what) {
  auto spool = openOrDie(o);
  ASSERT_TRUE(spool) << what;
  auto reader = spool->reader();
  auto got = drain(*reader);
  ASSERT_EQ(got.size(), 2u) << what;
  EXPECT_EQ(got[0].envelope, makeEnvelope(1)) << what;
  EXPECT_EQ(got[0].body, makeBody(1, 50)) << what;
  EXPECT_EQ(got[1].envelope, makeEnvelope(2)) << what;
  EXPECT_EQ(got[1].body, makeBody(2, 60)) << what;
  // The spool works normally afterwards.
  ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(4), "after").ok()) << what;
  auto more = drain(*reader);
  ASSERT_EQ(more.size(), 1u) << what;
  EXPECT_EQ(more[0].body, "after");
}

void truncateEveryOffset(size_t last_body, uint64_t inline_max) {
  TempDir t;
  auto o = testOptions(t.sub("orig"));
  o.inline_max = inline_max;
  o.fsync = false;  // recovery does not depend on it; keeps ~1000 reopens fast
  ThreeRecords three = makeThree(o, last_body);
  ASSERT_GT(three.last_end, three.last_begin);
  std::string seg_name = fs::path(three.seg).filename().string();
  for (uint64_t cut = three.last_begin; cut < three.last_end; ++cut) {
    auto c = testOptions(t.sub("copy"));
    c.inline_max = inline_max;
    c.fsync = cut % 97 == 0;  // now and then, the real thing
    copyTree(o.dir, c.dir);
    std::string seg = c.dir + "/lane-0000/" + seg_name;
    ASSERT_EQ(::truncate(seg.c_str(), static_cast<off_t>(cut)), 0);
    {
      auto spool = openOrDie(c);
      ASSERT_TRUE(spool);
      auto st = spool->stats();
      EXPECT_EQ(st.torn_tails_truncated, cut > three.last_begin ? 1u : 0u) << cut;
      EXPECT_EQ(st.corrupt_regions, 0u) << cut;
      EXPECT_EQ(fileSize(seg), three.last_begin) << cut;
      if (inline_max < last_body) {
        EXPECT_EQ(st.orphan_spills_removed, 1u) << cut;  // the lost record's body
      }
    }
    checkFirstTwoSurvive(c, "cut at " + std::to_string(cut));
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(SpoolRecovery, TruncateAtEveryOffsetOfLastRecordInline) { truncateEveryOffset(300, 1 << 20); }
TEST(SpoolRecovery, TruncateAtEveryOffsetOfLastRecordSpilled) { truncateEveryOffset(3000, 1000); }

TEST(SpoolRecovery, FlipEveryByteOfLastRecord) {
  TempDir t;
  auto o = testOptions(t.sub("orig"));
  o.fsync = false;
  ThreeRecords three = makeThree(o, 120);
  std::string seg_name = fs::path(three.seg).filename().string();
  for (uint64_t at = three.last_begin; at < three.last_end; ++at) {
    auto c = testOptions(t.sub("copy"));
    c.fsync = false;
    copyTree(o.dir, c.dir);
    std::string seg = c.dir + "/lane-0000/" + seg_name;
    {
      std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(static_cast<std::streamoff>(at));
      char b;
      f.read(&b, 1);
      b = static_cast<char>(b ^ (at % 2 ? 0xFF : 0x01));
      f.seekp(static_cast<std::streamoff>(at));
      f.write(&b, 1);
    }
    {
      auto spool = openOrDie(c);
      ASSERT_TRUE(spool);
      EXPECT_EQ(spool->stats().torn_tails_truncated, 1u) << at;
    }
    checkFirstTwoSurvive(c, "flip at " + std::to_string(at));
    if (HasFailure()) return;
  }
}

TEST(SpoolRecovery, CorruptMiddleRecordIsSkippedNotTheOnesAfter) {
  TempDir t;
  auto o = testOptions(t.path());
  std::string seg;
  uint64_t second_begin;
  {
    auto spool = openOrDie(o);
    ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(1), makeBody(1, 50)).ok());
    seg = files(t.sub("lane-0000"), ".seg").at(0);
    second_begin = fileSize(seg);
    for (uint64_t i = 2; i <= 5; ++i) ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(i), makeBody(i, 50)).ok());
  }
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(second_begin + 60));
    f.write("\x55\xAA", 2);
  }
  std::vector<std::string> logs;
  o.log = [&](std::string_view l) { logs.emplace_back(l); };
  auto spool = openOrDie(o);
  EXPECT_EQ(spool->stats().corrupt_regions, 1u);
  EXPECT_EQ(spool->stats().torn_tails_truncated, 0u);
  EXPECT_FALSE(logs.empty());
  auto reader = spool->reader();
  auto got = drain(*reader);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].envelope.id, makeEnvelope(1).id);
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_EQ(got[i].envelope, makeEnvelope(i + 2));
    EXPECT_EQ(got[i].body, makeBody(i + 2, 50));
  }
}

TEST(SpoolRecovery, BadSegmentHeaderIsSetAsideNotDeleted) {
  TempDir t;
  auto o = testOptions(t.path());
  std::string seg;
  {
    auto spool = openOrDie(o);
    ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(1), "x").ok());
    seg = files(t.sub("lane-0000"), ".seg").at(0);
  }
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3);
    f.write("?", 1);
  }
  auto spool = openOrDie(o);
  EXPECT_EQ(spool->stats().corrupt_segments, 1u);
  EXPECT_TRUE(fs::exists(seg + ".corrupt"));
}

TEST(SpoolRecovery, UncheckpointedRecordsAreRedeliveredAfterReopen) {
  TempDir t;
  auto o = testOptions(t.path(), 3);
  {
    auto spool = openOrDie(o);
    for (uint64_t i = 0; i < 30; ++i) ASSERT_TRUE(commitSync(spool->lane(i % 3), makeEnvelope(i), makeBody(i, 10)).ok());
    auto reader = spool->reader();
    EXPECT_EQ(drain(*reader).size(), 30u);  // read, never checkpointed
  }
  auto spool = openOrDie(o);
  auto reader = spool->reader();
  auto got = drain(*reader);
  EXPECT_EQ(got.size(), 30u);
}

TEST(Spool, FewerLanesAfterRestartStillDrainsOldLanes) {
  TempDir t;
  {
    auto spool = openOrDie(testOptions(t.path(), 3));
    ASSERT_TRUE(commitSync(spool->lane(2), makeEnvelope(22), "lane two").ok());
  }
  auto spool = openOrDie(testOptions(t.path(), 1));
  EXPECT_EQ(spool->laneCount(), 1u);
  auto reader = spool->reader();
  auto got = drain(*reader, true);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].lane, 2u);
  EXPECT_EQ(got[0].body, "lane two");
  spool.reset();
  auto again = openOrDie(testOptions(t.path(), 3));
  auto r2 = again->reader();
  EXPECT_TRUE(drain(*r2).empty());
  // Sequences on lane 2 continue above the checkpoint.
  ASSERT_TRUE(commitSync(again->lane(2), makeEnvelope(23), "y").ok());
  auto n = drain(*r2);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_GT(n[0].sequence, got[0].sequence);
}

TEST(Spool, SecondOpenOfSameDirectoryFails) {
  TempDir t;
  auto a = openOrDie(testOptions(t.path()));
  auto b = Spool::open(testOptions(t.path()));
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message().find("in use"), std::string::npos);
}

TEST(Spool, CloseCompletesOutstandingAndLaterCommitsFail) {
  TempDir t;
  auto spool = openOrDie(testOptions(t.path()));
  std::atomic<int> ok{0};
  for (int i = 0; i < 100; ++i) {
    auto w = spool->lane(0).begin();
    ASSERT_TRUE(w->append("body").ok());
    spool->lane(0).commit(std::move(w), makeEnvelope(i), [&](Status s) { if (s.ok()) ++ok; });
  }
  spool->close();
  EXPECT_EQ(ok.load(), 100);
  bool called = false;
  auto w = spool->lane(0).begin();
  spool->lane(0).commit(std::move(w), makeEnvelope(1), [&](Status s) {
    called = true;
    EXPECT_FALSE(s.ok());
  });
  EXPECT_TRUE(called);  // inline: no sync thread any more
  // A callback that commits again (after close) does not deadlock.
  int depth = 0;
  std::function<void(Status)> again = [&](Status s) {
    EXPECT_FALSE(s.ok());
    if (++depth < 3) spool->lane(0).commit(spool->lane(0).begin(), makeEnvelope(2), again);
  };
  spool->lane(0).commit(spool->lane(0).begin(), makeEnvelope(2), again);
  EXPECT_EQ(depth, 3);
}

std::atomic<int> g_fail_syncs{0};
bool failSegmentSync(std::string_view path) {
  if (path.size() > 4 && path.substr(path.size() - 4) == ".seg" && g_fail_syncs.load() > 0) {
    g_fail_syncs.fetch_sub(1);
    return true;
  }
  return false;
}

TEST(Spool, FailedSyncFailsCommitAndRollsToNewSegment) {
  TempDir t;
  auto spool = openOrDie(testOptions(t.path()));
  ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(1), "good one").ok());
  uint64_t segs = spool->stats().segments_created;
  g_fail_syncs = 1;
  setSyncFaultHookForTest(&failSegmentSync);
  Status bad = commitSync(spool->lane(0), makeEnvelope(2), "lost one");
  setSyncFaultHookForTest(nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().errorClass(), ErrorClass::kTransientBackend);
  ASSERT_TRUE(commitSync(spool->lane(0), makeEnvelope(3), "after").ok());
  auto st = spool->stats();
  EXPECT_EQ(st.commit_failures, 1u);
  EXPECT_EQ(st.segments_created, segs + 1);  // rolled away from the failed segment
  auto reader = spool->reader();
  auto got = drain(*reader);
  // The failed record is never handed out (the client got 451 and will retry).
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].body, "good one");
  EXPECT_EQ(got[1].body, "after");
}

TEST(Spool, RejectsBadOptions) {
  TempDir t;
  auto o = testOptions(t.path());
  o.lanes = 0;
  EXPECT_FALSE(Spool::open(o).ok());
  o = testOptions("");
  EXPECT_FALSE(Spool::open(o).ok());
  o = testOptions(t.path());
  o.segment_bytes = 10;
  EXPECT_FALSE(Spool::open(o).ok());
}

}  // namespace
}  // namespace mx::spool
