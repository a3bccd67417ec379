#!/usr/bin/env bash
# bench/mime/run.sh — mxgate's MIME parser against GMime 3, single core, same corpus, same
# run. Generates two corpora with ../shared/tools/mime/gen_corpus.py into a temp dir:
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
echo "gmime: $(pkg-config --modversion gmime-3.0 2>/dev/null || echo '?'); runs per round: $RUNS; rounds: $ROUNDS"

# field NAME LINE -> value of NAME=... in a RESULT line
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

bench_corpus() {
  local label=$1 dir=$2 maxsize=$3
  local -a gm_s=() full_s=() same_s=() parse_s=()
  local line bytes msgs
  for ((r = 0; r < ROUNDS; r++)); do
    line=$("$GM" --runs="$RUNS" --max-size="$maxsize" "$dir" | grep '^RESULT')
    gm_s+=("$(field median_s "$line")"); bytes=$(field bytes "$line"); msgs=$(field msgs "$line")
    line=$("$MX" --mode=full --runs="$RUNS" --max-size="$maxsize" "$dir" | grep '^RESULT')
    full_s+=("$(field median_s "$line")")
    line=$("$MX" --mode=nohash --runs="$RUNS" --max-size="$maxsize" "$dir" | grep '^RESULT')
    same_s+=("$(field median_s "$line")")
    line=$("$MX" --mode=parse --runs="$RUNS" --max-size="$maxsize" "$dir" | grep '^RESULT')
    parse_s+=("$(field median_s "$line")")
  done
  local g f s p
  g=$(printf '%s\n' "${gm_s[@]}" | median)
  f=$(printf '%s\n' "${full_s[@]}" | median)
  s=$(printf '%s\n' "${same_s[@]}" | median)
  p=$(printf '%s\n' "${parse_s[@]}" | median)
  echo
  echo "== $label: $msgs messages, $bytes bytes"
  awk -v b="$bytes" -v m="$msgs" -v g="$g" -v f="$f" -v s="$s" -v p="$p" 'BEGIN {
    printf "%-44s %9s %11s %8s\n", "implementation (median of rounds)", "MB/s", "msgs/s", "x GMime";
    printf "%-44s %9.1f %11.0f %8.2f\n", "GMime 3 (walk, decode, UTF-8, filenames)", b/1e6/g, m/g, 1;
    printf "%-44s %9.1f %11.0f %8.2f\n", "mxgate same work + JSON (no hashing)", b/1e6/s, m/s, g/s;
    printf "%-44s %9.1f %11.0f %8.2f\n", "mxgate full: + SHA-256 attachments and raw", b/1e6/f, m/f, g/f;
    printf "%-44s %9.1f %11.0f %8.2f\n", "mxgate parse+decode only (no JSON)", b/1e6/p, m/p, g/p;
  }'
}

bench_corpus "large corpus (gen_corpus.py --seed 7 --target-mb 200)" "$TMP/large" 0
bench_corpus "small messages (gen_corpus.py --seed 11 --n 8000, <= 32 KB)" "$TMP/small" 32768

echo
echo "== pathological inputs (mxgate, median of $RUNS)"
"$MX" --pathological --runs="$RUNS" | sed 's/^PATHOLOGICAL //'
