#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what the tests need
# (apt packages), builds, checks style (clang-format on changed lines, clang-tidy on src/),
# runs every ctest test (unit, transcript, fuzz-corpus replay, integration against real
# clients, HAProxy, Postfix and moto), then again under sanitizers: the unit tests, corpus
# replays and integration scenarios built with clang + ASan/UBSan, the integration
# scenarios once more on a ThreadSanitizer build, and a brief libFuzzer run of every fuzz
# target. .ci/run calls exactly this.
#   MXGATE_FUZZ_SECONDS    seconds per fuzz target (default 20; 0 skips fuzzing)
#   MXGATE_TEST_SANITIZE   1 (default): the ASan/UBSan (./build-fuzz) and TSan (./build-tsan)
#                          runs; 0 skips both
#   MXGATE_TEST_STYLE      1 (default): scripts/check-style.sh; 0 skips it
#   MXGATE_TSAN_TESTS      ctest regex of the scenarios run on the TSan build
#                          (default: every integration scenario)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
if [ "${MXGATE_TEST_STYLE:-1}" != "0" ]; then
  echo "== style"
  ./scripts/check-style.sh
fi
echo "== ctest"
ctest --test-dir "${MXGATE_BUILD_DIR:-build}" --output-on-failure -j2 --timeout 900
if [ "${MXGATE_TEST_SANITIZE:-1}" != "0" ]; then
  # One clang build with ASan/UBSan serves the sanitizer run of the unit tests (with every
  # fuzz-corpus replay), of the integration scenarios (its own mxgate binary: a sanitizer
  # report in the server's stderr fails the scenario, see tests/integration/harness.py),
  # and the fuzzers below.
  echo "== unit tests, corpus replays and integration scenarios under ASan/UBSan (clang, build-fuzz)"
  ./scripts/fuzz.sh --build-only
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-fuzz --output-on-failure -j2 --timeout 900
  # ThreadSanitizer: only the binary is built (the scenarios are what cross threads: event
  # loops, the spool's sync thread, the pipeline, the HTTP client's threads).
  echo "== integration scenarios under TSan (clang, build-tsan)"
  if [ ! -f build-tsan/build.ninja ]; then
    CC=clang CXX=clang++ cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DMXGATE_TSAN=ON -DMXGATE_TESTS=ON -DMXGATE_BENCH=OFF
  fi
  ninja -C build-tsan mxgate
  TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1" \
    ctest --test-dir build-tsan --output-on-failure --timeout 900 -R "${MXGATE_TSAN_TESTS:-^integration\.}"
fi
if [ "${MXGATE_FUZZ_SECONDS:-20}" != "0" ]; then
  echo "== fuzz (${MXGATE_FUZZ_SECONDS:-20}s per target)"
  ./scripts/fuzz.sh "${MXGATE_FUZZ_SECONDS:-20}"
fi
echo "== all tests passed"
