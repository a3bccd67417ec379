// Heap bound of a large message: a 5 MB body written with inline_max 64 KiB spills to a
// file as it arrives, so the heap held by the writer stays near the staging size whatever
// the body size; reading it back maps the spill file instead of copying it. This binary
// replaces the global operator new/delete to measure live heap bytes.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "spool_test_util.h"

namespace {

std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_peak{0};
constexpr size_t kHeader = 16;

void* countedAlloc(size_t n) {
  void* p = std::malloc(n + kHeader);
  if (p == nullptr) throw std::bad_alloc();
  *static_cast<size_t*>(p) = n;
  int64_t live = g_live.fetch_add(static_cast<int64_t>(n)) + static_cast<int64_t>(n);
  int64_t peak = g_peak.load();
  while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
  }
  return static_cast<char*>(p) + kHeader;
}

void countedFree(void* p) {
  if (p == nullptr) return;
  char* base = static_cast<char*>(p) - kHeader;
  g_live.fetch_sub(static_cast<int64_t>(*reinterpret_cast<size_t*>(base)));
  std::free(base);
}

}  // namespace

void* operator new(size_t n) { return countedAlloc(n); }
void* operator new[](size_t n) { return countedAlloc(n); }
void operator delete(void* p) noexcept { countedFree(p); }
void operator delete[](void* p) noexcept { countedFree(p); }
void operator delete(void* p, size_t) noexcept { countedFree(p); }
void operator delete[](void* p, size_t) noexcept { countedFree(p); }

namespace mx::spool {
namespace {

TEST(SpoolHeap, FiveMegabyteBodySpillsWithBoundedHeap) {
  testing::TempDir t;
  auto o = testing::testOptions(t.path());
  o.inline_max = 64 << 10;
  auto spool = Spool::open(o);
  ASSERT_TRUE(spool.ok());
  constexpr size_t kBody = 5 << 20;
  std::string chunk(8192, 'x');
  {
    int64_t base = g_live.load();
    g_peak.store(base);
    auto w = (*spool)->lane(0).begin();
    for (size_t i = 0; i < kBody; i += chunk.size()) {
      chunk[0] = static_cast<char>(i >> 13);  // vary the bytes a little
      ASSERT_TRUE(w->append(chunk).ok());
    }
    EXPECT_EQ(w->size(), kBody);
    int64_t peak = g_peak.load() - base;
    std::printf("writer heap peak for a 5 MB body: %lld bytes\n", static_cast<long long>(peak));
    // inline buffer up to 64 KiB (grown by doubling), then a 64 KiB staging buffer.
    EXPECT_LT(peak, 300 << 10);
    std::promise<bool> done;
    (*spool)->lane(0).commit(std::move(w), testing::makeEnvelope(1), [&](Status s) { done.set_value(s.ok()); });
    ASSERT_TRUE(done.get_future().get());
  }
  auto reader = (*spool)->reader();
  int64_t base = g_live.load();
  g_peak.store(base);
  auto r = reader->next(Millis(0));
  ASSERT_TRUE(r.ok() && *r);
  ASSERT_EQ((*r)->body.size(), kBody);
  for (size_t i = 0; i < kBody; i += chunk.size()) {
    ASSERT_EQ((*r)->body[i], static_cast<char>(i >> 13));
    ASSERT_EQ((*r)->body[i + 1], 'x');
  }
  int64_t read_peak = g_peak.load() - base;
  std::printf("reader heap peak for a 5 MB spilled body: %lld bytes\n", static_cast<long long>(read_peak));
  EXPECT_LT(read_peak, 1 << 20);  // mapped, not copied
}

TEST(SpoolHeap, IdleWriterIsSmall) {
  testing::TempDir t;
  auto spool = Spool::open(testing::testOptions(t.path()));
  ASSERT_TRUE(spool.ok());
  int64_t base = g_live.load();
  std::vector<MessageWriterPtr> writers;
  for (int i = 0; i < 1000; ++i) writers.push_back((*spool)->lane(0).begin());
  int64_t per = (g_live.load() - base) / 1000;
  std::printf("heap per idle message writer: %lld bytes\n", static_cast<long long>(per));
  EXPECT_LT(per, 256);
}

}  // namespace
}  // namespace mx::spool
