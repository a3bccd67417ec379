// bench/mime/openssl_digester.h — mime::Digester over OpenSSL's libcrypto (SHA-NI/AVX2 when
// the CPU has them): what src/app supplies in production. Test/bench targets only; src/mime
// never links a crypto library.
// Trust: any bytes.
#pragma once

#include <openssl/evp.h>

#include "mime/digest.h"

namespace mx::bench {

class OpenSslDigester final : public mime::Digester {
 public:
  // mime::Digester
  void sha256(std::string_view data, uint8_t out[32]) const override {
    unsigned int n = 32;
    EVP_Digest(data.data(), data.size(), out, &n, EVP_sha256(), nullptr);
  }
};

}  // namespace mx::bench
