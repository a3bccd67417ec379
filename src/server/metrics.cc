// server/metrics.cc — see metrics.h. One writer for each sample type (HELP and TYPE lines,
// then the samples), used by every table; histograms as cumulative _bucket{le="..."}
// samples ending with le="+Inf", then _sum and _count (Prometheus text format 0.0.4).
#include "server/metrics.h"

#include <cstdio>

#include "core/assert.h"
#include "pipeline/metrics.h"
#include "spool/spool.h"

namespace mx::server {
namespace {

constexpr uint64_t kBucketBoundsUs[Metrics::kBuckets - 1] = {500, 1000, 2000, 5000, 10000, 25000, 100000};

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const char* name, const char* type, const char* help, double v) {
  header(out, name, type, help);
  char buf[64];
  std::snprintf(buf, sizeof buf, " %.17g\n", v);
  out += name;
  out += buf;
}

// `bucket(i)` is the count of bucket i alone (i < n_bounds: le bound i; i == n_bounds: +Inf).
template <typename BucketFn>
void histogram(std::string& out, const char* name, const char* help, const uint64_t* bounds_us, size_t n_bounds,
               BucketFn bucket, uint64_t sum_us, uint64_t count) {
  header(out, name, "histogram", help);
  char buf[192];
  uint64_t cum = 0;
  for (size_t b = 0; b <= n_bounds; ++b) {
    cum += bucket(b);
    if (b < n_bounds) {
      std::snprintf(buf, sizeof buf, "%s_bucket{le=\"%g\"} %llu\n", name, static_cast<double>(bounds_us[b]) / 1e6,
                    static_cast<unsigned long long>(cum));
    } else {
      // The total of the buckets, not `count`: read separately, they may differ by an
      // observation in progress, and +Inf must never be below a finite bucket.
      std::snprintf(buf, sizeof buf, "%s_bucket{le=\"+Inf\"} %llu\n", name, static_cast<unsigned long long>(cum));
    }
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "%s_sum %.6f\n%s_count %llu\n", name, static_cast<double>(sum_us) / 1e6, name,
                static_cast<unsigned long long>(cum > count ? cum : count));
  out += buf;
}

double load(const std::atomic<uint64_t>& a) { return static_cast<double>(a.load(std::memory_order_relaxed)); }
double load(const std::atomic<int64_t>& a) { return static_cast<double>(a.load(std::memory_order_relaxed)); }

void latency(std::string& out, const char* name, const char* help, const pipeline::LatencyHistogram& h) {
  histogram(out, name, help, pipeline::LatencyHistogram::kBoundsUs, pipeline::LatencyHistogram::kBuckets - 1,
            [&](size_t b) { return h.bucket(b); }, h.sumMicros(), h.count());
}

// The spool's figures: (name, type, help, value).
struct SpoolRow {
  const char* name;
  const char* type;
  const char* help;
  double (*value)(const spool::SpoolStats& s);
};
constexpr SpoolRow kSpoolRows[] = {
    {"mxgate_spool_depth", "gauge",
     "Records durable in the spool and not yet checkpointed (stored and published, or quarantined)",
     [](const spool::SpoolStats& s) { return static_cast<double>(s.backlog()); }},
    {"mxgate_spool_commits_total", "counter", "Records made durable (acknowledged)",
     [](const spool::SpoolStats& s) { return static_cast<double>(s.commits); }},
    {"mxgate_spool_commit_failures_total", "counter", "Commits that failed (answered 451)",
     [](const spool::SpoolStats& s) { return static_cast<double>(s.commit_failures); }},
    {"mxgate_spool_recovered_records_total", "counter", "Unconsumed records found when the spool was opened",
     [](const spool::SpoolStats& s) { return static_cast<double>(s.recovered_records); }},
    {"mxgate_spool_records_read_total", "counter", "Records handed to the consumer (again after a rewind)",
     [](const spool::SpoolStats& s) { return static_cast<double>(s.records_read); }},
    {"mxgate_spool_records_checkpointed_total", "counter", "Records the consumer is done with",
     [](const spool::SpoolStats& s) { return static_cast<double>(s.records_checkpointed); }},
    {"mxgate_spool_segment_syncs_total", "counter", "fdatasyncs of spool segments (one per group commit)",
     [](const spool::SpoolStats& s) { return static_cast<double>(s.segment_syncs); }},
    {"mxgate_spool_corrupt_regions_total", "counter", "Corrupt spool records skipped (logged)",
     [](const spool::SpoolStats& s) { return static_cast<double>(s.corrupt_regions); }},
    {"mxgate_spool_missing_spills_total", "counter", "Records skipped because their spill file was missing or damaged",
     [](const spool::SpoolStats& s) { return static_cast<double>(s.missing_spills); }},
};

}  // namespace

