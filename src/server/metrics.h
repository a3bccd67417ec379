// server/metrics.h — process-wide counters and gauges, rendered in the Prometheus text
// exposition format (version 0.0.4) for GET /metrics. Each figure is declared ONCE, in a
// table of (member, name, help) under its type — MX_SERVER_METRICS here; other modules keep
// their own tables (pipeline/metrics.h, store/s3/s3_metrics.h) — from which both the struct
// members and the rendering are generated (Envoy's ALL_*_STATS pattern): adding a counter
// is one line. Updates are relaxed atomics: cheap on the hot path, exact totals, no
// ordering promises between different counters.
// Trust: none needed.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace mx::server {

// clang-format off
#define MX_SERVER_METRICS(COUNTER, GAUGE)                                                                     \
  COUNTER(connections_accepted, "mxgate_connections_accepted_total", "TCP connections accepted")             \
  GAUGE(connections_active, "mxgate_connections_active", "Connections open now")                             \
  COUNTER(connections_refused_limit, "mxgate_connections_refused_limit_total",                               \
          "Connections refused by a connection limit")                                                       \
  COUNTER(proxy_header_errors, "mxgate_proxy_header_errors_total",                                           \
          "Connections closed for a bad or missing PROXY header")                                            \
  COUNTER(tls_handshakes, "mxgate_tls_handshakes_total", "Completed TLS handshakes")                         \
  COUNTER(tls_handshake_failures, "mxgate_tls_handshake_failures_total", "Failed TLS handshakes")            \
  COUNTER(auth_successes, "mxgate_auth_successes_total", "Successful SMTP AUTH exchanges")                   \
  COUNTER(auth_failures, "mxgate_auth_failures_total", "Failed SMTP AUTH exchanges")                         \
  COUNTER(messages_accepted, "mxgate_messages_accepted_total", "Messages made durable and answered 250")     \
  COUNTER(messages_temp_failed, "mxgate_messages_temp_failed_total",                                         \
          "Messages answered 451 because the spool failed, or the object store did not confirm them")        \
  COUNTER(messages_store_ack_failed, "mxgate_messages_store_ack_failed_total",                               \
          "Messages spooled but answered 451 because the object store did not confirm them in time "         \
          "(ack_after = \"store\")")                                                                          \
  COUNTER(message_bytes_accepted, "mxgate_message_bytes_accepted_total", "Body bytes of accepted messages")  \
  COUNTER(recipients_accepted, "mxgate_recipients_accepted_total", "RCPT TO accepted")                       \
  COUNTER(recipients_rejected, "mxgate_recipients_rejected_total", "RCPT TO refused")                        \
  COUNTER(recipients_deferred_storage, "mxgate_recipients_deferred_storage_total",                           \
          "RCPT TO deferred with 452 4.3.1 because the spool filesystem is below spool.min_free")            \
  COUNTER(sessions_timed_out, "mxgate_sessions_timed_out_total", "Sessions closed by a timeout")             \
  COUNTER(sessions_early_talkers, "mxgate_sessions_early_talkers_total",                                     \
          "Sessions refused with 554 5.5.1: the client sent before the greeting (greet_delay)")  \
  COUNTER(ingest_requests, "mxgate_ingest_requests_total", "POST /v1/messages requests answered (http_ingest)") \
  COUNTER(ingest_refused, "mxgate_ingest_refused_total", "POST /v1/messages answered with 4xx or 5xx")       \
  COUNTER(ingest_duplicates, "mxgate_ingest_duplicates_total",                                               \
          "POST /v1/messages retries answered from the idempotency keys (no second copy)")                   \
  COUNTER(websocket_upgrades, "mxgate_websocket_upgrades_total", "WebSocket SMTP sessions opened")           \
  COUNTER(edge_token_refusals, "mxgate_edge_token_refusals_total",                                           \
          "WebSocket upgrades refused with 401 (missing, invalid, expired or reused edge token)")  \
  COUNTER(replies_2xx, "mxgate_smtp_replies_2xx_total", "SMTP replies sent with a 2xx code")                 \
  COUNTER(replies_3xx, "mxgate_smtp_replies_3xx_total", "SMTP replies sent with a 3xx code (DATA, AUTH)")    \
  COUNTER(replies_4xx, "mxgate_smtp_replies_4xx_total", "SMTP replies sent with a 4xx code (try again)")     \
  COUNTER(replies_5xx, "mxgate_smtp_replies_5xx_total", "SMTP replies sent with a 5xx code (refused)")
// clang-format on

// NOLINTNEXTLINE(bugprone-macro-parentheses): `member` is a declarator, not an expression.
#define MX_SERVER_COUNTER_MEMBER(member, name, help) std::atomic<uint64_t> member{0};
// NOLINTNEXTLINE(bugprone-macro-parentheses): `member` is a declarator, not an expression.
#define MX_SERVER_GAUGE_MEMBER(member, name, help) std::atomic<int64_t> member{0};

struct Metrics {
  MX_SERVER_METRICS(MX_SERVER_COUNTER_MEMBER, MX_SERVER_GAUGE_MEMBER)

  // Commit latency (end-of-data to durable), microseconds: sum and count, plus buckets.
  // Rendered as the histogram mxgate_commit_latency_seconds.
  std::atomic<uint64_t> commit_latency_us_sum{0};
  std::atomic<uint64_t> commit_latency_count{0};
  static constexpr int kBuckets = 8;  // <=0.5, 1, 2, 5, 10, 25, 100 ms, +Inf
  std::atomic<uint64_t> commit_latency_buckets[kBuckets]{};

  void observeCommitLatency(uint64_t micros);
  // Counts the replies in `lines` (complete CRLF-terminated reply lines; a multi-line
  // reply counts once, by its last line) by their first digit.
  void countReplies(std::string_view lines);

  // Renders everything above (and mxgate_bugs_total) plus `extra` (other modules' lines,
  // already formatted, e.g. pipeline::renderPipelineMetrics()).
  std::string renderPrometheus(const std::string& extra) const;
};

}  // namespace mx::server
