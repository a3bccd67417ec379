// app/loadgen.cc — see loadgen.h. Boost.Asio with C++20 coroutines, one io_context per
// thread; each session is one coroutine.
#include "app/loadgen.h"

#include <sys/resource.h>

#include <algorithm>
#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without it
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

namespace mx::app {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Shared {
  const LoadOptions& opt;
  std::string body;                        // dot-stuffed message + CRLF.CRLF
  std::atomic<uint64_t> claimed{0};        // messages handed to sessions
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> connect_errors{0};
  std::mutex lat_mu;
  std::vector<uint32_t> latencies_us;      // end-of-data -> 250
  Clock::time_point start;
  std::string first_error;
};

std::string makeBody(uint64_t size) {
  std::string m =
      "From: Load Generator <bench@loadgen.test>\r\n"
      "To: <bench@example.test>\r\n"
      "Subject: mxgate bench message\r\n"
      "Message-ID: <bench@loadgen.test>\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=us-ascii\r\n"
      "\r\n";
  static const char kLine[] = "The quick brown fox jumps over the lazy dog. 0123456789 abcdefghij\r\n";
  while (m.size() + sizeof(kLine) - 1 <= size) m += kLine;
  while (m.size() + 2 < size) m += 'x';
  m += "\r\n";
  return m + ".\r\n";  // no line starts with '.', so no stuffing is needed
}

// Reads one complete (possibly multi-line) reply; returns its code, or -1.
asio::awaitable<int> readReply(tcp::socket& s, asio::streambuf& buf, std::string* text) {
  while (true) {
    size_t n = co_await asio::async_read_until(s, buf, "\r\n", asio::use_awaitable);
    std::string line(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + n);
    buf.consume(n);
    if (line.size() < 5) co_return -1;
    if (text) *text += line;
    if (line[3] == '-') continue;
    if (line[3] != ' ' && line[3] != '\r') co_return -1;
    co_return std::atoi(line.substr(0, 3).c_str());
  }
}

asio::awaitable<void> session(Shared& sh, tcp::endpoint ep, uint32_t index) {
  const LoadOptions& o = sh.opt;
  auto fail = [&sh](const std::string& why) {
    sh.failed.fetch_add(1);
    static std::mutex m;
    std::lock_guard<std::mutex> lock(m);
    if (sh.first_error.empty()) sh.first_error = why;
  };
  try {
    tcp::socket s(co_await asio::this_coro::executor);
    co_await s.async_connect(ep, asio::use_awaitable);
    s.set_option(tcp::no_delay(true));
    asio::streambuf buf(64 * 1024);
    std::string text;
    if (co_await readReply(s, buf, &text) != 220) {
      fail("greeting: " + text);
      co_return;
    }
    text.clear();
    co_await asio::async_write(s, asio::buffer(std::string("EHLO loadgen.test\r\n")), asio::use_awaitable);
    if (co_await readReply(s, buf, &text) != 250) {
      fail("EHLO: " + text);
      co_return;
    }
    bool pipelining = text.find("PIPELINING") != std::string::npos;
    std::string envelope = "MAIL FROM:<" + o.mail_from + ">\r\n";
    for (uint32_t r = 0; r < o.recipients; ++r) {
      std::string rcpt = o.rcpt_to;
      if (o.recipients > 1) rcpt = "r" + std::to_string(r) + "+" + rcpt;
      envelope += "RCPT TO:<" + rcpt + ">\r\n";
    }
    envelope += "DATA\r\n";
    uint64_t sent_here = 0;
    auto per_interval = o.rate > 0 ? std::chrono::duration<double>(o.sessions / o.rate)
                                   : std::chrono::duration<double>(0);
    auto next_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(per_interval * index / o.sessions);
    asio::steady_timer pacer(co_await asio::this_coro::executor);
    while (true) {
      if (o.messages_per_session && sent_here >= o.messages_per_session) break;
      if (sh.claimed.fetch_add(1) >= o.messages) break;
      if (o.rate > 0) {
        pacer.expires_at(next_at);
        co_await pacer.async_wait(asio::use_awaitable);
        next_at += std::chrono::duration_cast<Clock::duration>(per_interval);
      }
      bool ok = true;
      if (pipelining) {
        co_await asio::async_write(s, asio::buffer(envelope), asio::use_awaitable);
        for (uint32_t i = 0; i < o.recipients + 2; ++i) {
          text.clear();
          int code = co_await readReply(s, buf, &text);
          int want = i == o.recipients + 1 ? 354 : 250;
          if (code != want) {
            ok = false;
            fail("envelope: " + text);
          }
        }
      } else {
        std::string cmds[] = {"MAIL FROM:<" + o.mail_from + ">\r\n", "RCPT TO:<" + o.rcpt_to + ">\r\n", "DATA\r\n"};
        for (int i = 0; i < 3 && ok; ++i) {
          co_await asio::async_write(s, asio::buffer(cmds[i]), asio::use_awaitable);
          text.clear();
          int code = co_await readReply(s, buf, &text);
          if (code != (i == 2 ? 354 : 250)) {
            ok = false;
            fail("envelope: " + text);
          }
        }
      }
      if (!ok) {
        co_await asio::async_write(s, asio::buffer(std::string("RSET\r\n")), asio::use_awaitable);
        co_await readReply(s, buf, nullptr);
        continue;
      }
      co_await asio::async_write(s, asio::buffer(sh.body), asio::use_awaitable);
      auto t0 = Clock::now();
      text.clear();
      int code = co_await readReply(s, buf, &text);
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
      if (code == 250) {
        sh.accepted.fetch_add(1);
        std::lock_guard<std::mutex> lock(sh.lat_mu);
        sh.latencies_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
      } else {
        fail("end of data: " + text);
      }
      ++sent_here;
    }
    co_await asio::async_write(s, asio::buffer(std::string("QUIT\r\n")), asio::use_awaitable);
    co_await readReply(s, buf, nullptr);
  } catch (const std::exception& e) {
    sh.connect_errors.fetch_add(1);
    fail(std::string("connection: ") + e.what());
  }
}

double percentile(std::vector<uint32_t>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k] / 1000.0;
}

void raiseFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

long rssKiB(int pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE* f = std::fopen(path, "r");
  if (!f) return -1;
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof line, f)) {
    if (std::sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  }
  std::fclose(f);
  return kb;
}

// Idle mode: open `idle` connections that read the greeting and then sit, then time EHLO
// round trips on fresh connections while they are held.
int runIdle(const LoadOptions& o, tcp::endpoint ep) {
  raiseFileLimit();
  asio::io_context ioc;
  // Held sockets have no pending work: keep the context from stopping between run_for calls.
  auto guard = asio::make_work_guard(ioc);
  std::vector<std::unique_ptr<tcp::socket>> held;
  held.reserve(o.idle);
  std::atomic<uint32_t> greeted{0}, errors{0};
  for (uint32_t i = 0; i < o.idle; ++i) {
    asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
      try {
        auto s = std::make_unique<tcp::socket>(co_await asio::this_coro::executor);
        co_await s->async_connect(ep, asio::use_awaitable);
        asio::streambuf buf(4096);
        if (co_await readReply(*s, buf, nullptr) == 220) greeted.fetch_add(1);
        held.push_back(std::move(s));
      } catch (const std::exception&) {
        errors.fetch_add(1);
      }
    }, asio::detached);
  }
  auto t0 = Clock::now();
  while (greeted.load() + errors.load() < o.idle) {
    ioc.run_for(std::chrono::milliseconds(200));
    if (o.progress) {
      std::fprintf(stderr, "\ridle connections greeted: %u / %u (errors %u)   ", greeted.load(), o.idle, errors.load());
    }
    if (Clock::now() - t0 > std::chrono::seconds(120)) break;
  }
  if (o.progress) std::fprintf(stderr, "\n");
  std::vector<uint32_t> lat;
  for (uint32_t i = 0; i < o.idle_probes; ++i) {
    asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
      try {
        tcp::socket s(co_await asio::this_coro::executor);
        auto c0 = Clock::now();
        co_await s.async_connect(ep, asio::use_awaitable);
        asio::streambuf buf(4096);
        co_await readReply(s, buf, nullptr);
        co_await asio::async_write(s, asio::buffer(std::string("EHLO probe.test\r\n")), asio::use_awaitable);
        int code = co_await readReply(s, buf, nullptr);
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c0).count();
        if (code == 250) lat.push_back(static_cast<uint32_t>(us));
        co_await asio::async_write(s, asio::buffer(std::string("QUIT\r\n")), asio::use_awaitable);
      } catch (const std::exception&) {
        errors.fetch_add(1);
      }
    }, asio::detached);
    ioc.run_for(std::chrono::milliseconds(5));
  }
  ioc.run_for(std::chrono::seconds(2));
  std::printf("idle_connections_held %u\nidle_connect_errors %u\n", greeted.load(), errors.load());
  std::printf("probe_connect_to_ehlo_ms p50 %.3f p99 %.3f max %.3f (n=%zu)\n", percentile(lat, 0.5),
              percentile(lat, 0.99), percentile(lat, 1.0), lat.size());
  std::fflush(stdout);
  // Keep holding the connections so that the caller can read the server's RSS now.
  if (const char* hold = std::getenv("MXGATE_BENCH_HOLD_SECONDS")) {
    std::printf("holding for %s s\n", hold);
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(std::atoi(hold)));
  }
  (void)rssKiB;
  return greeted.load() == o.idle ? 0 : 1;
}

}  // namespace