void Metrics::observeCommitLatency(uint64_t micros) {
  commit_latency_us_sum.fetch_add(micros, std::memory_order_relaxed);
  commit_latency_count.fetch_add(1, std::memory_order_relaxed);
  int b = 0;
  while (b < kBuckets - 1 && micros > kBucketBoundsUs[b]) ++b;
  commit_latency_buckets[b].fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::renderPrometheus(const std::string& extra) const {
  std::string out;
  out.reserve(4096 + extra.size());
#define MX_RENDER_COUNTER(member, name, help) sample(out, name, "counter", help, load(member));
#define MX_RENDER_GAUGE(member, name, help) sample(out, name, "gauge", help, load(member));
  MX_SERVER_METRICS(MX_RENDER_COUNTER, MX_RENDER_GAUGE)
#undef MX_RENDER_COUNTER
#undef MX_RENDER_GAUGE
  sample(out, "mxgate_bugs_total", "counter", "Internal inconsistencies survived (MX_BUG)",
         static_cast<double>(bugCounter().load()));
  histogram(out, "mxgate_commit_latency_seconds", "End-of-data to durable commit", kBucketBoundsUs, kBuckets - 1,
            [this](size_t b) { return commit_latency_buckets[b].load(std::memory_order_relaxed); },
            commit_latency_us_sum.load(std::memory_order_relaxed),
            commit_latency_count.load(std::memory_order_relaxed));
  out += extra;
  return out;
}

void renderCounter(std::string& out, const char* name, const char* help, uint64_t value) {
  sample(out, name, "counter", help, static_cast<double>(value));
}
void renderGauge(std::string& out, const char* name, const char* help, int64_t value) {
  sample(out, name, "gauge", help, static_cast<double>(value));
}
void renderHistogram(std::string& out, const char* name, const char* help, const LatencyHistogram& h) {
  latency(out, name, help, h);
}

std::string renderPipelineMetrics(const pipeline::PipelineMetrics& m, const spool::SpoolStats& s, WallTime now) {
  std::string out;
  out.reserve(8192);
#define MX_RENDER_COUNTER(member, name, help) sample(out, name, "counter", help, load(m.member));
#define MX_RENDER_GAUGE(member, name, help) sample(out, name, "gauge", help, load(m.member));
#define MX_RENDER_HISTOGRAM(member, name, help) latency(out, name, help, m.member);
  MX_PIPELINE_METRICS(MX_RENDER_COUNTER, MX_RENDER_GAUGE, MX_RENDER_HISTOGRAM)
#undef MX_RENDER_COUNTER
#undef MX_RENDER_GAUGE
#undef MX_RENDER_HISTOGRAM
  for (const auto& row : kSpoolRows) sample(out, row.name, row.type, row.help, row.value(s));
  int64_t oldest = m.oldest_pending_unix_ms.load(std::memory_order_relaxed);
  double age = oldest == 0 ? 0.0 : static_cast<double>(unixMillis(now) - oldest) / 1000.0;
  sample(out, "mxgate_spool_oldest_record_age_seconds", "gauge",
         "Age of the oldest record the consumer holds and has not checkpointed (0: none)", age < 0 ? 0.0 : age);
  return out;
}

}  // namespace mx::server
