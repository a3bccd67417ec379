// fuzz/mime/fuzz_options.h — maps fuzz input onto mime::parse: a leading byte below 0x08
// selects options (tiny limits, keeping attachment bytes, trusting an authserv-id) and the
// rest is the message; any other first byte means the whole input is the message, so plain
// .eml seeds work unchanged.
// Trust: the input is arbitrary bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mime/parser.h"

namespace mx::fuzz {

inline std::string_view splitOptions(const uint8_t* data, size_t size, mime::ParseOptions* opt) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.empty() || static_cast<uint8_t>(in[0]) >= 0x08) return in;
  const uint8_t sel = static_cast<uint8_t>(in[0]);
  if (sel & 1) {
    opt->max_depth = 4;
    opt->max_parts = 20;
    opt->max_header_bytes = 256;
    opt->max_total_size = 4096;
    opt->max_text_bytes = 64;
  }
  opt->keep_attachment_data = (sel & 2) != 0;
  if (sel & 4) opt->trusted_authserv_ids = {"mx.test", "x"};
  return in.substr(1);
}

}  // namespace mx::fuzz
