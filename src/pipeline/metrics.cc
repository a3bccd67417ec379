// pipeline/metrics.cc — see metrics.h: the pipeline's table and the spool's figures,
// rendered with core/prometheus.h.
#include "pipeline/metrics.h"

#include "core/prometheus.h"

namespace mx::pipeline {
namespace {

double load(const std::atomic<uint64_t>& a) { return static_cast<double>(a.load(std::memory_order_relaxed)); }
[[maybe_unused]] double load(const std::atomic<int64_t>& a) {  // for MX_PIPELINE_METRICS gauges
  return static_cast<double>(a.load(std::memory_order_relaxed));
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

std::string renderPipelineMetrics(const pipeline::PipelineMetrics& m, const spool::SpoolStats& s, WallTime now) {
  std::string out;
  out.reserve(8192);
#define MX_RENDER_COUNTER(member, name, help) prometheus::sample(out, name, "counter", help, load(m.member));
#define MX_RENDER_GAUGE(member, name, help) prometheus::sample(out, name, "gauge", help, load(m.member));
#define MX_RENDER_HISTOGRAM(member, name, help) prometheus::histogram(out, name, help, m.member);
  MX_PIPELINE_METRICS(MX_RENDER_COUNTER, MX_RENDER_GAUGE, MX_RENDER_HISTOGRAM)
#undef MX_RENDER_COUNTER
#undef MX_RENDER_GAUGE
#undef MX_RENDER_HISTOGRAM
  for (const auto& row : kSpoolRows) prometheus::sample(out, row.name, row.type, row.help, row.value(s));
  int64_t oldest = m.oldest_pending_unix_ms.load(std::memory_order_relaxed);
  double age = oldest == 0 ? 0.0 : static_cast<double>(unixMillis(now) - oldest) / 1000.0;
  prometheus::sample(out, "mxgate_spool_oldest_record_age_seconds", "gauge",
                     "Age of the oldest record the consumer holds and has not checkpointed (0: none)",
                     age < 0 ? 0.0 : age);
  return out;
}

}  // namespace mx::pipeline
