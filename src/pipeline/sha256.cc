// pipeline/sha256.cc — see sha256.h.
#include "pipeline/sha256.h"

#include <openssl/evp.h>

#include "core/assert.h"

namespace mx::pipeline {

std::string sha256Hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  int ok = EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  MX_RELEASE_ASSERT(ok == 1 && len == 32, "EVP_Digest(SHA-256) failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(64, '0');
  for (unsigned i = 0; i < 32; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 15];
  }
  return out;
}

}  // namespace mx::pipeline
