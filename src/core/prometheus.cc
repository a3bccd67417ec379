// core/prometheus.cc — see prometheus.h.
#include "core/prometheus.h"

#include <cstdio>

namespace mx::prometheus {
namespace {

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

}  // namespace

void sample(std::string& out, const char* name, const char* type, const char* help, double value) {
  header(out, name, type, help);
  char buf[64];
  std::snprintf(buf, sizeof buf, " %.17g\n", value);
  out += name;
  out += buf;
}

void counter(std::string& out, const char* name, const char* help, uint64_t value) {
  sample(out, name, "counter", help, static_cast<double>(value));
}

void gauge(std::string& out, const char* name, const char* help, int64_t value) {
  sample(out, name, "gauge", help, static_cast<double>(value));
}

void histogram(std::string& out, const char* name, const char* help, const uint64_t* bounds_us, size_t n_bounds,
               const std::function<uint64_t(size_t)>& bucket, uint64_t sum_us, uint64_t count) {
  header(out, name, "histogram", help);
  char buf[192];
  uint64_t cum = 0;
  for (size_t b = 0; b <= n_bounds; ++b) {
    cum += bucket(b);
    if (b < n_bounds) {
      std::snprintf(buf, sizeof buf, "%s_bucket{le=\"%g\"} %llu\n", name, static_cast<double>(bounds_us[b]) / 1e6,
                    static_cast<unsigned long long>(cum));
    } else {
      std::snprintf(buf, sizeof buf, "%s_bucket{le=\"+Inf\"} %llu\n", name, static_cast<unsigned long long>(cum));
    }
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "%s_sum %.6f\n%s_count %llu\n", name, static_cast<double>(sum_us) / 1e6, name,
                static_cast<unsigned long long>(cum > count ? cum : count));
  out += buf;
}

void histogram(std::string& out, const char* name, const char* help, const LatencyHistogram& h) {
  histogram(
      out, name, help, LatencyHistogram::kBoundsUs, LatencyHistogram::kBuckets - 1,
      [&h](size_t b) { return h.bucket(b); }, h.sumMicros(), h.count());
}

void family(std::string& out, const char* name, const char* type, const char* help) { header(out, name, type, help); }

void labelled(std::string& out, const char* name, std::string_view labels, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "} %.17g\n", value);
  out += name;
  out += '{';
  out += labels;
  out += buf;
}

void labelledHistogram(std::string& out, const char* name, std::string_view labels, const LatencyHistogram& h) {
  char buf[96];
  uint64_t cum = 0;
  constexpr size_t n = LatencyHistogram::kBuckets - 1;
  for (size_t b = 0; b <= n; ++b) {
    cum += h.bucket(b);
    out += name;
    out += "_bucket{";
    out += labels;
    if (b < n) {
      std::snprintf(buf, sizeof buf, ",le=\"%g\"} %llu\n", static_cast<double>(LatencyHistogram::kBoundsUs[b]) / 1e6,
                    static_cast<unsigned long long>(cum));
    } else {
      std::snprintf(buf, sizeof buf, ",le=\"+Inf\"} %llu\n", static_cast<unsigned long long>(cum));
    }
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "} %.6f\n", static_cast<double>(h.sumMicros()) / 1e6);
  out += name;
  out += "_sum{";
  out += labels;
  out += buf;
  std::snprintf(buf, sizeof buf, "} %llu\n", static_cast<unsigned long long>(cum > h.count() ? cum : h.count()));
  out += name;
  out += "_count{";
  out += labels;
  out += buf;
}

std::string escapeLabel(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace mx::prometheus
