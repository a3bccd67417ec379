#!/usr/bin/env bash
# Builds every libFuzzer target with clang + ASan/UBSan into ./build-fuzz (scripts/test.sh
# also builds the mxgate binary there and runs the integration scenarios on it) and runs each target for
# N seconds (default 20) over a scratch copy of its corpus (fuzz/corpus/<target>). A crash
# fails the run and leaves the reproducer in build-fuzz/crashes/<target>/: add it to the
# corpus once fixed, so the normal test run replays it.
# Usage: scripts/fuzz.sh [SECONDS | --build-only]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-20}
BUILD=build-fuzz
if [ ! -f "$BUILD/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMXGATE_FUZZ=ON -DMXGATE_TESTS=ON -DMXGATE_BENCH=OFF
fi
targets=$(find fuzz -name CMakeLists.txt -path 'fuzz/*/*' -exec grep -ho 'mx_add_fuzzer([a-z0-9_]*' {} + | sed 's/mx_add_fuzzer(//')
# Only the targets this build defines (a backend switched off takes its parsers' targets with it).
built=$(ninja -C "$BUILD" -t targets all | sed -n 's/^\([a-z0-9_]*_fuzz\): .*/\1/p' | sort -u)
targets=$(comm -12 <(echo "$targets" | tr ' ' '\n' | sort -u) <(echo "$built"))
# shellcheck disable=SC2086
ninja -C "$BUILD" $targets
[ "$SECONDS_PER_TARGET" = "--build-only" ] && exit 0
# One target per core at a time (each fuzzer is one process); their output is printed in
# target order once all have run.
run_one() {
  local t=$1 bin work crashes
  bin=$(find "$BUILD" -type f -name "$t" -perm -u+x | head -1)
  work="$BUILD/work/$t"; crashes="$BUILD/crashes/$t"
  rm -rf "$work" "$BUILD/$t.failed"; mkdir -p "$work" "$crashes"
  [ -d "fuzz/corpus/$t" ] && cp -r "fuzz/corpus/$t/." "$work/"
  {
    echo "-- $t"
    if ! "$bin" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=4096 -artifact_prefix="$crashes/" "$work" 2>"$BUILD/$t.log"; then
      echo "FUZZ FAILURE in $t (see $BUILD/$t.log and $crashes/)"; tail -40 "$BUILD/$t.log"
      touch "$BUILD/$t.failed"
    fi
    { grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$BUILD/$t.log" || true; } | tr '\n' ' '; echo
  } >"$BUILD/$t.summary" 2>&1
}
jobs_max=$(nproc)
for t in $targets; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  run_one "$t" &
done
wait
status=0
for t in $targets; do
  cat "$BUILD/$t.summary"
  [ ! -e "$BUILD/$t.failed" ] || status=1
done
exit $status