int runLoad(const LoadOptions& o) {
  asio::io_context resolver_ctx;
  tcp::resolver resolver(resolver_ctx);
  boost::system::error_code ec;
  auto results = resolver.resolve(o.host, std::to_string(o.port), ec);
  if (ec || results.empty()) {
    std::fprintf(stderr, "bench: cannot resolve %s: %s\n", o.host.c_str(), ec.message().c_str());
    return 2;
  }
  tcp::endpoint ep = *results.begin();
  if (o.idle > 0) return runIdle(o, ep);

  raiseFileLimit();
  Shared sh{o, makeBody(o.size), {}, {}, {}, {}, {}, {}, {}, {}};
  sh.latencies_us.reserve(o.messages);
  uint32_t threads = std::max<uint32_t>(1, o.threads);
  std::vector<std::unique_ptr<asio::io_context>> ctxs;
  for (uint32_t t = 0; t < threads; ++t) ctxs.push_back(std::make_unique<asio::io_context>(1));
  for (uint32_t i = 0; i < o.sessions; ++i) {
    asio::co_spawn(*ctxs[i % threads], session(sh, ep, i), asio::detached);
  }
  sh.start = Clock::now();
  std::vector<std::thread> pool;
  std::atomic<bool> done{false};
  for (auto& c : ctxs) pool.emplace_back([&c] { c->run(); });
  std::mutex progress_mu;
  std::condition_variable progress_cv;
  std::thread progress([&] {
    uint64_t last = 0;
    std::unique_lock<std::mutex> lock(progress_mu);
    while (!done.load()) {
      progress_cv.wait_for(lock, std::chrono::seconds(1));
      if (!o.progress || done.load()) continue;
      uint64_t now = sh.accepted.load();
      double el = std::chrono::duration<double>(Clock::now() - sh.start).count();
      std::fprintf(stderr, "\r[%6.1fs] accepted %llu / %llu  (%llu msg/s now, errors %llu)   ", el,
                   static_cast<unsigned long long>(now), static_cast<unsigned long long>(o.messages),
                   static_cast<unsigned long long>(now - last),
                   static_cast<unsigned long long>(sh.failed.load()));
      last = now;
    }
  });
  for (auto& t : pool) t.join();
  // The clock stops when the last session ends, not when the progress thread wakes up.
  double elapsed = std::chrono::duration<double>(Clock::now() - sh.start).count();
  {
    std::lock_guard<std::mutex> lock(progress_mu);
    done = true;
  }
  progress_cv.notify_all();
  progress.join();
  if (o.progress) std::fprintf(stderr, "\n");
  uint64_t ok = sh.accepted.load();
  double mps = ok / elapsed;
  std::printf("messages_accepted %llu\nmessages_failed %llu\nelapsed_s %.3f\n",
              static_cast<unsigned long long>(ok), static_cast<unsigned long long>(sh.failed.load()), elapsed);
  std::printf("msgs_per_s %.1f\nmb_per_s %.2f\n", mps, mps * static_cast<double>(sh.body.size()) / 1e6);
  std::printf("latency_ms p50 %.3f p99 %.3f p999 %.3f\n", percentile(sh.latencies_us, 0.5),
              percentile(sh.latencies_us, 0.99), percentile(sh.latencies_us, 0.999));
  if (!sh.first_error.empty()) std::printf("first_error %s\n", sh.first_error.c_str());
  return sh.failed.load() == 0 && ok > 0 ? 0 : 1;
}

}  // namespace mx::app
