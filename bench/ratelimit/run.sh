#!/usr/bin/env bash
# Rate-limit cost (issue 11): msgs/s and mxgate CPU ms per message for reception alone
# (pipeline off: durable spool, no store/parse/events), loaded by `mxgate bench`, in three
# configurations measured alternately in the same run: no [[rate_limit]], the local backend,
# and the Redis backend (a redis-server started here). The limits are set high enough never
# to refuse, so every message pays for its decisions and nothing else changes: one
# `messages` limit by client_ip (MAIL FROM), one `recipients` limit by tenant (RCPT TO) and
# one `bytes` limit by client_net (end of data) — three decisions per message.
#
# Usage: bench/ratelimit/run.sh [quick]
#   MXGATE_BENCH_MESSAGES (default 20000), MXGATE_BENCH_SESSIONS (50), MXGATE_BENCH_RUNS (3:
#   the median is reported).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
MXGATE=${MXGATE_TEST_BIN:-$ROOT/build/src/app/mxgate}
MSGS=${MXGATE_BENCH_MESSAGES:-20000}
SESS=${MXGATE_BENCH_SESSIONS:-50}
RUNS=${MXGATE_BENCH_RUNS:-3}
if [ "${1:-}" = quick ]; then MSGS=3000; RUNS=1; fi
command -v redis-server >/dev/null || { echo "redis-server missing: run scripts/install-deps.sh"; exit 1; }
WORK=$(mktemp -d /tmp/mxgate-rlbench.XXXXXX)
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
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime

REDIS_PORT=$(port)
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$REDIS_PORT"

limits() {  # $1 = none | local | redis
  [ "$1" = none ] && return 0
  cat <<CFG
[rate_limits]
backend = "$1"
redis_url = "redis://127.0.0.1:$REDIS_PORT/0"
[[rate_limit]]
name = "ip-messages"
key = "client_ip"
messages = 100000000
per = "1m"
[[rate_limit]]
name = "tenant-recipients"
key = "tenant"
recipients = 100000000
per = "1m"
[[rate_limit]]
name = "net-bytes"
key = "client_net"
bytes = "1000GiB"
per = "1m"
CFG
}

run_one() {  # $1 = mode, $2 = run -> "msgs/s cpu_ms_per_msg"
  local dir="$WORK/$1-$2" P H
  P=$(port); H=$(port)
  mkdir -p "$dir"
  cat > "$dir/mxgate.toml" <<CFG
[server]
hostname = "bench.mxgate.test"
max_connections_per_ip = 20000
[pipeline]
enabled = false
[spool]
dir = "$dir/spool"
[store]
dir = "$dir/store"
[http]
listen = "127.0.0.1:$H"
[log]
file = "$dir/mxgate.log"
[tls]
cert_file = "$dir/cert.pem"
key_file = "$dir/key.pem"
[[listener]]
name = "smtp"
listen = "127.0.0.1:$P"
[[tenant]]
name = "bench"
domains = ["example.test"]
$(limits "$1")
CFG
  "$MXGATE" serve -c "$dir/mxgate.toml" 2>>"$dir/stderr.log" &
  local pid=$!
  wait_port "$P"
  if [ "$1" = redis ]; then
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$H/metrics" | grep -q '^mxgate_rate_limit_backend_up 1' && break; sleep 0.05; done
  fi
  local t0 t1 hz
  hz=$(getconf CLK_TCK)
  t0=$(cpu_ticks "$pid")
  "$MXGATE" bench -q --server 127.0.0.1:$P --sessions "$SESS" --messages "$MSGS" --size 1024 --threads 1 \
    --to bench@example.test > "$dir/bench.txt"
  t1=$(cpu_ticks "$pid")
  if [ "$1" != none ]; then
    curl -sf "http://127.0.0.1:$H/metrics" | grep -E '^mxgate_rate_limit_(refusals|backend_fallback|backend_timeouts)' > "$dir/metrics.txt" || true
  fi
  kill -TERM "$pid"; wait "$pid" || true
  local n rate
  n=$(awk '/^messages_accepted/ {print $2}' "$dir/bench.txt")
  rate=$(awk '/^msgs_per_s/ {print $2}' "$dir/bench.txt")
  echo "$rate $(python3 -c "print(round(($t1 - $t0) * 1000.0 / $hz / max(1, $n), 4))")"
}

declare -A RATE CPU
for r in $(seq "$RUNS"); do
  for mode in none local redis; do
    read -r rate cpu < <(run_one "$mode" "$r")
    RATE[$mode]+="$rate "; CPU[$mode]+="$cpu "
  done
done
printf '%-22s %12s %20s\n' "rate limits" "msgs/s" "mxgate CPU ms/msg"
for mode in none local redis; do
  printf '%-22s %12s %20s\n' "$mode" "$(echo ${RATE[$mode]} | tr ' ' '\n' | median)" "$(echo ${CPU[$mode]} | tr ' ' '\n' | median)"
done
for f in "$WORK"/redis-1/metrics.txt; do [ -s "$f" ] && { echo "-- redis run 1 metrics (no refusals, no fallbacks expected):"; cat "$f"; }; done
