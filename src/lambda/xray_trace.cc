// lambda/xray_trace.cc — see xray_trace.h.
#include "lambda/xray_trace.h"

namespace mx::lambda {
namespace {

bool hex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  bool nonzero = false;
  for (char c : s) {
    const bool digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!digit) return false;
    nonzero = nonzero || c != '0';
  }
  return nonzero;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::optional<std::string> traceparentFromXRay(std::string_view header) {
  if (header.size() > 1024) return std::nullopt;
  std::string_view root, parent, sampled;
  while (!header.empty()) {
    const size_t semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view name = part.substr(0, eq), value = part.substr(eq + 1);
    if (name == "Root") root = value;
    if (name == "Parent") parent = value;
    if (name == "Sampled") sampled = value;
  }
  // Root: "1-" 8 hex "-" 24 hex.
  if (root.size() != 35 || root.substr(0, 2) != "1-" || root[10] != '-') return std::nullopt;
  const std::string_view epoch = root.substr(2, 8), unique = root.substr(11);
  if (!hex(epoch, 8) || unique.size() != 24) return std::nullopt;
  for (char c : unique) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return std::nullopt;
  }
  if (!hex(parent, 16)) return std::nullopt;
  return "00-" + lower(epoch) + lower(unique) + "-" + lower(parent) + (sampled == "1" ? "-01" : "-00");
}

}  // namespace mx::lambda
