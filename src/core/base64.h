// core/base64.h — strict RFC 4648 base64, for SASL (RFC 4954) exchanges and other short
// protocol values. Decoding rejects any character outside the alphabet, bad padding and
// non-zero trailing bits: a SASL response that is not clean base64 gets 501. (MIME bodies
// need a tolerant, streaming decoder instead; that lives in src/mime.)
// Trust: decode() takes untrusted input of any length.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mx {

std::string base64Encode(std::string_view in);
std::optional<std::string> base64DecodeStrict(std::string_view in);

}  // namespace mx
