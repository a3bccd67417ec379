// pipeline/metrics.h — the pipeline's figures for /metrics, declared by ONE table:
// MX_PIPELINE_METRICS lists each figure once as (member, Prometheus name, help) under its
// type, and both the struct below and the renderer (metrics.cc) are generated from
// it (Envoy's ALL_*_STATS(COUNTER, GAUGE, HISTOGRAM) pattern), so adding a figure is one
// line here. Updates are relaxed atomics: cheap, exact totals, no ordering between figures.
// The spool's own figures (depth, oldest record age) are read from the spool when
// /metrics is rendered (renderPipelineMetrics below).
// Threads: any thread may update or read.
// Trust: none needed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/clock.h"
#include "core/latency_histogram.h"
#include "spool/spool.h"

namespace mx::pipeline {

// The latency histogram now lives in core (store backends count with it too).
using LatencyHistogram = mx::LatencyHistogram;

// clang-format off
#define MX_PIPELINE_METRICS(COUNTER, GAUGE, HISTOGRAM)                                                          \
  COUNTER(records_processed, "mxgate_pipeline_records_processed_total",                                        \
          "Spool records whose objects are stored and whose event is published, checkpointed")                 \
  COUNTER(records_quarantined, "mxgate_pipeline_records_quarantined_total",                                    \
          "Records moved to the quarantine: a permanent failure, or a transient one past pipeline.give_up_after") \
  COUNTER(retries_processed, "mxgate_pipeline_quarantine_retries_total",                                       \
          "Quarantined records brought back by `mxgate quarantine retry`, then stored and published")          \
  COUNTER(failures_transient, "mxgate_pipeline_failures_transient_total",                                      \
          "Failed attempts of a retryable error class (retried after a backoff)")                              \
  COUNTER(failures_permanent, "mxgate_pipeline_failures_permanent_total",                                      \
          "Failed attempts of a refused error class (the record goes to the quarantine)")                      \
  COUNTER(batches, "mxgate_pipeline_batches_total", "Batches made durable, published and checkpointed")        \
  COUNTER(objects_stored, "mxgate_pipeline_objects_stored_total",                                              \
          "Objects put into the store (raw message, parsed JSON, attachments)")                                \
  COUNTER(raw_bytes_stored, "mxgate_pipeline_raw_bytes_stored_total", "Bytes of raw messages put into the store") \
  COUNTER(attachments_stored, "mxgate_pipeline_attachments_stored_total", "Attachment objects put into the store") \
  COUNTER(processor_errors, "mxgate_pipeline_processor_errors_total",                                          \
          "Messages the MIME processor failed on (raw message stored, event without summary)")                 \
  HISTOGRAM(parse_seconds, "mxgate_pipeline_parse_seconds", "MIME parse of one message")                       \
  HISTOGRAM(store_seconds, "mxgate_pipeline_store_seconds",                                                    \
            "Putting one message's objects into the store (made durable by the batch sync)")                   \
  HISTOGRAM(store_sync_seconds, "mxgate_pipeline_store_sync_seconds", "Making one batch's objects durable")    \
  HISTOGRAM(publish_seconds, "mxgate_pipeline_publish_seconds", "Appending one batch's events to the sinks' outboxes (durable), retries included")
// clang-format on

// NOLINTNEXTLINE(bugprone-macro-parentheses): `member` is a declarator, not an expression.
#define MX_PIPELINE_COUNTER_MEMBER(member, name, help) std::atomic<uint64_t> member{0};
// NOLINTNEXTLINE(bugprone-macro-parentheses): `member` is a declarator, not an expression.
#define MX_PIPELINE_GAUGE_MEMBER(member, name, help) std::atomic<int64_t> member{0};
// NOLINTNEXTLINE(bugprone-macro-parentheses): `member` is a declarator, not an expression.
#define MX_PIPELINE_HISTOGRAM_MEMBER(member, name, help) LatencyHistogram member;

struct PipelineMetrics {
  MX_PIPELINE_METRICS(MX_PIPELINE_COUNTER_MEMBER, MX_PIPELINE_GAUGE_MEMBER, MX_PIPELINE_HISTOGRAM_MEMBER)

  // received_at (ms since the epoch) of the oldest record the consumer holds and has not
  // checkpointed; 0 when it holds none. /metrics renders it as the spool's oldest record
  // age (server/metrics.h).
  std::atomic<int64_t> oldest_pending_unix_ms{0};

  static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
};

// The pipeline's figures (MX_PIPELINE_METRICS) and the spool's: depth (records durable and
// not checkpointed, SpoolStats::backlog()), the oldest such record's age (from the
// consumer's oldest held record, measured against `now`), and the spool's own counters; in
// the Prometheus text format, for the server's /metrics (Metrics::renderPrometheus's extra).
std::string renderPipelineMetrics(const PipelineMetrics& metrics, const spool::SpoolStats& spool, WallTime now);

}  // namespace mx::pipeline
