#!/usr/bin/env bash
# bench/mime/run.sh — mxgate's MIME parser against GMime 3 on one core and on all cores,
# same corpus, same run. Generates two corpora with ../shared/tools/mime/gen_corpus.py into a temp dir:
#   large: --seed 7 --target-mb 200 (all messages)
#   small: --seed 11 --n 8000, messages <= 32 KB only
# then runs each implementation RUNS times per corpus (after a warm-up pass; medians are
# reported), alternating mxgate and GMime so both see the same machine load, and prints
# MB/s, msgs/s and the ratio. Finally times the pathological inputs.
# Usage: bench/mime/run.sh [BUILD_DIR] (default build-mime); RUNS=5 ROUNDS=3 by default.
# Skips, saying so, when ../shared (or MXGATE_SHARED_DIR) is absent.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$SRC/build-mime}
SHARED=${MXGATE_SHARED_DIR:-$SRC/../shared}
GEN="$SHARED/tools/mime/gen_corpus.py"
RUNS=${RUNS:-5}
CORES=${CORES:-$(nproc)}
ROUNDS=${ROUNDS:-3}
PYTHON=${PYTHON:-python3}
if [ ! -f "$GEN" ]; then
  echo "bench/mime: $GEN not found (set MXGATE_SHARED_DIR); skipping the MIME benchmark"
  exit 0
fi
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
ninja -C "$BUILD" mime_bench gmime_bench >/dev/null
MX=$(find "$BUILD" -type f -name mime_bench -perm -u+x | head -1)
GM=$(find "$BUILD" -type f -name gmime_bench -perm -u+x | head -1)
[ -n "$MX" ] || { echo "bench/mime: mime_bench was not built (OpenSSL missing?)"; exit 1; }
[ -n "$GM" ] || { echo "bench/mime: gmime_bench was not built (libgmime-3.0-dev missing?)"; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$PYTHON" "$GEN" --out "$TMP/large" --seed 7 --target-mb 200 2>/dev/null
"$PYTHON" "$GEN" --out "$TMP/small" --seed 11 --n 8000 2>/dev/null

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "gmime: $(pkg-config --modversion gmime-3.0 2>/dev/null || echo '?'); runs per round: $RUNS; rounds: $ROUNDS; all cores: $CORES"

# field NAME LINE -> value of NAME=... in a RESULT line
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# One RESULT line's median_s: run IMPL-BINARY ARGS...
median_of() { "$@" | grep '^RESULT'; }

bench_corpus() {
  local label=$1 dir=$2 maxsize=$3
  local -a gm1=() gmn=() same1=() full1=() fulln=() parse1=()
  local line bytes msgs
  for ((r = 0; r < ROUNDS; r++)); do
    line=$(median_of "$GM" --runs="$RUNS" --threads=1 --max-size="$maxsize" "$dir")
    gm1+=("$(field median_s "$line")"); bytes=$(field bytes "$line"); msgs=$(field msgs "$line")
    line=$(median_of "$MX" --mode=full --runs="$RUNS" --threads=1 --max-size="$maxsize" "$dir")
    full1+=("$(field median_s "$line")")
    line=$(median_of "$GM" --runs="$RUNS" --threads="$CORES" --max-size="$maxsize" "$dir")
    gmn+=("$(field median_s "$line")")
    line=$(median_of "$MX" --mode=full --runs="$RUNS" --threads="$CORES" --max-size="$maxsize" "$dir")
    fulln+=("$(field median_s "$line")")
    line=$(median_of "$MX" --mode=nohash --runs="$RUNS" --threads=1 --max-size="$maxsize" "$dir")
    same1+=("$(field median_s "$line")")
    line=$(median_of "$MX" --mode=parse --runs="$RUNS" --threads=1 --max-size="$maxsize" "$dir")
    parse1+=("$(field median_s "$line")")
  done
  local g gn s f fn p
  g=$(printf '%s\n' "${gm1[@]}" | median)
  gn=$(printf '%s\n' "${gmn[@]}" | median)
  s=$(printf '%s\n' "${same1[@]}" | median)
  f=$(printf '%s\n' "${full1[@]}" | median)
  fn=$(printf '%s\n' "${fulln[@]}" | median)
  p=$(printf '%s\n' "${parse1[@]}" | median)
  echo
  echo "== $label: $msgs messages, $bytes bytes"
  awk -v b="$bytes" -v m="$msgs" -v c="$CORES" -v g="$g" -v gn="$gn" -v f="$f" -v fn="$fn" \
      -v s="$s" -v p="$p" 'BEGIN {
    printf "%-52s %9s %11s %8s\n", "implementation (median of rounds)", "MB/s", "msgs/s", "x GMime";
    printf "%-52s %9.1f %11.0f %8.2f\n", "GMime 3, 1 core (walk, decode, UTF-8, filenames)", b/1e6/g, m/g, 1;
    printf "%-52s %9.1f %11.0f %8.2f\n", "mxgate full, 1 core (+ JSON, SHA-256 raw and atts)", b/1e6/f, m/f, g/f;
    printf "%-52s %9.1f %11.0f %8.2f\n", "GMime 3, " c " cores", b/1e6/gn, m/gn, g/gn;
    printf "%-52s %9.1f %11.0f %8.2f\n", "mxgate full, " c " cores", b/1e6/fn, m/fn, g/fn;
    printf "%-52s %9.1f %11.0f %8.2f\n", "mxgate same work as GMime + JSON, 1 core", b/1e6/s, m/s, g/s;
    printf "%-52s %9.1f %11.0f %8.2f\n", "mxgate parse+decode only, 1 core", b/1e6/p, m/p, g/p;
    printf "(x GMime: against GMime on 1 core; %s cores vs %s cores: %.2f)\n", c, c, gn/fn;
  }'
}

bench_corpus "large corpus (gen_corpus.py --seed 7 --target-mb 200)" "$TMP/large" 0
bench_corpus "small messages (gen_corpus.py --seed 11 --n 8000, <= 32 KB)" "$TMP/small" 32768

echo
echo "== pathological inputs (mxgate, median of $RUNS)"
"$MX" --pathological --runs="$RUNS" | sed 's/^PATHOLOGICAL //'
