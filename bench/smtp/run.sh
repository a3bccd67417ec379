#!/usr/bin/env bash
# SMTP throughput, latency and idle-connection benchmark: mxgate (durable: spool fdatasync
# with group commit, pipeline storing raw + events) against Postfix's smtp-sink (the
# protocol-only ceiling: no storage), in the same run, loaded by `mxgate bench` and by
# Postfix's smtp-source. Prints each figure and the ratio mxgate / smtp-sink.
#
# Usage: bench/smtp/run.sh [quick]
#   MXGATE_BENCH_MESSAGES (default 30000), MXGATE_BENCH_SESSIONS (50),
#   MXGATE_BENCH_RUNS (3, the median is reported), MXGATE_BENCH_IDLE (19000),
#   MXGATE_BENCH_STORE_DIR (unset: the store sits beside the spool; set it to put the
#   pipeline's store on another filesystem, e.g. /dev/shm, to see the disk contention).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
MXGATE=${MXGATE_TEST_BIN:-$ROOT/build/src/app/mxgate}
MSGS=${MXGATE_BENCH_MESSAGES:-30000}
SESS=${MXGATE_BENCH_SESSIONS:-50}
RUNS=${MXGATE_BENCH_RUNS:-3}
IDLE=${MXGATE_BENCH_IDLE:-19000}
if [ "${1:-}" = quick ]; then MSGS=3000; RUNS=1; IDLE=2000; fi
command -v smtp-sink >/dev/null || { echo "smtp-sink missing: run scripts/install-deps.sh"; exit 1; }
WORK=$(mktemp -d /tmp/mxgate-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
  if [ -n "${MXGATE_BENCH_STORE_DIR:-}" ]; then rm -rf "$MXGATE_BENCH_STORE_DIR"/mx-* "$MXGATE_BENCH_STORE_DIR"/rx-* "$MXGATE_BENCH_STORE_DIR"/idle; fi
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

start_mxgate() {  # $1 = smtp port, $2 = http port, $3 = dir [, $4 = pipeline on: true|false]
  mkdir -p "$3"
  local store="$3/store"
  if [ -n "${MXGATE_BENCH_STORE_DIR:-}" ]; then
    # Only the current run's store is kept: a tmpfs holds one run, not all of them.
    rm -rf "$MXGATE_BENCH_STORE_DIR"/mx-* "$MXGATE_BENCH_STORE_DIR"/rx-* "$MXGATE_BENCH_STORE_DIR"/idle
    store="$MXGATE_BENCH_STORE_DIR/$(basename "$3")"
  fi
  cat > "$3/mxgate.toml" <<CFG
[server]
hostname = "bench.mxgate.test"
max_connections = 19500
max_connections_per_ip = 20000
[pipeline]
enabled = ${4:-true}
[spool]
dir = "$3/spool"
[store]
dir = "$store"
[events]
file = "$3/events.jsonl"
[http]
listen = "127.0.0.1:$2"
[log]
file = "$3/mxgate.log"
[tls]
cert_file = "$3/cert.pem"
key_file = "$3/key.pem"
[[listener]]
name = "smtp"
listen = "127.0.0.1:$1"
[[tenant]]
name = "bench"
domains = ["example.test"]
CFG
  "$MXGATE" serve -c "$3/mxgate.toml" 2>>"$3/stderr.log" &
  MXPID=$!
  PIDS+=($MXPID)
  wait_port "$1"
}

start_sink() {  # $1 = port
  smtp-sink -u nobody -c 127.0.0.1:$1 1024 >/dev/null 2>&1 &
  SINKPID=$!
  PIDS+=($SINKPID)
  wait_port "$1"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime

mxbench() {  # $1 port, $2 size [, $3 events file] -> msgs/s ; full output in $WORK/last.txt
  local t0 t1 n c0 c1
  [ -n "${3:-}" ] && c0=$(cpu_ticks "$MXPID")
  t0=$(date +%s.%N)
  "$MXGATE" bench -q --server 127.0.0.1:$1 --sessions "$SESS" --messages "$MSGS" --size "$2" --threads 1 > "$WORK/last.txt"
  if [ -n "${3:-}" ]; then
    # End to end: until the pipeline has stored, parsed and published every message.
    n=$(awk '/^messages_accepted/ {print $2}' "$WORK/last.txt")
    for _ in $(seq 1200); do [ "$(wc -l < "$3" 2>/dev/null || echo 0)" -ge "$n" ] && break; sleep 0.1; done
    t1=$(date +%s.%N)
    c1=$(cpu_ticks "$MXPID")
    echo "pipeline_end_to_end_msgs_per_s $(python3 -c "print(round($n / ($t1 - $t0), 1))")" >> "$WORK/last.txt"
    # mxgate's own CPU (all threads: SMTP, spool, pipeline), all in, per message.
    echo "mxgate_cpu_ms_per_msg $(python3 -c "print(round(($c1 - $c0) * 1000.0 / $(getconf CLK_TCK) / $n, 3))")" >> "$WORK/last.txt"
  fi
  awk '/^msgs_per_s/ {print $2}' "$WORK/last.txt"
}

srcbench() {  # $1 port, $2 size -> msgs/s measured around smtp-source
  local n=$MSGS t0 t1
  t0=$(date +%s.%N)
  # -d: keep each session for many messages, as mxgate bench and real MTAs' caches do.
  smtp-source -d -s "$SESS" -m "$n" -l "$2" -f bench@loadgen.test -t bench@example.test 127.0.0.1:$1
  t1=$(date +%s.%N)
  python3 -c "print(round($n / ($t1 - $t0), 1))"
}

echo "mxgate SMTP benchmark — $(date -u +%FT%TZ), $(nproc) cores, messages=$MSGS sessions=$SESS runs=$RUNS"
echo "mxgate: durable (fdatasync group commit) + pipeline (raw store + events); smtp-sink: no storage"
printf '%-34s %12s %12s %8s\n' "case" "mxgate" "smtp-sink" "ratio"
for size in 1024 102400; do
  for loader in mxgate-bench smtp-source; do
    mx=(); sk=()
    for r in $(seq "$RUNS"); do
      P=$(port); H=$(port); start_mxgate "$P" "$H" "$WORK/mx-$size-$loader-$r"
      if [ $loader = mxgate-bench ]; then mx+=($(mxbench "$P" "$size" "$WORK/mx-$size-$loader-$r/events.jsonl")); cp "$WORK/last.txt" "$WORK/mx-lat-$size-$r.txt"; else mx+=($(srcbench "$P" "$size")); fi
      kill -TERM "$MXPID"; wait "$MXPID" || true
      S=$(port); start_sink "$S"
      if [ $loader = mxgate-bench ]; then sk+=($(mxbench "$S" "$size")); cp "$WORK/last.txt" "$WORK/sk-lat-$size-$r.txt"; else sk+=($(srcbench "$S" "$size")); fi
      kill "$SINKPID"; wait "$SINKPID" 2>/dev/null || true
    done
    m=$(printf '%s\n' "${mx[@]}" | median); s=$(printf '%s\n' "${sk[@]}" | median)
    printf '%-34s %12s %12s %8s\n' "$((size/1024)) KiB msgs/s via $loader" "$m" "$s" "$(python3 -c "print(f'{$m/$s:.2f}x')")"
    if [ $loader = mxgate-bench ]; then
      echo "    mxgate latency (end-of-data -> 250): $(grep latency "$WORK/mx-lat-$size-1.txt")"
      echo "    smtp-sink latency:                  $(grep latency "$WORK/sk-lat-$size-1.txt")"
      echo "    mxgate end to end (250 + stored + parsed + event), run 1: $(awk '/pipeline_end_to_end/ {print $2}' "$WORK/mx-lat-$size-1.txt") msgs/s"
      echo "    mxgate CPU per message, all in (median of runs): $(cat "$WORK"/mx-lat-$size-*.txt | awk '/mxgate_cpu_ms_per_msg/ {print $2}' | median) ms"
    fi
  done
done

echo "-- reception alone (pipeline off: durable spool, no store/parse/events), 1 KiB, mxgate bench"
mx=(); sk=()
for r in $(seq "$RUNS"); do
  P=$(port); H=$(port); start_mxgate "$P" "$H" "$WORK/rx-$r" false
  mx+=($(mxbench "$P" 1024)); kill -TERM "$MXPID"; wait "$MXPID" || true
  S=$(port); start_sink "$S"; sk+=($(mxbench "$S" 1024)); kill "$SINKPID"; wait "$SINKPID" 2>/dev/null || true
done
m=$(printf '%s\n' "${mx[@]}" | median); s=$(printf '%s\n' "${sk[@]}" | median)
printf '%-34s %12s %12s %8s\n' "1 KiB msgs/s, reception only" "$m" "$s" "$(python3 -c "print(f'{$m/$s:.2f}x')")"

echo "-- idle connections: $IDLE held, then EHLO probes on new connections"
P=$(port); H=$(port); start_mxgate "$P" "$H" "$WORK/idle"
rss0=$(awk '/VmRSS/ {print $2}' /proc/$MXPID/status)
MXGATE_BENCH_HOLD_SECONDS=3 "$MXGATE" bench -q --server 127.0.0.1:$P --idle "$IDLE" --idle-probes 200 > "$WORK/idle.txt" &
BPID=$!
for _ in $(seq 600); do grep -q holding "$WORK/idle.txt" 2>/dev/null && break; sleep 0.2; done
rss1=$(awk '/VmRSS/ {print $2}' /proc/$MXPID/status)
wait $BPID || true
cat "$WORK/idle.txt" | grep -v holding
held=$(awk '/idle_connections_held/ {print $2}' "$WORK/idle.txt")
python3 -c "print(f'mxgate RSS: {$rss0} KiB before, {$rss1} KiB with {$held} idle connections -> {($rss1-$rss0)*1024/max(1,$held):.0f} bytes per idle connection')"
kill -TERM "$MXPID"; wait "$MXPID" || true
