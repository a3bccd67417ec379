// server/metrics.cc — see metrics.h.
#include "server/metrics.h"

#include <cstdio>

#include "core/assert.h"

namespace mx::server {
namespace {

constexpr uint64_t kBucketBoundsUs[Metrics::kBuckets - 1] = {500, 1000, 2000, 5000,
                                                             10000, 25000, 100000};

void line(std::string& out, const char* name, const char* type, const char* help, double v) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name,
                type, name, v);
  out += buf;
}

}  // namespace

void Metrics::observeCommitLatency(uint64_t micros) {
  commit_latency_us_sum.fetch_add(micros, std::memory_order_relaxed);
  commit_latency_count.fetch_add(1, std::memory_order_relaxed);
  int b = 0;
  while (b < kBuckets - 1 && micros > kBucketBoundsUs[b]) ++b;
  commit_latency_buckets[b].fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::renderPrometheus(const std::string& extra) const {
  auto get = [](const auto& a) { return static_cast<double>(a.load(std::memory_order_relaxed)); };
  std::string out;
  out.reserve(4096);
  line(out, "mxgate_connections_accepted_total", "counter", "TCP connections accepted", get(connections_accepted));
  line(out, "mxgate_connections_active", "gauge", "Connections open now", get(connections_active));
  line(out, "mxgate_connections_refused_limit_total", "counter", "Connections refused by a connection limit", get(connections_refused_limit));
  line(out, "mxgate_proxy_header_errors_total", "counter", "Connections closed for a bad or missing PROXY header", get(proxy_header_errors));
  line(out, "mxgate_tls_handshakes_total", "counter", "Completed TLS handshakes", get(tls_handshakes));
  line(out, "mxgate_tls_handshake_failures_total", "counter", "Failed TLS handshakes", get(tls_handshake_failures));
  line(out, "mxgate_auth_successes_total", "counter", "Successful SMTP AUTH exchanges", get(auth_successes));
  line(out, "mxgate_auth_failures_total", "counter", "Failed SMTP AUTH exchanges", get(auth_failures));
  line(out, "mxgate_messages_accepted_total", "counter", "Messages made durable and answered 250", get(messages_accepted));
  line(out, "mxgate_messages_temp_failed_total", "counter", "Messages answered 451 because the spool failed", get(messages_temp_failed));
  line(out, "mxgate_message_bytes_accepted_total", "counter", "Body bytes of accepted messages", get(message_bytes_accepted));
  line(out, "mxgate_recipients_accepted_total", "counter", "RCPT TO accepted", get(recipients_accepted));
  line(out, "mxgate_recipients_rejected_total", "counter", "RCPT TO refused", get(recipients_rejected));
  line(out, "mxgate_recipients_deferred_storage_total", "counter",
       "RCPT TO deferred with 452 4.3.1 because the spool filesystem is below spool.min_free",
       get(recipients_deferred_storage));
  line(out, "mxgate_sessions_timed_out_total", "counter", "Sessions closed by a timeout", get(sessions_timed_out));
  line(out, "mxgate_bugs_total", "counter", "Internal inconsistencies survived (MX_BUG)", static_cast<double>(bugCounter().load()));
  out += "# HELP mxgate_commit_latency_seconds End-of-data to durable commit\n";
  out += "# TYPE mxgate_commit_latency_seconds histogram\n";
  uint64_t cum = 0;
  char buf[160];
  for (int b = 0; b < kBuckets; ++b) {
    cum += commit_latency_buckets[b].load(std::memory_order_relaxed);
    if (b < kBuckets - 1) {
      std::snprintf(buf, sizeof buf, "mxgate_commit_latency_seconds_bucket{le=\"%g\"} %llu\n",
                    kBucketBoundsUs[b] / 1e6, static_cast<unsigned long long>(cum));
    } else {
      std::snprintf(buf, sizeof buf, "mxgate_commit_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
                    static_cast<unsigned long long>(cum));
    }
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "mxgate_commit_latency_seconds_sum %.6f\nmxgate_commit_latency_seconds_count %llu\n",
                commit_latency_us_sum.load() / 1e6,
                static_cast<unsigned long long>(commit_latency_count.load()));
  out += buf;
  out += extra;
  return out;
}

}  // namespace mx::server
