// events/outbox/outbox_metrics.h — the figures of one sink's outbox for /metrics, declared
// by one table (MX_OUTBOX_METRICS: member, Prometheus name, help, as pipeline/metrics.h
// does) and rendered with a sink="<name>" label per sink (renderOutboxMetrics in outbox.h).
// Threads: relaxed atomics; any thread may update or read. Trust: none needed.
#pragma once

#include <atomic>
#include <cstdint>

#include "core/latency_histogram.h"

namespace mx::events {

// clang-format off
#define MX_OUTBOX_METRICS(COUNTER, GAUGE, HISTOGRAM)                                                             \
  COUNTER(enqueued, "mxgate_outbox_enqueued_total", "Events made durable in the sink's outbox")                 \
  COUNTER(delivered, "mxgate_outbox_delivered_total", "Events the sink confirmed (they leave the outbox)")      \
  COUNTER(retried, "mxgate_outbox_retried_total",                                                               \
          "Failed delivery attempts of a retryable kind (the event is tried again after a backoff)")            \
  COUNTER(dead_lettered, "mxgate_outbox_dead_lettered_total",                                                   \
          "Events given up on (refused by the sink, or past max_age / max_attempts), kept in the dead-letter log") \
  COUNTER(replayed, "mxgate_outbox_replayed_total", "Dead letters put back into the outbox by `mxgate outbox replay`") \
  COUNTER(rotated, "mxgate_outbox_rotated_total",                                                               \
          "Waiting events moved to the outbox's tail so that later ones are not held behind them")              \
  COUNTER(full, "mxgate_outbox_full_total",                                                                     \
          "Publishes refused because the outbox was over its max_bytes (the pipeline waits and retries)")       \
  GAUGE(depth, "mxgate_outbox_depth", "Events in the outbox not yet confirmed by the sink")                     \
  GAUGE(oldest_unix_ms, "mxgate_outbox_oldest_event_unix_ms",                                                   \
        "Reception time (Unix ms) of the oldest event the dispatcher holds undelivered; 0: none")               \
  GAUGE(dead_letter_depth, "mxgate_outbox_dead_letters", "Events in the dead-letter log (replayable)")          \
  HISTOGRAM(delivery_seconds, "mxgate_outbox_delivery_seconds",                                                 \
            "From the message's 250 (its id's time) to the sink's confirmation of its event")                   \
  HISTOGRAM(dispatch_seconds, "mxgate_outbox_dispatch_seconds",                                                 \
            "From the event's append to this outbox to the sink's confirmation (the sink's own share, retries included)")
// clang-format on

// Derived at render time from oldest_unix_ms (Outbox::renderMetrics), not stored.
inline constexpr const char* kOutboxOldestAgeMetric = "mxgate_outbox_oldest_event_age_seconds";

// NOLINTNEXTLINE(bugprone-macro-parentheses): `member` is a declarator, not an expression.
#define MX_OUTBOX_COUNTER_MEMBER(member, name, help) std::atomic<uint64_t> member{0};
// NOLINTNEXTLINE(bugprone-macro-parentheses): `member` is a declarator, not an expression.
#define MX_OUTBOX_GAUGE_MEMBER(member, name, help) std::atomic<int64_t> member{0};
// NOLINTNEXTLINE(bugprone-macro-parentheses): `member` is a declarator, not an expression.
#define MX_OUTBOX_HISTOGRAM_MEMBER(member, name, help) LatencyHistogram member;

struct OutboxMetrics {
  MX_OUTBOX_METRICS(MX_OUTBOX_COUNTER_MEMBER, MX_OUTBOX_GAUGE_MEMBER, MX_OUTBOX_HISTOGRAM_MEMBER)

  static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
};

}  // namespace mx::events
