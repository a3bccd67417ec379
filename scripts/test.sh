#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what the tests need
# (apt packages), builds, checks style (clang-format on changed lines, clang-tidy on src/),
# runs every ctest test (unit, transcript, fuzz-corpus replay, integration against real
# clients, HAProxy, Postfix, moto, Kafka's mock cluster, redis-server), then under
# sanitizers: the integration scenarios against an ASan/UBSan build of mxgate, the threaded
# scenarios once more on a ThreadSanitizer build, and a brief libFuzzer run (ASan/UBSan)
# of every fuzz target. .ci/run calls exactly this.
#   MXGATE_FUZZ_SECONDS    seconds per fuzz target (default 6; 0 skips fuzzing)
#   MXGATE_TEST_SANITIZE   1 (default): the ASan/UBSan (./build-fuzz) and TSan (./build-tsan)
#                          runs; 0 skips both
#   MXGATE_TEST_STYLE      1 (default): scripts/check-style.sh; 0 skips it
#   MXGATE_TSAN_TESTS      ctest regex of the scenarios run on the TSan build (default: the
#                          ones whose threads share state: server loops, pipeline, outbox
#                          dispatchers, HTTP client; not the single-threaded client matrices)
set -euo pipefail
cd "$(dirname "$0")/.."
# Each phase's wall time, so the CI budget (30 min) can be watched: "== [mm:ss] phase".
phase() { printf '== [%02d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$1"; }
./scripts/install-deps.sh
phase "build"
# A build directory made here gets line-table debug info only (-g1): full -g costs about a
# third of the compile time of the Beast- and gtest-heavy files, and CI needs no more than
# file:line in a backtrace. An existing build directory keeps its own flags.
./scripts/build.sh -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
tidy_pid=""
if [ "${MXGATE_TEST_STYLE:-1}" != "0" ]; then
  phase "style: clang-format now, clang-tidy at low priority alongside ctest"
  ./scripts/check-style.sh --format-only
  # The ctest and sanitizer phases wait on sleeping scenarios (a webhook down for 20 s, S3
  # away, kill -9 and restart) much of their time: clang-tidy fills that idle CPU at nice 19
  # instead of taking a phase of its own. Its findings fail the run at the end.
  tidy_log=$(mktemp)
  nice -n 19 ./scripts/check-style.sh --tidy-only >"$tidy_log" 2>&1 &
  tidy_pid=$!
fi
phase "ctest"
ctest_status=0
ctest --test-dir "${MXGATE_BUILD_DIR:-build}" --output-on-failure -j2 --timeout 900 || ctest_status=$?
if [ "$ctest_status" -ne 0 ]; then
  [ -z "$tidy_pid" ] || kill "$tidy_pid" 2>/dev/null || true
  echo "ctest failed (above)"
  exit "$ctest_status"
fi
# clang-tidy goes on at nice 19 through the sanitizer phases below (their scenarios also wait
# much of the time); its verdict is read at the end.
if [ "${MXGATE_TEST_SANITIZE:-1}" != "0" ]; then
  # One clang build with ASan/UBSan serves the integration scenarios (its own mxgate
  # binary: a sanitizer report in the server's stderr fails the scenario, see
  # tests/integration/harness.py) and the fuzzers below (which also run every corpus file
  # under the sanitizers). The unit tests are not rebuilt there: a second full build of
  # them cost ~8 minutes of the 30-minute budget for little the fuzzers and scenarios miss.
  phase "integration scenarios under ASan/UBSan (clang, build-fuzz)"
  ./scripts/fuzz.sh --build-only
  extra=$(ninja -C build-fuzz -t targets all | grep -q '^kafka_mock_cluster:' && echo kafka_mock_cluster || true)
  # mxgate-lambda too: test_lambda runs it under the sanitizers.
  lambda=$(ninja -C build-fuzz -t targets all | grep -q "^mxgate-lambda:" && echo mxgate-lambda || true)
  ninja -C build-fuzz mxgate $extra $lambda
  # ThreadSanitizer: only the binary is built (the scenarios are what cross threads: event
  # loops, the spool's sync thread, the pipeline, the HTTP client's threads). It is built at
  # nice 19 while the ASan scenarios run (they mostly wait on sockets and sleeps).
  if [ ! -f build-tsan/build.ninja ]; then
    # Without the Kafka sink: librdkafka starts its threads with glibc's C11 thrd_create, which
    # TSan 14 does not intercept, and its allocator then crashes in them (test_event_sinks
    # runs its other sinks there).
    CC=clang CXX=clang++ cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DMXGATE_TSAN=ON -DMXGATE_TESTS=ON -DMXGATE_BENCH=OFF -DMXGATE_WITH_EVENTS_KAFKA=OFF >/dev/null
  fi
  tsan_log=$(mktemp)
  nice -n 19 ninja -C build-tsan mxgate >"$tsan_log" 2>&1 &
  tsan_pid=$!
  # The sanitized pipeline is several times slower: the event and S3 scenarios send fewer
  # messages and the S3 outage is shorter (the normal build runs them at full size).
  asan_status=0
  MXGATE_TEST_ISOLATION_MESSAGES=500 MXGATE_TEST_S3_MESSAGES=100 MXGATE_TEST_S3_OUTAGE_SECONDS=5 \
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-fuzz --output-on-failure --timeout 900 -R '^integration\.' || asan_status=$?
  phase "integration scenarios under TSan (clang, build-tsan)"
  tsan_build=0
  wait "$tsan_pid" || tsan_build=$?
  tail -3 "$tsan_log"
  if [ "$tsan_build" -ne 0 ] || [ "$asan_status" -ne 0 ]; then
    [ "$tsan_build" -eq 0 ] || cat "$tsan_log"
    [ -z "$tidy_pid" ] || kill "$tidy_pid" 2>/dev/null || true
    echo "ASan scenarios (status $asan_status) or the TSan build (status $tsan_build) failed (above)"
    exit 1
  fi
  rm -f "$tsan_log"
  # server_behaviour: the event loops, lanes, the spool's sync thread, drain; event_sinks: the
  # pipeline thread, every outbox dispatcher, the HTTP client's threads (webhook, SQS, STS),
  # and kill -9/restart. The other scenarios add client matrices, not threads.
  TSAN_DEFAULT='^integration\.(test_server_behaviour|test_event_sinks)$'
  MXGATE_TEST_ISOLATION_MESSAGES=500 TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1" \
    ctest --test-dir build-tsan --output-on-failure --timeout 900 -R "${MXGATE_TSAN_TESTS:-$TSAN_DEFAULT}"
fi
if [ "${MXGATE_FUZZ_SECONDS:-6}" != "0" ]; then
  phase "fuzz (${MXGATE_FUZZ_SECONDS:-6}s per target, one per core)"
  ./scripts/fuzz.sh "${MXGATE_FUZZ_SECONDS:-6}"
fi
if [ -n "$tidy_pid" ]; then
  phase "style: waiting for clang-tidy"
  tidy_status=0
  wait "$tidy_pid" || tidy_status=$?
  cat "$tidy_log"
  rm -f "$tidy_log"
  [ "$tidy_status" -eq 0 ] || { echo "clang-tidy found problems (above)"; exit 1; }
fi
phase "all tests passed"
