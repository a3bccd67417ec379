// mime/digest.cc — SHA-256 (FIPS 180-4 sections 4.1.2, 5.3.3, 6.2), written from the
// standard: a portable block function and one using the x86 SHA extensions (SHA-NI:
// sha256rnds2 runs two rounds on the ABEF/CDGH halves of the state; sha256msg1/msg2 expand
// the message schedule four words at a time). The block function is chosen once, by CPUID.
// Trust: any input bytes and lengths.
#include "mime/digest.h"

#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace mx::mime {
namespace {

alignas(16) constexpr uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

constexpr uint32_t kInit[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void blocksPortable(uint32_t st[8], const uint8_t* data, size_t nblocks) {
  for (size_t blk = 0; blk < nblocks; ++blk, data += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      w[i] = (static_cast<uint32_t>(data[4 * i]) << 24) |
             (static_cast<uint32_t>(data[4 * i + 1]) << 16) |
             (static_cast<uint32_t>(data[4 * i + 2]) << 8) | data[4 * i + 3];
    }
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], h = st[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
      const uint32_t ch = (e & f) ^ (~e & g);
      const uint32_t t1 = h + S1 + ch + kK[i] + w[i];
      const uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
      const uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      const uint32_t t2 = S0 + maj;
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
    st[4] += e;
    st[5] += f;
    st[6] += g;
    st[7] += h;
  }
}

#if defined(__x86_64__)
__attribute__((target("sha,sse4.1,ssse3"))) void blocksShaNi(uint32_t st[8], const uint8_t* data,
                                                             size_t nblocks) {
  const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  // The instructions want the state as ABEF and CDGH (A in the top lane).
  __m128i t = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(st)), 0xB1);
  __m128i cdgh = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(st + 4)), 0x1B);
  __m128i abef = _mm_alignr_epi8(t, cdgh, 8);
  cdgh = _mm_blend_epi16(cdgh, t, 0xF0);
  for (size_t blk = 0; blk < nblocks; ++blk, data += 64) {
    const __m128i abef_in = abef;
    const __m128i cdgh_in = cdgh;
    __m128i msg[4];
    for (int i = 0; i < 16; ++i) {
      __m128i m;
      if (i < 4) {
        m = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16 * i)),
                             bswap);
      } else {
        // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four words at a time.
        m = _mm_sha256msg1_epu32(msg[i & 3], msg[(i + 1) & 3]);
        m = _mm_add_epi32(m, _mm_alignr_epi8(msg[(i + 3) & 3], msg[(i + 2) & 3], 4));
        m = _mm_sha256msg2_epu32(m, msg[(i + 3) & 3]);
      }
      msg[i & 3] = m;
      __m128i wk = _mm_add_epi32(m, _mm_load_si128(reinterpret_cast<const __m128i*>(kK + 4 * i)));
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
      wk = _mm_shuffle_epi32(wk, 0x0E);
      abef = _mm_sha256rnds2_epu32(abef, cdgh, wk);
      // After two calls the halves have swapped roles twice: abef is ABEF again.
    }
    abef = _mm_add_epi32(abef, abef_in);
    cdgh = _mm_add_epi32(cdgh, cdgh_in);
  }
  t = _mm_shuffle_epi32(abef, 0x1B);
  cdgh = _mm_shuffle_epi32(cdgh, 0xB1);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(st), _mm_blend_epi16(t, cdgh, 0xF0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(st + 4), _mm_alignr_epi8(cdgh, t, 8));
}

bool cpuHasShaNi() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool sha = (b >> 29) & 1;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool sse41 = (c >> 19) & 1;
  const bool ssse3 = (c >> 9) & 1;
  return sha && sse41 && ssse3;
}
#endif

using BlockFn = void (*)(uint32_t*, const uint8_t*, size_t);

BlockFn pickBlockFn() {
#if defined(__x86_64__)
  if (cpuHasShaNi()) return blocksShaNi;
#endif
  return blocksPortable;
}

BlockFn blockFn() {
  static const BlockFn fn = pickBlockFn();
  return fn;
}

void finishState(uint32_t st[8], uint64_t total_len, const uint8_t* tail, size_t tail_len,
                 uint8_t out[32]) {
  uint8_t last[128] = {};
  std::memcpy(last, tail, tail_len);
  last[tail_len] = 0x80;
  const size_t blocks = tail_len + 9 <= 64 ? 1 : 2;
  const uint64_t bits = total_len * 8;
  for (int i = 0; i < 8; ++i) last[blocks * 64 - 1 - i] = static_cast<uint8_t>(bits >> (8 * i));
  blockFn()(st, last, blocks);
  for (int i = 0; i < 8; ++i) {
    out[4 * i] = static_cast<uint8_t>(st[i] >> 24);
    out[4 * i + 1] = static_cast<uint8_t>(st[i] >> 16);
    out[4 * i + 2] = static_cast<uint8_t>(st[i] >> 8);
    out[4 * i + 3] = static_cast<uint8_t>(st[i]);
  }
}

}  // namespace

void Sha256Digester::sha256(std::string_view data, uint8_t out[32]) const {
  uint32_t st[8];
  std::memcpy(st, kInit, sizeof st);
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  const size_t full = data.size() / 64;
  if (full) blockFn()(st, p, full);
  finishState(st, data.size(), p + full * 64, data.size() - full * 64, out);
}

const Digester& builtinDigester() {
  static const Sha256Digester d;
  return d;
}

std::string toHex(const uint8_t* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    s[2 * i] = kDigits[bytes[i] >> 4];
    s[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return s;
}

std::string sha256Hex(const Digester& digester, std::string_view data) {
  uint8_t d[32];
  digester.sha256(data, d);
  return toHex(d, 32);
}

Sha256Stream::Sha256Stream() { std::memcpy(state_, kInit, sizeof state_); }

void Sha256Stream::update(std::string_view data) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t n = data.size();
  length_ += n;
  if (buffered_) {
    const size_t take = std::min(n, 64 - buffered_);
    std::memcpy(buffer_ + buffered_, p, take);
    buffered_ += take;
    p += take;
    n -= take;
    if (buffered_ < 64) return;
    blockFn()(state_, buffer_, 1);
    buffered_ = 0;
  }
  if (n >= 64) {
    blockFn()(state_, p, n / 64);
    p += n / 64 * 64;
    n %= 64;
  }
  std::memcpy(buffer_, p, n);
  buffered_ = n;
}

void Sha256Stream::finish(uint8_t out[32]) {
  finishState(state_, length_, buffer_, buffered_, out);
}

}  // namespace mx::mime
