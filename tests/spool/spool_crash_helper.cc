// tests/spool/spool_crash_helper.cc — the process the spool crash test kills. Opens the
// spool, and from one thread per lane keeps commits in flight forever; every commit that
// is acknowledged durable is printed as "ACK <id>" and flushed at once, so whatever the
// test reads from the pipe was acknowledged before the kill -9.
// Usage: spool_crash_helper DIR LANES SEED
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "crash_common.h"

using namespace mx;
using namespace mx::spool;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s DIR LANES SEED\n", argv[0]);
    return 2;
  }
  SpoolOptions o;
  o.dir = argv[1];
  o.lanes = static_cast<size_t>(std::atoi(argv[2]));
  o.inline_max = 64 << 10;
  o.segment_bytes = 1 << 20;  // roll often, so kills land around rolls too
  uint64_t seed = std::strtoull(argv[3], nullptr, 10);
  std::mutex out_mu;
  o.log = [&out_mu](std::string_view line) {
    std::lock_guard g(out_mu);
    std::printf("LOG %.*s\n", static_cast<int>(line.size()), line.data());
    std::fflush(stdout);
  };
  auto spool = Spool::open(o);
  if (!spool.ok()) {
    std::fprintf(stderr, "open: %s\n", spool.error().message().c_str());
    return 1;
  }
  std::vector<std::thread> threads;
  for (size_t l = 0; l < o.lanes; ++l) {
    threads.emplace_back([&, l] {
      MessageIdGenerator gen(seed * 1000 + l);
      std::mutex mu;
      std::condition_variable cv;
      int inflight = 0;
      for (;;) {
        {
          std::unique_lock lk(mu);
          cv.wait(lk, [&] { return inflight < 8; });
          ++inflight;
        }
        MessageId id = gen.next(std::chrono::system_clock::now());
        std::string text = id.toString();
        std::string body = testing::crashBody(text);
        auto w = (*spool)->lane(l).begin();
        bool ok = true;
        for (size_t i = 0; i < body.size() && ok; i += 8192) {
          ok = w->append(std::string_view(body).substr(i, 8192)).ok();
        }
        (*spool)->lane(l).commit(std::move(w), testing::crashEnvelope(id), [&, text](Status s) {
          if (s.ok()) {
            std::lock_guard g(out_mu);
            std::printf("ACK %s\n", text.c_str());
            std::fflush(stdout);
          }
          std::lock_guard lk(mu);
          --inflight;
          cv.notify_all();
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  return 0;
}
