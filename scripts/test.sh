#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what the tests need
# (apt packages), builds, runs every ctest test (unit, transcript, fuzz-corpus replay,
# integration against real clients and HAProxy/Postfix), then a brief libFuzzer run of
# every fuzz target under ASan/UBSan. .ci/run calls exactly this.
#   MXGATE_FUZZ_SECONDS  seconds per fuzz target (default 20; 0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
echo "== ctest"
ctest --test-dir "${MXGATE_BUILD_DIR:-build}" --output-on-failure -j2 --timeout 900
if [ "${MXGATE_FUZZ_SECONDS:-20}" != "0" ]; then
  echo "== fuzz (${MXGATE_FUZZ_SECONDS:-20}s per target)"
  ./scripts/fuzz.sh "${MXGATE_FUZZ_SECONDS:-20}"
fi
echo "== all tests passed"
