// core/sha256.cc — see sha256.h.
#include "core/sha256.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <utility>

#include "core/assert.h"

namespace mx {
namespace {

// Fetched once: in OpenSSL 3 an implicit fetch (EVP_sha256() per call) costs a lookup
// every time, which shows on small inputs.
const EVP_MD* sha256Md() {
  static EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    MX_RELEASE_ASSERT(m != nullptr, "OpenSSL: no SHA-256 implementation");
    return m;
  }();
  return md;
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  MX_RELEASE_ASSERT(ctx_ != nullptr, "EVP_MD_CTX_new failed");
  reset();
}

Sha256::~Sha256() {
  if (ctx_ != nullptr) EVP_MD_CTX_free(ctx_);
}

Sha256::Sha256(Sha256&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
  if (this != &other) {
    if (ctx_ != nullptr) EVP_MD_CTX_free(ctx_);
    ctx_ = std::exchange(other.ctx_, nullptr);
  }
  return *this;
}

void Sha256::reset() {
  MX_RELEASE_ASSERT(EVP_DigestInit_ex2(ctx_, sha256Md(), nullptr) == 1, "SHA-256 init failed");
}

void Sha256::update(std::string_view data) {
  if (data.empty()) return;
  MX_RELEASE_ASSERT(EVP_DigestUpdate(ctx_, data.data(), data.size()) == 1, "SHA-256 update failed");
}

Sha256Digest Sha256::finish() {
  Sha256Digest d{};
  unsigned int len = 0;
  MX_RELEASE_ASSERT(EVP_DigestFinal_ex(ctx_, d.data(), &len) == 1 && len == d.size(),
                    "SHA-256 final failed");
  return d;
}

std::string Sha256::finishHex() { return toHex(finish()); }

Sha256Digest sha256(std::string_view data) {
  Sha256Digest d{};
  unsigned int len = 0;
  MX_RELEASE_ASSERT(EVP_Digest(data.data(), data.size(), d.data(), &len, sha256Md(), nullptr) == 1 &&
                        len == d.size(),
                    "EVP_Digest(SHA-256) failed");
  return d;
}

std::string sha256Hex(std::string_view data) { return toHex(sha256(data)); }

Sha256Digest hmacSha256(std::string_view key, std::string_view data) {
  Sha256Digest d{};
  unsigned int len = 0;
  const unsigned char* out =
      HMAC(sha256Md(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data(), &len);
  MX_RELEASE_ASSERT(out != nullptr && len == d.size(), "HMAC-SHA256 failed");
  return d;
}

namespace {

EVP_MAC* hmacMac() {
  static EVP_MAC* mac = [] {
    EVP_MAC* m = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    MX_RELEASE_ASSERT(m != nullptr, "OpenSSL: no HMAC implementation");
    return m;
  }();
  return mac;
}

}  // namespace

HmacSha256::HmacSha256(std::string_view key) : ctx_(EVP_MAC_CTX_new(hmacMac())) {
  MX_RELEASE_ASSERT(ctx_ != nullptr, "EVP_MAC_CTX_new failed");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  // An empty key is a valid HMAC key (RFC 2104); OpenSSL wants a non-null pointer for it.
  static const unsigned char kNoKey = 0;
  const auto* k = key.empty() ? &kNoKey : reinterpret_cast<const unsigned char*>(key.data());
  MX_RELEASE_ASSERT(EVP_MAC_init(ctx_, k, key.size(), params) == 1, "HMAC-SHA256 init failed");
}

HmacSha256::~HmacSha256() { EVP_MAC_CTX_free(ctx_); }

void HmacSha256::update(std::string_view data) {
  if (data.empty()) return;
  MX_RELEASE_ASSERT(EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1,
                    "HMAC-SHA256 update failed");
}

Sha256Digest HmacSha256::finish() {
  Sha256Digest d{};
  size_t len = 0;
  MX_RELEASE_ASSERT(EVP_MAC_final(ctx_, d.data(), &len, d.size()) == 1 && len == d.size(), "HMAC-SHA256 final failed");
  return d;
}

std::string toHex(const uint8_t* bytes, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 15];
  }
  return out;
}

}  // namespace mx
