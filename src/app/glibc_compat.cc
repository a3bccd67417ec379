// app/glibc_compat.cc — linked into mxgate-lambda only: arc4random() and arc4random_buf()
// for the static libstdc++ (std::random_device) and libcrypt (salt bytes) of Debian 12,
// which reference glibc 2.36's; Amazon Linux 2023 (provided.al2023) has glibc 2.34. With
// these defined in the executable, the binary needs no GLIBC_2.36 symbol. Same contract
// as glibc's: bytes from the kernel's CSPRNG (getrandom(2), glibc 2.25), never failing
// silently — if the kernel cannot give random bytes, the process aborts (as glibc does).
// Trust: none needed.
#include <sys/random.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" {

void arc4random_buf(void* buffer, size_t size) {
  auto* p = static_cast<unsigned char*>(buffer);
  while (size > 0) {
    ssize_t n = ::getrandom(p, size, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::abort();
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

uint32_t arc4random() {
  uint32_t v = 0;
  arc4random_buf(&v, sizeof v);
  return v;
}

}  // extern "C"
