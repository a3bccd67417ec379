// core/latency_histogram.h — LatencyHistogram: a fixed-bucket latency histogram (50 us ..
// 10 s) of relaxed atomics, for the metric tables of every module (pipeline/metrics.h,
// store/s3/s3_metrics.h), rendered by core/prometheus.h as a Prometheus histogram.
// Threads: any thread may observe or read. Trust: none needed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace mx {

// A latency histogram with fixed bucket bounds (50 us .. 10 s), in microseconds.
class LatencyHistogram {
 public:
  static constexpr uint64_t kBoundsUs[] = {50,    100,   250,    500,    1000,   2500,    5000,    10000,
                                           25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 10000000};
  static constexpr size_t kBuckets = sizeof(kBoundsUs) / sizeof(kBoundsUs[0]) + 1;  // the last is +Inf

  void observe(std::chrono::nanoseconds d) {
    uint64_t us = d.count() <= 0 ? 0 : static_cast<uint64_t>(d.count()) / 1000;
    size_t b = 0;
    while (b < kBuckets - 1 && us > kBoundsUs[b]) ++b;
    buckets_[b].fetch_add(1, std::memory_order_relaxed);
    sum_us_.fetch_add(us, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
  }
  // Observations in bucket b alone (not cumulative); b == kBuckets - 1 is above every bound.
  uint64_t bucket(size_t b) const { return buckets_[b].load(std::memory_order_relaxed); }
  uint64_t sumMicros() const { return sum_us_.load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> buckets_[kBuckets]{};
  std::atomic<uint64_t> sum_us_{0};
  std::atomic<uint64_t> count_{0};
};

}  // namespace mx
