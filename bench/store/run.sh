#!/usr/bin/env bash
# Store benchmark: end-to-end msgs/s of mxgate (250 + stored + published) with the local
# store and with store.backend = "s3" pointed at bench/store/s3_sink (a local S3-compatible
# endpoint that verifies x-amz-checksum-sha256 and keeps nothing), in the same run,
# alternating, at 1 KiB and 100 KiB, loaded by `mxgate bench` (bench/smtp's approach). Also
# mxgate's CPU per message (utime + stime from /proc/PID/stat, from the first message to the
# last event), so the cost of signing, hashing and HTTP is visible apart from the wall clock.
#
# Usage: bench/store/run.sh [quick]
#   MXGATE_BENCH_MESSAGES (default 10000), MXGATE_BENCH_SESSIONS (50),
#   MXGATE_BENCH_RUNS (3: the median is reported; local and s3 runs alternate).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
MXGATE=${MXGATE_TEST_BIN:-$ROOT/build/src/app/mxgate}
SINK=${MXGATE_BENCH_S3_SINK:-$ROOT/build/bench/store/s3_sink}
MSGS=${MXGATE_BENCH_MESSAGES:-10000}
SESS=${MXGATE_BENCH_SESSIONS:-50}
RUNS=${MXGATE_BENCH_RUNS:-3}
if [ "${1:-}" = quick ]; then MSGS=2000; RUNS=1; fi
[ -x "$SINK" ] || { echo "missing $SINK: nice -n 10 ninja -C build s3_sink"; exit 1; }
WORK=$(mktemp -d /tmp/mxgate-store-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (echo >/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

start_sink() {  # $1 = dir -> SINKPORT, SINKPID
  mkdir -p "$1"
  SINKPORT=$(port)
  "$SINK" --port "$SINKPORT" --stats-file "$1/sink.stats" > "$1/sink.out" 2>&1 &
  SINKPID=$!
  PIDS+=($SINKPID)
  wait_port "$SINKPORT"
}

start_mxgate() {  # $1 = dir, $2 = local|s3|s3ack -> MXPORT, MXPID
  mkdir -p "$1"
  MXPORT=$(port)
  local store="[store]
dir = \"$1/store\""
  if [ "$2" = s3 ] || [ "$2" = s3ack ]; then
    store="[store]
backend = \"s3\"
[store.s3]
bucket = \"bench\"
region = \"us-east-1\"
endpoint = \"http://127.0.0.1:$SINKPORT\"
addressing = \"path\"
access_key_id = \"bench\"
secret_access_key = \"bench\""
    [ "$2" = s3ack ] && store="$store
ack_after = \"store\""
  fi
  cat > "$1/mxgate.toml" <<CFG
[server]
hostname = "bench.mxgate.test"
max_connections = 19500
max_connections_per_ip = 20000
[spool]
dir = "$1/spool"
$store
[events]
file = "$1/events.jsonl"
[http]
listen = "127.0.0.1:$(port)"
[log]
file = "$1/mxgate.log"
[tls]
cert_file = "$1/cert.pem"
key_file = "$1/key.pem"
[[listener]]
name = "smtp"
listen = "127.0.0.1:$MXPORT"
[[tenant]]
name = "bench"
domains = ["example.test"]
CFG
  "$MXGATE" serve -c "$1/mxgate.toml" 2>>"$1/stderr.log" &
  MXPID=$!
  PIDS+=($MXPID)
  wait_port "$MXPORT"
}

one_run() {  # $1 = local|s3|s3ack, $2 = size, $3 = dir -> "msgs_per_s cpu_ms_per_msg p50_ms p99_ms"
  local dir=$3 t0 t1 c0 c1 n
  [ "$1" != local ] && start_sink "$dir"
  start_mxgate "$dir" "$1"
  c0=$(cpu_ticks "$MXPID")
  t0=$(date +%s.%N)
  "$MXGATE" bench -q --server 127.0.0.1:$MXPORT --sessions "$SESS" --messages "$MSGS" --size "$2" --threads 1 > "$dir/bench.txt"
  n=$(awk '/^messages_accepted/ {print $2}' "$dir/bench.txt")
  for _ in $(seq 3000); do [ "$(wc -l < "$dir/events.jsonl" 2>/dev/null || echo 0)" -ge "$n" ] && break; sleep 0.05; done
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$MXPID")
  local got; got=$(wc -l < "$dir/events.jsonl")
  kill -TERM "$MXPID"; wait "$MXPID" || true
  if [ "$1" != local ]; then
    kill -TERM "$SINKPID"; wait "$SINKPID" 2>/dev/null || true
    cp "$dir/sink.stats" "$WORK/last-sink.stats"
  fi
  [ "$got" -ge "$n" ] || { echo "only $got of $n events in $dir" >&2; exit 1; }
  # `mxgate bench` prints "latency_ms p50 X p99 Y p999 Z" (end of data -> 250).
  local p50 p99
  read -r p50 p99 < <(awk '/latency_ms/ {for (i = 1; i < NF; i++) {if ($i == "p50") a = $(i+1); if ($i == "p99") b = $(i+1)}} END {print a, b}' "$dir/bench.txt")
  python3 -c "
tick = 1000.0 / $(getconf CLK_TCK)
print(round($n / ($t1 - $t0), 1), round(($c1 - $c0) * tick / $n, 3), '$p50', '$p99')"
}

echo "mxgate store benchmark — $(date -u +%FT%TZ), $(nproc) cores, messages=$MSGS sessions=$SESS runs=$RUNS"
echo "end to end: 250 + objects stored (raw .eml + parsed .json) + event published; local = ext4 store (syncfs per batch),"
echo "s3 = S3 PutObject to bench/store/s3_sink on loopback (checksums verified, nothing kept, no signature check)"
printf '%-10s %14s %14s %8s %16s %16s\n' "size" "local msgs/s" "s3 msgs/s" "s3/local" "local CPU ms/msg" "s3 CPU ms/msg"
for size in 1024 102400; do
  lm=(); sm=(); lc=(); sc=()
  for r in $(seq "$RUNS"); do
    # Alternate which goes first, so a noisy neighbour hits both alike.
    order="local s3"; [ $((r % 2)) -eq 0 ] && order="s3 local"
    for b in $order; do
      read -r m c _ _ < <(one_run "$b" "$size" "$WORK/$b-$size-$r")
      if [ "$b" = local ]; then lm+=("$m"); lc+=("$c"); else sm+=("$m"); sc+=("$c"); fi
      rm -rf "$WORK/$b-$size-$r"
    done
  done
  L=$(printf '%s\n' "${lm[@]}" | median); S=$(printf '%s\n' "${sm[@]}" | median)
  LC=$(printf '%s\n' "${lc[@]}" | median); SC=$(printf '%s\n' "${sc[@]}" | median)
  printf '%-10s %14s %14s %8s %16s %16s\n' "$((size / 1024)) KiB" "$L" "$S" "$(python3 -c "print(f'{$S/$L:.2f}x')")" "$LC" "$SC"
  echo "    local runs: ${lm[*]}   s3 runs: ${sm[*]}"
  echo "    sink, last s3 run: $(cat "$WORK/last-sink.stats")"
done
echo
echo "ack_after = \"store\" (250 only once the sink acknowledged the raw message), same sink, end to end:"
printf '%-10s %14s %16s %14s %14s\n' "size" "msgs/s" "CPU ms/msg" "250 p50 ms" "250 p99 ms"
for size in 1024 102400; do
  am=(); ac=(); a50=(); a99=()
  for r in $(seq "$RUNS"); do
    read -r m c p50 p99 < <(one_run s3ack "$size" "$WORK/s3ack-$size-$r")
    am+=("$m"); ac+=("$c"); a50+=("$p50"); a99+=("$p99")
    rm -rf "$WORK/s3ack-$size-$r"
  done
  printf '%-10s %14s %16s %14s %14s\n' "$((size / 1024)) KiB" "$(printf '%s\n' "${am[@]}" | median)" \
    "$(printf '%s\n' "${ac[@]}" | median)" "$(printf '%s\n' "${a50[@]}" | median)" "$(printf '%s\n' "${a99[@]}" | median)"
  echo "    runs: ${am[*]}   p99s: ${a99[*]}"
done
