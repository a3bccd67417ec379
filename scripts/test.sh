#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what the tests need
# (apt packages), builds, runs every ctest test (unit, transcript, fuzz-corpus replay,
# integration against real clients and HAProxy/Postfix), then a brief libFuzzer run of
# every fuzz target under ASan/UBSan. .ci/run calls exactly this.
#   MXGATE_FUZZ_SECONDS    seconds per fuzz target (default 20; 0 skips fuzzing)
#   MXGATE_TEST_SANITIZE   1 (default): also run the unit tests and fuzz-corpus replays
#                          built with clang + ASan/UBSan (./build-fuzz); 0 skips
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
echo "== ctest"
ctest --test-dir "${MXGATE_BUILD_DIR:-build}" --output-on-failure -j2 --timeout 900
if [ "${MXGATE_TEST_SANITIZE:-1}" != "0" ]; then
  # One clang build with ASan/UBSan serves both the sanitizer run of the unit tests (with
  # every fuzz-corpus replay) and the fuzzers below.
  echo "== unit tests and corpus replays under ASan/UBSan (clang, build-fuzz)"
  ./scripts/fuzz.sh --build-only
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-fuzz --output-on-failure -j2 --timeout 900 -E '^integration\.'
fi
if [ "${MXGATE_FUZZ_SECONDS:-20}" != "0" ]; then
  echo "== fuzz (${MXGATE_FUZZ_SECONDS:-20}s per target)"
  ./scripts/fuzz.sh "${MXGATE_FUZZ_SECONDS:-20}"
fi
echo "== all tests passed"
