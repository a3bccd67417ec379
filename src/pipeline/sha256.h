// pipeline/sha256.h — SHA-256 (FIPS 180-4) of a message, as lowercase hex, via OpenSSL's
// EVP interface. Used for the event's data.sha256.
// Trust: any bytes.
#pragma once

#include <string>
#include <string_view>

namespace mx::pipeline {

std::string sha256Hex(std::string_view bytes);

}  // namespace mx::pipeline
