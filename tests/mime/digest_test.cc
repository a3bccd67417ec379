// tests/mime/digest_test.cc — SHA-256 (FIPS 180-4): published test vectors, the SHA-NI and
// portable paths (whichever this CPU runs) and the streaming form against OpenSSL on random
// lengths around the block boundaries.
#include "mime/digest.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <random>

namespace mx::mime {
namespace {

std::string opensslHex(std::string_view d) {
  uint8_t out[32];
  unsigned n = 32;
  EVP_Digest(d.data(), d.size(), out, &n, EVP_sha256(), nullptr);
  return toHex(out, 32);
}

TEST(MimeSha256, KnownVectors) {
  const Digester& d = builtinDigester();
  EXPECT_EQ(sha256Hex(d, ""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex(d, "abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex(d, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256Hex(d, std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(MimeSha256, MatchesOpenSslAtEveryLengthAndStreamed) {
  std::mt19937 rng(1);
  std::string data(5000, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  for (size_t len = 0; len < 300; ++len) {
    ASSERT_EQ(sha256Hex(builtinDigester(), std::string_view(data).substr(0, len)),
              opensslHex(std::string_view(data).substr(0, len)))
        << len;
  }
  for (int iter = 0; iter < 50; ++iter) {
    const size_t len = rng() % data.size();
    Sha256Stream s;
    size_t pos = 0;
    while (pos < len) {
      const size_t take = std::min<size_t>(len - pos, 1 + rng() % 200);
      s.update(std::string_view(data).substr(pos, take));
      pos += take;
    }
    uint8_t out[32];
    s.finish(out);
    ASSERT_EQ(toHex(out, 32), opensslHex(std::string_view(data).substr(0, len)));
  }
}

}  // namespace
}  // namespace mx::mime
