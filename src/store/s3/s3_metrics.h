// store/s3/s3_metrics.h — the S3 store's figures for /metrics, declared by ONE table in the
// pattern of pipeline/metrics.h (Envoy's ALL_*_STATS): MX_S3_STORE_METRICS lists each
// figure once as (member, Prometheus name, help) under its type; the struct below and the
// renderer (src/app, which names this backend) are generated from it.
// Threads: any thread may update or read (relaxed atomics). Trust: none needed.
#pragma once

#include <atomic>
#include <cstdint>

#include "core/latency_histogram.h"

namespace mx::store {

// clang-format off
#define MX_S3_STORE_METRICS(COUNTER, GAUGE, HISTOGRAM)                                                        \
  COUNTER(uploads, "mxgate_store_s3_uploads_total",                                                          \
          "Objects S3 acknowledged (PutObject or a completed multipart upload)")                             \
  COUNTER(multipart_uploads, "mxgate_store_s3_multipart_uploads_total", "Of those, multipart uploads")       \
  COUNTER(upload_bytes, "mxgate_store_s3_upload_bytes_total", "Bytes of the objects S3 acknowledged")        \
  COUNTER(requests, "mxgate_store_s3_requests_total", "HTTP requests sent to S3, retries included")          \
  COUNTER(retries, "mxgate_store_s3_retries_total",                                                          \
          "Requests sent again after a transient failure (5xx, 429, SlowDown, RequestTimeout, network)")     \
  COUNTER(failures_transient, "mxgate_store_s3_failures_transient_total",                                    \
          "Operations that failed with a transient error after their retries (the pipeline retries them)")   \
  COUNTER(failures_permanent, "mxgate_store_s3_failures_permanent_total",                                    \
          "Operations S3 refused (a 4xx other than 429/RequestTimeout: AccessDenied, SignatureDoesNotMatch …)") \
  COUNTER(multipart_aborts, "mxgate_store_s3_multipart_aborts_total",                                        \
          "AbortMultipartUpload sent after a failed part or Complete")                                       \
  GAUGE(in_flight, "mxgate_store_s3_uploads_in_flight",                                                      \
        "Object uploads in progress (bounded by store.s3.max_in_flight)")                                    \
  HISTOGRAM(upload_seconds, "mxgate_store_s3_upload_seconds",                                                \
            "One object's upload, from its start to S3's acknowledgement, retries included")
// clang-format on

// NOLINTNEXTLINE(bugprone-macro-parentheses): `member` is a declarator, not an expression.
#define MX_S3_COUNTER_MEMBER(member, name, help) std::atomic<uint64_t> member{0};
// NOLINTNEXTLINE(bugprone-macro-parentheses): `member` is a declarator, not an expression.
#define MX_S3_GAUGE_MEMBER(member, name, help) std::atomic<int64_t> member{0};
// NOLINTNEXTLINE(bugprone-macro-parentheses): `member` is a declarator, not an expression.
#define MX_S3_HISTOGRAM_MEMBER(member, name, help) LatencyHistogram member;

struct S3StoreMetrics {
  MX_S3_STORE_METRICS(MX_S3_COUNTER_MEMBER, MX_S3_GAUGE_MEMBER, MX_S3_HISTOGRAM_MEMBER)

  static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
};

}  // namespace mx::store
