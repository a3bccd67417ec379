// fuzz/server/edge_request_fuzz.cc — libFuzzer target for the edge contract's header checks
// (server/edge_request.h): the input is a header block, "Name: value" lines; the known
// names fill an EdgeHead (a name seen twice sets `duplicated`, as the driver does), and both
// checkIngestHead() and checkEdgeToken() run on it.
// Invariants: no crash or out-of-bounds read (ASan); every answer is one the contract allows;
// an accepted head has at least one recipient and a canonical client address; a valid token
// names a canonical address.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/edge_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mx::server;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  EdgeHead h;
  auto set = [&h](std::optional<std::string_view>* field, std::string_view v) {
    if (*field) h.duplicated = true;
    *field = v;
  };
  while (!in.empty()) {
    size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    std::string_view value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (name == "content-type") set(&h.content_type, value);
    if (name == "mx-mail-from") set(&h.mail_from, value);
    if (name == "mx-rcpt-to") set(&h.rcpt_to, value);
    if (name == "mx-client-ip") set(&h.client_ip, value);
    if (name == "mx-client-helo") set(&h.client_helo, value);
    if (name == "webhook-id") set(&h.webhook_id, value);
    if (name == "webhook-timestamp") set(&h.webhook_timestamp, value);
    if (name == "webhook-signature") set(&h.webhook_signature, value);
    if (name == "content-length") h.content_length = value.size() * 1000;
  }
  const int64_t now = 1'800'000'000;
  IngestCheck c = checkIngestHead(h, IngestLimits{40u << 20, 100}, now);
  switch (c.status) {
    case 0:
      if (c.envelope.rcpt_to.empty() || c.envelope.rcpt_to.size() > 100) std::abort();
      if (canonicalIp(c.envelope.client_ip) != c.envelope.client_ip) std::abort();
      break;
    case 400:
    case 401:
    case 413:
    case 415:
      if (c.error.empty()) std::abort();
      break;
    default:
      std::abort();
  }
  // The signed envelope: the four named lines (57 octets with empty values) and the empty
  // line that ends it, whatever the values hold.
  const std::string lines = signedEnvelope(h);
  if (lines.size() < 57 || lines.back() != '\n' || lines[lines.size() - 2] != '\n') std::abort();
  EdgeTokenCheck t = checkEdgeToken(h, std::string(32, 'k'), now);
  if (t.status == EdgeTokenStatus::kValid && canonicalIp(t.client_ip) != t.client_ip) std::abort();
  if (t.status == EdgeTokenStatus::kInvalid && t.error.empty()) std::abort();
  return 0;
}
