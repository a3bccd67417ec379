// fuzz/server/proxy_protocol_fuzz.cc — libFuzzer target for the PROXY protocol parser.
// Invariants: never reads out of bounds (ASan), consumed <= input, every prefix of an
// accepted header asks for more, and a result is stable when more bytes follow.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/proxy_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mx::server;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  ProxyParseResult r = parseProxyHeader(in);
  if (r.status == ProxyParseStatus::kDone) {
    if (r.consumed == 0 || r.consumed > size) std::abort();
    ProxyParseResult again = parseProxyHeader(in.substr(0, r.consumed));
    if (again.status != ProxyParseStatus::kDone || again.consumed != r.consumed) std::abort();
    if (r.consumed > 1) {
      ProxyParseResult shorter = parseProxyHeader(in.substr(0, r.consumed - 1));
      if (shorter.status == ProxyParseStatus::kDone) std::abort();
    }
  }
  return 0;
}
