// server/metrics.h — process-wide counters and gauges, rendered in the Prometheus text
// exposition format (version 0.0.4) for GET /metrics. Updates are relaxed atomics: cheap on
// the hot path, exact totals, no ordering promises between different counters.
// Trust: none needed.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace mx::server {

struct Metrics {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<int64_t> connections_active{0};
  std::atomic<uint64_t> connections_refused_limit{0};
  std::atomic<uint64_t> proxy_header_errors{0};
  std::atomic<uint64_t> tls_handshakes{0};
  std::atomic<uint64_t> tls_handshake_failures{0};
  std::atomic<uint64_t> auth_successes{0};
  std::atomic<uint64_t> auth_failures{0};
  std::atomic<uint64_t> messages_accepted{0};
  std::atomic<uint64_t> messages_temp_failed{0};
  std::atomic<uint64_t> message_bytes_accepted{0};
  std::atomic<uint64_t> recipients_accepted{0};
  std::atomic<uint64_t> recipients_rejected{0};
  std::atomic<uint64_t> recipients_deferred_storage{0};  // 452 4.3.1: spool filesystem low
  std::atomic<uint64_t> sessions_timed_out{0};
  // Commit latency (end-of-data to durable), microseconds: sum and count, plus buckets.
  std::atomic<uint64_t> commit_latency_us_sum{0};
  std::atomic<uint64_t> commit_latency_count{0};
  static constexpr int kBuckets = 8;  // <=0.5, 1, 2, 5, 10, 25, 100 ms, +Inf
  std::atomic<uint64_t> commit_latency_buckets[kBuckets]{};

  void observeCommitLatency(uint64_t micros);

  // Renders everything above plus `extra` (other modules' lines, already formatted).
  std::string renderPrometheus(const std::string& extra) const;
};

}  // namespace mx::server
