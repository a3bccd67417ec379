// bench/spool/spool_bench.cc — spool commit throughput with group commit: commits/s and
// segment fdatasyncs/s for 1 KiB and 100 KiB bodies with 1, 50 and 500 concurrent
// committers, plus commit latency (commit() to callback). Each lane is driven by one
// thread standing in for an I/O thread: it keeps its share of the committers' messages in
// flight and starts a new one whenever a callback reports the last one durable, as a
// connection would after its 250 reply.
//
// Usage: spool_bench [--dir DIR] [--seconds N] [--lanes N] [--no-fsync]
//                    [--bodies 1024,102400] [--committers 1,50,500]
// DIR must be on the disk under test (default: $TMPDIR or /tmp). Results depend on the
// machine and its load: quote medians of several runs, with the conditions.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/message_id.h"
#include "spool/spool.h"

using namespace mx;
using namespace mx::spool;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Case {
  size_t body;
  size_t committers;
};

struct Outcome {
  double seconds = 0;
  uint64_t commits = 0;
  uint64_t failures = 0;
  uint64_t syncs = 0;
  double p50_us = 0, p99_us = 0;
};

std::vector<size_t> parseList(const std::string& s) {
  std::vector<size_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::stoul(item));
  return out;
}

Outcome runCase(const std::string& dir, size_t lanes, bool fsync, double seconds, const Case& c) {
  std::filesystem::remove_all(dir);
  SpoolOptions o;
  o.dir = dir;
  o.lanes = lanes;
  o.fsync = fsync;
  auto opened = Spool::open(o);
  if (!opened.ok()) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), opened.error().message().c_str());
    std::exit(1);
  }
  Spool& spool = **opened;
  std::string body(c.body, 'x');
  for (size_t i = 0; i < body.size(); i += 78) body[i] = '\n';
  const auto start = SteadyClock::now();
  const auto deadline = start + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(seconds));
  const SpoolStats before = spool.stats();
  std::atomic<uint64_t> failures{0};
  std::vector<std::vector<uint32_t>> latencies(lanes);
  std::vector<std::thread> drivers;
  for (size_t l = 0; l < lanes; ++l) {
    size_t quota = c.committers / lanes + (l < c.committers % lanes ? 1 : 0);
    drivers.emplace_back([&, l, quota] {
      if (quota == 0) return;
      MessageIdGenerator gen(l + 1);
      std::mutex mu;
      std::condition_variable cv;
      size_t inflight = 0;
      std::vector<uint32_t>& lat = latencies[l];
      lat.reserve(1 << 20);
      for (;;) {
        {
          std::unique_lock lk(mu);
          cv.wait(lk, [&] { return inflight < quota; });
        }
        if (SteadyClock::now() >= deadline) break;
        Envelope env;
        env.id = gen.next(std::chrono::system_clock::now());
        env.received_at = std::chrono::system_clock::now();
        env.tenant = "bench";
        env.listener = "smtp";
        env.mail_from = "sender@example.org";
        env.rcpt_to = {"rcpt@example.com"};
        env.client_ip = "192.0.2.1";
        auto w = spool.lane(l).begin();
        for (size_t i = 0; i < body.size(); i += 16384) {
          (void)w->append(std::string_view(body).substr(i, 16384));
        }
        {
          std::lock_guard lk(mu);
          ++inflight;
        }
        auto t0 = SteadyClock::now();
        spool.lane(l).commit(std::move(w), std::move(env), [&, t0](Status s) {
          auto us = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - t0).count();
          if (!s.ok()) failures.fetch_add(1);
          std::lock_guard lk(mu);
          lat.push_back(static_cast<uint32_t>(us));
          --inflight;
          cv.notify_one();
        });
      }
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return inflight == 0; });
    });
  }
  for (auto& t : drivers) t.join();
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  const SpoolStats after = spool.stats();
  spool.close();
  std::vector<uint32_t> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  Outcome out;
  out.seconds = elapsed;
  out.commits = after.commits - before.commits;
  out.failures = failures.load();
  out.syncs = after.segment_syncs - before.segment_syncs;
  if (!all.empty()) {
    out.p50_us = all[all.size() / 2];
    out.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  std::filesystem::remove_all(dir);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp ? tmp : "/tmp") + "/mxgate-spool-bench";
  double seconds = 3;
  size_t lanes = 2;
  bool fsync = true;
  std::vector<size_t> bodies = {1024, 102400};
  std::vector<size_t> committers = {1, 50, 500};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--dir") dir = next();
    else if (a == "--seconds") seconds = std::stod(next());
    else if (a == "--lanes") lanes = std::stoul(next());
    else if (a == "--no-fsync") fsync = false;
    else if (a == "--bodies") bodies = parseList(next());
    else if (a == "--committers") committers = parseList(next());
    else {
      std::fprintf(stderr, "usage: %s [--dir DIR] [--seconds N] [--lanes N] [--no-fsync] "
                   "[--bodies a,b] [--committers a,b,c]\n", argv[0]);
      return 2;
    }
  }
  std::printf("spool group commit: dir=%s lanes=%zu fsync=%s seconds/case=%.1f cores=%u\n", dir.c_str(), lanes,
              fsync ? "on" : "off", seconds, std::thread::hardware_concurrency());
  std::printf("%9s %10s %12s %14s %12s %10s %10s %8s\n", "body", "committers", "commits/s", "fdatasyncs/s",
              "commits/sync", "p50_us", "p99_us", "failed");
  for (size_t b : bodies) {
    for (size_t c : committers) {
      Outcome r = runCase(dir, lanes, fsync, seconds, Case{b, c});
      std::printf("%9zu %10zu %12.0f %14.0f %12.1f %10.0f %10.0f %8llu\n", b, c, r.commits / r.seconds,
                  r.syncs / r.seconds, r.syncs ? static_cast<double>(r.commits) / r.syncs : 0.0, r.p50_us, r.p99_us,
                  static_cast<unsigned long long>(r.failures));
      std::fflush(stdout);
    }
  }
  return 0;
}
