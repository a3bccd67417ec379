// core/sha256.h — the one home of SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) in
// mxgate, on OpenSSL 3's EVP interface (which uses the CPU's SHA extensions where present).
// Used for message and attachment digests (events, parsed JSON), SigV4 request signing
// (S3, SQS) and Standard Webhooks signatures (core/webhook_signature.h: the webhook sink,
// the edge's HTTP ingest, streamed, and its WebSocket token).
//
// Threads: the free functions are thread-safe. A Sha256 object is owned by one thread.
// Trust: input is arbitrary bytes of any length. An OpenSSL failure here (out of memory,
// a provider without SHA-256) cannot be recovered from and aborts with a message.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

struct evp_md_ctx_st;
struct evp_mac_ctx_st;

namespace mx {

using Sha256Digest = std::array<uint8_t, 32>;

// Incremental SHA-256: feed pieces with update(), read the digest once with finish().
// After finish() the object may be reused with reset().
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;

  void update(std::string_view data);
  Sha256Digest finish();
  std::string finishHex();
  void reset();

 private:
  evp_md_ctx_st* ctx_;
};

Sha256Digest sha256(std::string_view data);
// 64 lower-case hex digits.
std::string sha256Hex(std::string_view data);

// HMAC-SHA256 of `data` under `key` (any length; RFC 2104 hashes keys over 64 bytes).
Sha256Digest hmacSha256(std::string_view key, std::string_view data);

// Incremental HMAC-SHA256 (RFC 2104), for content that arrives in pieces (a streamed request
// body): the same digest as hmacSha256(key, concatenation of the pieces).
class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  void update(std::string_view data);
  // Once; the object is then spent.
  Sha256Digest finish();

 private:
  evp_mac_ctx_st* ctx_;
};

// Lower-case hex of `n` bytes; the digest overload for convenience.
std::string toHex(const uint8_t* bytes, size_t n);
inline std::string toHex(const Sha256Digest& d) { return toHex(d.data(), d.size()); }

// The digest's bytes as a string_view (e.g. an HMAC key for the next SigV4 step).
inline std::string_view asBytes(const Sha256Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

}  // namespace mx
