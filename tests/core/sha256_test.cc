// tests/core/sha256_test.cc — SHA-256 (FIPS 180-4 examples) and HMAC-SHA256 (RFC 4231
// test cases 1, 2, 6 and 7) through core/sha256.h; incremental equals one-shot at every split.
#include "core/sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace mx {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalMatchesOneShotAtEverySplit) {
  std::string data;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>(i * 7 + 3));
  const std::string want = sha256Hex(data);
  Sha256 h;
  for (size_t split = 0; split <= data.size(); ++split) {
    h.reset();
    h.update(std::string_view(data).substr(0, split));
    h.update(std::string_view(data).substr(split));
    ASSERT_EQ(h.finishHex(), want) << "split at " << split;
  }
}

TEST(Sha256, MovedObjectKeepsState) {
  Sha256 a;
  a.update("ab");
  Sha256 b(std::move(a));
  b.update("c");
  EXPECT_EQ(b.finishHex(), sha256Hex("abc"));
}

TEST(HmacSha256, Rfc4231) {
  // Test case 1.
  EXPECT_EQ(toHex(hmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2: a key shorter than the output.
  EXPECT_EQ(toHex(hmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a key longer than the block size is hashed first.
  EXPECT_EQ(toHex(hmacSha256(std::string(131, '\xaa'),
                             "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  // Test case 7.
  EXPECT_EQ(toHex(hmacSha256(std::string(131, '\xaa'),
                             "This is a test using a larger than block-size key and a larger "
                             "than block-size data. The key needs to be hashed before being "
                             "used by the HMAC algorithm.")),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST(HmacSha256, ChainsAsSigV4Does) {
  // The SigV4 key derivation feeds each digest in as the next key: asBytes() must give
  // exactly the 32 raw bytes.
  Sha256Digest k1 = hmacSha256("AWS4secret", "20150830");
  Sha256Digest k2 = hmacSha256(asBytes(k1), "us-east-1");
  EXPECT_EQ(asBytes(k1).size(), 32u);
  EXPECT_NE(k1, k2);
  EXPECT_EQ(hmacSha256(asBytes(k1), "us-east-1"), k2);
}

}  // namespace
}  // namespace mx
