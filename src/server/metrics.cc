// server/metrics.cc — see metrics.h. The samples are written by core/prometheus.h.
#include "server/metrics.h"

#include "core/assert.h"
#include "core/prometheus.h"

namespace mx::server {
namespace {

constexpr uint64_t kBucketBoundsUs[Metrics::kBuckets - 1] = {500, 1000, 2000, 5000, 10000, 25000, 100000};

double load(const std::atomic<uint64_t>& a) { return static_cast<double>(a.load(std::memory_order_relaxed)); }
double load(const std::atomic<int64_t>& a) { return static_cast<double>(a.load(std::memory_order_relaxed)); }

}  // namespace

void Metrics::observeCommitLatency(uint64_t micros) {
  commit_latency_us_sum.fetch_add(micros, std::memory_order_relaxed);
  commit_latency_count.fetch_add(1, std::memory_order_relaxed);
  int b = 0;
  while (b < kBuckets - 1 && micros > kBucketBoundsUs[b]) ++b;
  commit_latency_buckets[b].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::countReplies(std::string_view lines) {
  size_t pos = 0;
  while (pos + 4 <= lines.size()) {
    size_t eol = lines.find('\n', pos);
    if (eol == std::string_view::npos) eol = lines.size();
    // "250-..." continues a multi-line reply; "250 ..." (or a bare "250") ends it.
    if (lines[pos + 3] != '-') {
      switch (lines[pos]) {
        case '2':
          replies_2xx.fetch_add(1, std::memory_order_relaxed);
          break;
        case '3':
          replies_3xx.fetch_add(1, std::memory_order_relaxed);
          break;
        case '4':
          replies_4xx.fetch_add(1, std::memory_order_relaxed);
          break;
        case '5':
          replies_5xx.fetch_add(1, std::memory_order_relaxed);
          break;
        default:
          break;
      }
    }
    pos = eol + 1;
  }
}

std::string Metrics::renderPrometheus(const std::string& extra) const {
  std::string out;
  out.reserve(4096 + extra.size());
#define MX_RENDER_COUNTER(member, name, help) prometheus::sample(out, name, "counter", help, load(member));
#define MX_RENDER_GAUGE(member, name, help) prometheus::sample(out, name, "gauge", help, load(member));
  MX_SERVER_METRICS(MX_RENDER_COUNTER, MX_RENDER_GAUGE)
#undef MX_RENDER_COUNTER
#undef MX_RENDER_GAUGE
  prometheus::sample(out, "mxgate_bugs_total", "counter", "Internal inconsistencies survived (MX_BUG)",
                     static_cast<double>(bugCounter().load()));
  prometheus::histogram(
      out, "mxgate_commit_latency_seconds", "End-of-data to durable commit", kBucketBoundsUs, kBuckets - 1,
      [this](size_t b) { return commit_latency_buckets[b].load(std::memory_order_relaxed); },
      commit_latency_us_sum.load(std::memory_order_relaxed), commit_latency_count.load(std::memory_order_relaxed));
  out += extra;
  return out;
}

}  // namespace mx::server
