// core/prometheus.h — the Prometheus text exposition format (version 0.0.4) writers every
// module's metrics table renders with: HELP and TYPE lines, then the samples; histograms as
// cumulative _bucket{le="..."} samples ending with le="+Inf", then _sum and _count. One home,
// so the server (its own table), the pipeline (its table and the spool's) and src/app (a
// store backend's table) each render their own figures without depending on one another.
// Trust: none needed (names and help texts are our own constants).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/latency_histogram.h"

namespace mx::prometheus {

// One sample of `type` ("counter" | "gauge") with its HELP and TYPE lines.
void sample(std::string& out, const char* name, const char* type, const char* help, double value);
void counter(std::string& out, const char* name, const char* help, uint64_t value);
void gauge(std::string& out, const char* name, const char* help, int64_t value);

// A histogram over `n_bounds` finite upper bounds in microseconds (rendered in seconds);
// `bucket(i)` is the count of bucket i alone (i == n_bounds: above the last bound). The
// +Inf bucket is the total of the buckets, so it is never below a finite one even when
// `count` was read a moment apart.
void histogram(std::string& out, const char* name, const char* help, const uint64_t* bounds_us, size_t n_bounds,
               const std::function<uint64_t(size_t)>& bucket, uint64_t sum_us, uint64_t count);
void histogram(std::string& out, const char* name, const char* help, const LatencyHistogram& h);

// Labelled families (one HELP/TYPE, then a sample per label set, e.g. one per event sink):
// family() writes the HELP and TYPE lines once; labelled() one sample line; `labels` is the
// text inside the braces, already escaped (escapeLabel), e.g. sink="app".
void family(std::string& out, const char* name, const char* type, const char* help);
void labelled(std::string& out, const char* name, std::string_view labels, double value);
// A histogram's bucket, _sum and _count lines for one label set (after family(..., "histogram", ...)).
void labelledHistogram(std::string& out, const char* name, std::string_view labels, const LatencyHistogram& h);
// A label value escaped as the text format wants (backslash, double quote, newline).
std::string escapeLabel(std::string_view value);

}  // namespace mx::prometheus
