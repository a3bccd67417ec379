// app/loadgen_absent.cc — runLoad() for the sanitizer builds (MXGATE_FUZZ, MXGATE_TSAN),
// which are built with clang 14: it cannot compile libstdc++ 12's coroutines, which the load
// generator (loadgen.cc) is written in. The rest of mxgate is the same code as in the normal
// build, which is what the sanitizer runs of the integration scenarios need.
#include <cstdio>

#include "app/loadgen.h"

namespace mx::app {

int runLoad(const LoadOptions&) {
  std::fputs("mxgate bench: the load generator is not part of this (sanitizer) build; use the normal build\n", stderr);
  return 2;
}

}  // namespace mx::app
