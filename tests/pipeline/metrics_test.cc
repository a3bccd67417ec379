// Tests for /metrics: every row of both tables (MX_SERVER_METRICS, MX_PIPELINE_METRICS)
// renders under its name with HELP and TYPE lines, the output is valid Prometheus text
// format 0.0.4 (checked by a small parser: names, one HELP/TYPE per family before its
// samples, counters named *_total, histogram buckets cumulative with ascending le ending in
// +Inf equal to _count, then _sum), and the pipeline's and spool's figures move when a real
// consumer drains a real spool (processed, quarantined, failures, stage latencies, depth).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <regex>
#include <sstream>

#include "pipeline/metrics.h"
#include "pipeline/mime_processor.h"
#include "pipeline_test_util.h"
#include "server/metrics.h"
#include "spool/spool.h"
#include "store/memory/memory_blob_store.h"

namespace mx::pipeline {
namespace {

using spool::testing::commitSync;
using spool::testing::makeEnvelope;
using spool::testing::TempDir;
using namespace mx::pipeline::testing;

struct Histogram {
  std::vector<std::pair<double, double>> buckets;  // (le, cumulative count); +Inf as infinity
  double sum = -1, count = -1;
};

struct Parsed {
  std::map<std::string, std::string> type, help;
  std::map<std::string, double> value;  // plain samples
  std::map<std::string, Histogram> hist;
};

// Parses and checks the exposition text; every problem is a test failure.
Parsed parseExposition(const std::string& text) {
  Parsed p;
  static const std::regex kName("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex kSample(R"re(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{le="([^"]+)"\})? (\S+))re");
  std::istringstream in(text);
  std::string line, family;
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  while (std::getline(in, line)) {
    EXPECT_FALSE(line.empty()) << "empty line";
    if (line.rfind("# HELP ", 0) == 0) {
      std::string rest = line.substr(7);
      std::string name = rest.substr(0, rest.find(' '));
      EXPECT_TRUE(std::regex_match(name, kName)) << line;
      EXPECT_EQ(p.help.count(name), 0u) << "family twice: " << name;
      EXPECT_GT(rest.size(), name.size() + 1) << "empty help: " << line;
      p.help[name] = rest.substr(name.size() + 1);
      family = name;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string rest = line.substr(7);
      std::string name = rest.substr(0, rest.find(' '));
      std::string type = rest.substr(name.size() + 1);
      EXPECT_EQ(name, family) << "TYPE without its HELP: " << line;
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << line;
      if (type == "counter") {
        EXPECT_GE(name.size(), 6u);
        EXPECT_EQ(name.substr(name.size() - 6), "_total") << name;
      }
      p.type[name] = type;
      continue;
    }
    std::smatch m;
    if (!std::regex_match(line, m, kSample)) {
      ADD_FAILURE() << "not a sample: " << line;
      continue;
    }
    std::string name = m[1];
    const std::string text_value = m[4].str();
    char* end = nullptr;
    double v = std::strtod(text_value.c_str(), &end);
    EXPECT_EQ(*end, '\0') << line;
    EXPECT_TRUE(p.type.count(family)) << "sample before TYPE: " << line;
    if (p.type[family] == "histogram") {
      Histogram& h = p.hist[family];
      if (name == family + "_bucket") {
        EXPECT_TRUE(m[3].matched) << line;
        double le = m[3] == "+Inf" ? INFINITY : std::strtod(m[3].str().c_str(), nullptr);
        if (!h.buckets.empty()) {
          EXPECT_GT(le, h.buckets.back().first) << line;
          EXPECT_GE(v, h.buckets.back().second) << "not cumulative: " << line;
        }
        h.buckets.emplace_back(le, v);
      } else if (name == family + "_sum") {
        h.sum = v;
      } else if (name == family + "_count") {
        h.count = v;
      } else {
        ADD_FAILURE() << "sample outside its family: " << line;
      }
    } else {
      EXPECT_EQ(name, family) << line;
      EXPECT_FALSE(m[2].matched) << line;
      p.value[name] = v;
    }
  }
  for (const auto& [name, h] : p.hist) {
    if (h.buckets.empty()) {
      ADD_FAILURE() << name << " has no buckets";
      continue;
    }
    EXPECT_TRUE(std::isinf(h.buckets.back().first)) << name << " does not end with +Inf";
    EXPECT_EQ(h.buckets.back().second, h.count) << name;
    EXPECT_GE(h.sum, 0) << name;
  }
  for (const auto& [name, t] : p.type) {
    if (t != "histogram") EXPECT_TRUE(p.value.count(name)) << "family without a sample: " << name;
  }
  return p;
}

TEST(Metrics, ServerTableRendersEveryRowWithItsValue) {
  server::Metrics m;
  uint64_t n = 0;
#define SET(member, name, help) m.member.store(static_cast<decltype(m.member.load())>(++n * 3));
  MX_SERVER_METRICS(SET, SET)
#undef SET
  m.observeCommitLatency(400);     // <= 0.5 ms
  m.observeCommitLatency(1500);    // <= 2 ms
  m.observeCommitLatency(200000);  // above every bound
  std::string text = m.renderPrometheus("");
  Parsed p = parseExposition(text);
  n = 0;
#define CHECK_COUNTER(member, name_, help_)               \
  EXPECT_EQ(p.type[name_], "counter") << name_;           \
  EXPECT_EQ(p.help[name_], help_) << name_;               \
  EXPECT_EQ(p.value[name_], static_cast<double>(++n * 3)) << name_;
#define CHECK_GAUGE(member, name_, help_)                 \
  EXPECT_EQ(p.type[name_], "gauge") << name_;             \
  EXPECT_EQ(p.help[name_], help_) << name_;               \
  EXPECT_EQ(p.value[name_], static_cast<double>(++n * 3)) << name_;
  MX_SERVER_METRICS(CHECK_COUNTER, CHECK_GAUGE)
#undef CHECK_COUNTER
#undef CHECK_GAUGE
  EXPECT_EQ(n, 26u);                                     // every row of the table was checked
  EXPECT_EQ(p.value["mxgate_connections_active"], 6.0);  // the one gauge, same member name as before
  EXPECT_TRUE(p.value.count("mxgate_bugs_total"));
  const Histogram& h = p.hist["mxgate_commit_latency_seconds"];
  EXPECT_EQ(p.type["mxgate_commit_latency_seconds"], "histogram");
  ASSERT_EQ(h.buckets.size(), 8u);
  EXPECT_NE(text.find("mxgate_commit_latency_seconds_bucket{le=\"0.0005\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("mxgate_commit_latency_seconds_bucket{le=\"0.001\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("mxgate_commit_latency_seconds_bucket{le=\"0.002\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("mxgate_commit_latency_seconds_bucket{le=\"0.1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("mxgate_commit_latency_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NEAR(h.sum, 0.2019, 1e-9);
  EXPECT_EQ(h.count, 3);
  // `extra` is appended as is.
  EXPECT_EQ(m.renderPrometheus("x_total 1\n").substr(text.size()), "x_total 1\n");
}

TEST(Metrics, PipelineTableRendersEveryRow) {
  PipelineMetrics m;
  spool::SpoolStats s;
  std::string text = renderPipelineMetrics(m, s, WallTime{});
  Parsed p = parseExposition(text);
  size_t rows = 0;
#define CHECK_COUNTER(member, name_, help_) \
  ++rows;                                   \
  EXPECT_EQ(p.type[name_], "counter") << name_;
#define CHECK_GAUGE(member, name_, help_) \
  ++rows;                                 \
  EXPECT_EQ(p.type[name_], "gauge") << name_;
#define CHECK_HISTOGRAM(member, name_, help_)                                      \
  ++rows;                                                                          \
  EXPECT_EQ(p.type[name_], "histogram") << name_;                                  \
  EXPECT_EQ(p.help[name_], help_) << name_;                                        \
  EXPECT_EQ(p.hist[name_].buckets.size(), LatencyHistogram::kBuckets) << name_;
  MX_PIPELINE_METRICS(CHECK_COUNTER, CHECK_GAUGE, CHECK_HISTOGRAM)
#undef CHECK_COUNTER
#undef CHECK_GAUGE
#undef CHECK_HISTOGRAM
  EXPECT_EQ(rows, 14u);
  EXPECT_EQ(p.type["mxgate_spool_depth"], "gauge");
  EXPECT_EQ(p.type["mxgate_spool_oldest_record_age_seconds"], "gauge");
  EXPECT_EQ(p.value["mxgate_spool_oldest_record_age_seconds"], 0.0);
  // The oldest record's age is measured at render time.
  m.oldest_pending_unix_ms = unixMillis(WallTime(std::chrono::seconds(1000)));
  p = parseExposition(renderPipelineMetrics(m, s, WallTime(std::chrono::milliseconds(1090500))));
  EXPECT_DOUBLE_EQ(p.value["mxgate_spool_oldest_record_age_seconds"], 90.5);
  // Latency buckets: 40 us, 3 ms, 20 s.
  m.parse_seconds.observe(std::chrono::microseconds(40));
  m.parse_seconds.observe(std::chrono::milliseconds(3));
  m.parse_seconds.observe(std::chrono::seconds(20));
  text = renderPipelineMetrics(m, s, WallTime{});
  p = parseExposition(text);
  EXPECT_NE(text.find("mxgate_pipeline_parse_seconds_bucket{le=\"5e-05\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("mxgate_pipeline_parse_seconds_bucket{le=\"0.0025\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("mxgate_pipeline_parse_seconds_bucket{le=\"0.005\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("mxgate_pipeline_parse_seconds_bucket{le=\"10\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("mxgate_pipeline_parse_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NEAR(p.hist["mxgate_pipeline_parse_seconds"].sum, 20.00304, 1e-9);
}

TEST(Metrics, FiguresMoveWhenTheConsumerDrainsTheSpool) {
  TempDir t;
  store::MemoryBlobStore mem;
  RefusingStore blobs(mem);
  CapturingSink sink;
  MimeProcessor proc(MimeProcessorOptions{});
  auto o = fastOptions();
  o.batch_max = 4;
  Envelope bad = makeEnvelope(2);
  const std::string bad_key = store::KeyLayout().raw(bad.tenant, bad.received_at, bad.id);
  blobs.setRefuse([&](std::string_view k) { return k == bad_key; });
  {
    auto sp = openSpool(t.path() + "/spool");
    for (uint64_t i = 0; i < 10; ++i) {
      ASSERT_TRUE(commitSync(sp->lane(0), makeEnvelope(i), "Subject: m" + std::to_string(i) + "\r\n\r\nbody\r\n").ok());
    }
    auto p = parseExposition(renderPipelineMetrics(PipelineMetrics{}, sp->stats(), WallTime{}));
    EXPECT_EQ(p.value["mxgate_spool_depth"], 10.0);
    EXPECT_EQ(p.value["mxgate_spool_commits_total"], 10.0);
  }
  Rig rig(t.path(), blobs, sink, &proc, o);
  auto before = parseExposition(renderPipelineMetrics(rig.metrics, rig.spool->stats(), WallTime{}));
  EXPECT_EQ(before.value["mxgate_spool_depth"], 10.0);  // recovered on open, not consumed
  EXPECT_EQ(before.value["mxgate_spool_recovered_records_total"], 10.0);
  EXPECT_EQ(before.value["mxgate_pipeline_records_processed_total"], 0.0);
  ASSERT_TRUE(rig.consumer->runUntilIdle().ok());
  std::string text = renderPipelineMetrics(rig.metrics, rig.spool->stats(), WallTime{});
  auto p = parseExposition(text);
  EXPECT_EQ(p.value["mxgate_pipeline_records_processed_total"], 9.0);
  EXPECT_EQ(p.value["mxgate_pipeline_records_quarantined_total"], 1.0);
  EXPECT_EQ(p.value["mxgate_pipeline_failures_permanent_total"], 1.0);
  EXPECT_EQ(p.value["mxgate_pipeline_failures_transient_total"], 0.0);
  EXPECT_EQ(p.value["mxgate_pipeline_objects_stored_total"], 18.0);  // raw + parsed JSON each
  EXPECT_EQ(p.value["mxgate_pipeline_batches_total"], 3.0);          // 4 + 4 + 2
  EXPECT_EQ(p.hist["mxgate_pipeline_parse_seconds"].count, 9.0);
  EXPECT_EQ(p.hist["mxgate_pipeline_store_seconds"].count, 9.0);
  EXPECT_EQ(p.hist["mxgate_pipeline_store_sync_seconds"].count, 3.0);
  EXPECT_EQ(p.hist["mxgate_pipeline_publish_seconds"].count, 3.0);
  EXPECT_GT(p.hist["mxgate_pipeline_parse_seconds"].sum, 0.0);
  EXPECT_EQ(p.value["mxgate_spool_depth"], 0.0);
  EXPECT_EQ(p.value["mxgate_spool_records_checkpointed_total"], 10.0);
  EXPECT_EQ(p.value["mxgate_spool_oldest_record_age_seconds"], 0.0);
  // And together with the server's table, the whole /metrics body is one valid exposition.
  server::Metrics sm;
  parseExposition(sm.renderPrometheus(text));
}

}  // namespace
}  // namespace mx::pipeline
