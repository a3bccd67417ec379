// core/assert.h — the three kinds of assertion (STYLE.md "Errors", after Envoy):
//   MX_DEBUG_ASSERT(c)  checked in debug builds only;
//   MX_RELEASE_ASSERT(c, msg)  always checked, aborts with a message (the impossible);
//   MX_BUG(c, msg)  always checked; in release builds logs to stderr and counts instead of
//   aborting, so a bug that is survivable does not take the gateway down.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace mx {

// Number of MX_BUG hits since start; exported as a metric.
inline std::atomic<uint64_t>& bugCounter() {
  static std::atomic<uint64_t> n{0};
  return n;
}

}  // namespace mx

#define MX_RELEASE_ASSERT(cond, msg)                                                    \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "assert failed: %s at %s:%d: %s\n", #cond, __FILE__, __LINE__, \
                   (msg));                                                              \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

#ifdef NDEBUG
#define MX_DEBUG_ASSERT(cond) ((void)0)
#define MX_BUG(cond, msg)                                                                  \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      ::mx::bugCounter().fetch_add(1, std::memory_order_relaxed);                          \
      std::fprintf(stderr, "bug: %s at %s:%d: %s\n", #cond, __FILE__, __LINE__, (msg));    \
    }                                                                                      \
  } while (0)
#else
#define MX_DEBUG_ASSERT(cond) MX_RELEASE_ASSERT(cond, "debug assertion")
#define MX_BUG(cond, msg) MX_RELEASE_ASSERT(cond, msg)
#endif
