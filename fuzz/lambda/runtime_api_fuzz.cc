// fuzz/lambda/runtime_api_fuzz.cc — libFuzzer target for what the Lambda runtime reads from
// the Runtime API besides the payload: the /next answer's Lambda-Runtime-* headers
// (parseInvocation) and the X-Ray trace header (traceparentFromXRay). The input is split at
// '\n' into request id, deadline, trace header and body. Invariants: no crash (ASan/UBSan);
// an accepted invocation has a request id without '/', '?', '%' or '#' and a deadline >= 0;
// a traceparent is "00-" 32 hex "-" 16 hex "-0x", lower-case, and maps to itself again.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lambda/runtime_api.h"
#include "lambda/xray_trace.h"

namespace {

std::string_view cut(std::string_view& in) {
  size_t nl = in.find('\n');
  std::string_view head = in.substr(0, nl);
  in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  return head;
}

bool lowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mx;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  http::Response r;
  r.status = 200;
  const std::string_view id = cut(in), deadline = cut(in), trace = cut(in);
  r.headers.push_back({"Lambda-Runtime-Aws-Request-Id", std::string(id)});
  if (!deadline.empty()) r.headers.push_back({"Lambda-Runtime-Deadline-Ms", std::string(deadline)});
  r.headers.push_back({"Lambda-Runtime-Trace-Id", std::string(trace)});
  r.body = std::string(in);
  auto inv = lambda::parseInvocation(r);
  if (inv.ok()) {
    if (inv->request_id.empty() || inv->request_id.find_first_of("/?%#") != std::string::npos) std::abort();
    if (inv->deadline_ms < 0 || inv->payload != in) std::abort();
  }
  auto tp = lambda::traceparentFromXRay(trace);
  if (tp) {
    const std::string& t = *tp;
    if (t.size() != 55 || t.compare(0, 3, "00-") != 0 || t[35] != '-' || t[52] != '-') std::abort();
    if (!lowerHex(t.substr(3, 32)) || !lowerHex(t.substr(36, 16)) || !lowerHex(t.substr(53))) std::abort();
    // Back to X-Ray form and through again: the same traceparent.
    const std::string x = "Root=1-" + t.substr(3, 8) + "-" + t.substr(11, 24) + ";Parent=" + t.substr(36, 16) +
                          ";Sampled=" + (t.substr(53) == "01" ? "1" : "0");
    if (lambda::traceparentFromXRay(x) != tp) std::abort();
  }
  return 0;
}
