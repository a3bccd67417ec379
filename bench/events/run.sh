#!/usr/bin/env bash
# Event-delivery benchmark: events/s, mxgate CPU per event and 250 -> delivered latency per
# sink kind, each kind as the ONE [[sink]] of a fresh mxgate (pipeline on, local store),
# against a `file` sink as the baseline:
#   kafka    librdkafka's mock cluster (build/tests/events/kafka_mock_cluster, 3 brokers);
#   webhook  bench/events/event_sink_server --mode webhook (checks every HMAC signature);
#   sqs      bench/events/event_sink_server --mode sqs (SendMessageBatch, SigV4 header checked).
# Three phases per kind and run (fresh directories each):
#   live     N messages of 1 KiB by `mxgate bench --sessions 50` as fast as mxgate takes them;
#            events/s = N / (last event delivered - bench start, i.e. the first 250): SMTP,
#            spool, pipeline and the sink all at once. "dispatch/s" is the dispatcher's own
#            rate: the slope of mxgate_outbox_delivered_total (10% -> 90% of N, /metrics polled
#            every 20 ms). CPU: mxgate's utime+stime from bench start to the last event, / N.
#   drain    the sink's capacity alone: N events are first put in the outbox (the sink named
#            "bench" is then a webhook to a closed port, paused 60 s after its first failure),
#            mxgate is stopped, and restarted with the real sink: events/s = N / (last delivered
#            - first delivered); CPU = the restarted process's utime+stime (startup included) / N.
#   latency  `mxgate bench --rate 1000` for 20 s (quick: 5 s); p50/p99 of 250 -> delivered:
#            "server": receive time - the event id's time (the id is a ULID whose first 48 bits
#            are the Unix ms at which mxgate committed the message, just before its 250);
#            "histogram": mxgate_outbox_delivery_seconds (id time -> the sink's confirmation),
#            interpolated within its buckets (…, 5, 10, 25, 50, 100 ms, …): coarse. Kafka has
#            only the histogram (the mock cluster cannot timestamp). A warm-up of 200
#            messages (connections, Kafka metadata, topic auto-creation) comes first and is
#            left out of both.
# Each figure is the median of the runs; the kinds' order rotates per run (noisy neighbours).
#
# Usage: bench/events/run.sh [quick]
#   MXGATE_BENCH_MESSAGES (20000), MXGATE_BENCH_SESSIONS (50), MXGATE_BENCH_RUNS (3),
#   MXGATE_BENCH_SIZE (1024), MXGATE_BENCH_RATE (1000), MXGATE_BENCH_LATENCY_S (20),
#   MXGATE_BENCH_KINDS ("file kafka webhook sqs"), MXGATE_BENCH_PERF (a directory: perf
#   record -g of mxgate during each kind's live and drain phases of run 1, kept there),
#   MXGATE_BENCH_PHASES ("live drain latency"), MXGATE_BENCH_KAFKA_PROPERTIES (TOML lines
#   added to the kafka sink's [sink.properties], e.g. '"linger.ms" = "1"': experiments).
#   quick: 5,000 messages, 1 run, 5 s of latency.
# Needs: nice ninja -C build -j2 mxgate kafka_mock_cluster event_sink_server kafka_peer
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
MXGATE=${MXGATE_TEST_BIN:-$ROOT/build/src/app/mxgate}
SERVER=${MXGATE_BENCH_EVENT_SERVER:-$ROOT/build/bench/events/event_sink_server}
KAFKA_MOCK=${MXGATE_TEST_KAFKA_MOCK:-$ROOT/build/tests/events/kafka_mock_cluster}
KAFKA_PEER=${MXGATE_BENCH_KAFKA_PEER:-$ROOT/build/bench/events/kafka_peer}
PEER_SIZE=${MXGATE_BENCH_KAFKA_PEER_SIZE:-1100}
MSGS=${MXGATE_BENCH_MESSAGES:-20000}
SESS=${MXGATE_BENCH_SESSIONS:-50}
RUNS=${MXGATE_BENCH_RUNS:-3}
SIZE=${MXGATE_BENCH_SIZE:-1024}
RATE=${MXGATE_BENCH_RATE:-1000}
LAT_S=${MXGATE_BENCH_LATENCY_S:-20}
KINDS=${MXGATE_BENCH_KINDS:-"file kafka webhook sqs"}
PERF_DIR=${MXGATE_BENCH_PERF:-}
PHASES=${MXGATE_BENCH_PHASES:-"live drain latency"}
KAFKA_PROPS=${MXGATE_BENCH_KAFKA_PROPERTIES:-}
if [ "${1:-}" = quick ]; then MSGS=5000; RUNS=1; LAT_S=5; fi
LAT_MSGS=$((RATE * LAT_S))
WARMUP=200  # messages before the latency phase's measurement
for b in "$MXGATE" "$SERVER" "$KAFKA_MOCK" "$KAFKA_PEER"; do
  [ -x "$b" ] || { echo "missing $b: nice ninja -C build -j2 mxgate kafka_mock_cluster event_sink_server kafka_peer"; exit 1; }
done
SECRET="whsec_$(printf 'mxgate-bench-webhook-signing-key!' | base64)"
WORK=$(mktemp -d /tmp/mxgate-events-bench.XXXXXX)
PIDS=()
cleanup() {
  exec 3>&- 2>/dev/null || true  # EOF on the mock cluster's stdin: it exits
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (echo >/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
now() { date +%s.%N; }

# -- the Kafka mock cluster: one for the whole run, driven over a fifo ---------------------
KAFKA_BOOT=""
start_kafka() {
  mkfifo "$WORK/kafka.in"
  "$KAFKA_MOCK" < "$WORK/kafka.in" > "$WORK/kafka.out" 2>"$WORK/kafka.err" &
  PIDS+=($!)
  exec 3> "$WORK/kafka.in"
  for _ in $(seq 200); do KAFKA_BOOT=$(head -n1 "$WORK/kafka.out"); [ -n "$KAFKA_BOOT" ] && break; sleep 0.05; done
  [ -n "$KAFKA_BOOT" ] || { echo "kafka_mock_cluster did not start: $(cat "$WORK/kafka.err")" >&2; exit 1; }
}
kafka_count() {  # $1 = topic -> "records first_ts last_ts" (kafka_mock_cluster `consume`; ts in Unix ms)
  local before; before=$(wc -l < "$WORK/kafka.out")
  echo "consume $1" >&3
  for _ in $(seq 1200); do
    local last; last=$(tail -n +"$((before + 1))" "$WORK/kafka.out" | grep -m1 -E '^(ok|error)' || true)
    if [ -n "$last" ]; then
      case "$last" in
        ok*)
          # The records' create times (the producer's clock, set as each is produced).
          tail -n +"$((before + 1))" "$WORK/kafka.out" |
            awk -v n="${last#ok }" '/^record / {t = $6; if (min == "" || t < min) min = t; if (t > max) max = t}
                                    END {print n, (min == "" ? 0 : min), (max == "" ? 0 : max)}'
          ;;
        *) echo "0 0 0" ;;
      esac
      return 0
    fi
    sleep 0.05
  done
  echo "0 0 0"
}

# Reads the topic back; a shortfall is reported, not fatal. The mock cluster keeps at most
# 5 MiB (and 100,000 records) per partition and drops the oldest message sets beyond that
# (librdkafka rdkafka_mock.c: mpart->max_size), so the benchmark's topics are created with
# 64 partitions first (kafka_topic): 20,000 events of ~2 KiB then fit.
kafka_topic() {  # $1 = topic: created with 64 partitions (before mxgate auto-creates it with 4)
  echo "topic $1 64" >&3
  sleep 0.2
}
kafka_check() {  # $1 = topic, $2 = phase
  local k; read -r k _ <<< "$(kafka_count "$1")"
  [ "$k" -ge "$MSGS" ] || echo "  warning: kafka $2: consume read $k records of $MSGS from $1" >&2
}
# The peer: librdkafka's producer alone (bench/events/kafka_peer, the sink's settings), N
# records of PEER_SIZE bytes to a fresh 64-partition topic of the same cluster. Sets OUT.
kafka_peer() {  # $1 = topic tag
  kafka_topic "bench.peer.$1"
  local line; line=$("$KAFKA_PEER" "$KAFKA_BOOT" "bench.peer.$1" "$MSGS" "$PEER_SIZE" reconnect.backoff.max.ms=500)
  OUT=$(sed -n 's/.*records_per_s=\([0-9]*\).*/\1/p' <<< "$line")
}

# -- the stand-in HTTP receiver --------------------------------------------------------------
start_server() {  # $1 = webhook|sqs, $2 = dir -> SRVPORT, SRVPID
  "$SERVER" --mode "$1" --port 0 --secret "$SECRET" --stats-file "$2/server.stats" > "$2/server.out" 2>&1 3>&- &
  SRVPID=$!
  PIDS+=($SRVPID)
  SRVPORT=""
  for _ in $(seq 200); do SRVPORT=$(awk '/^listening/ {print $2}' "$2/server.out"); [ -n "$SRVPORT" ] && break; sleep 0.02; done
  [ -n "$SRVPORT" ] || { echo "event_sink_server did not start" >&2; exit 1; }
}
server_stat() {  # $1 = stats line, $2 = field
  awk -v k="$2" '{for (i = 1; i < NF; i++) if ($i == k) print $(i+1)}' <<< "$1"
}
stop_server() {  # $1 = dir -> the stats line
  kill -TERM "$SRVPID"; wait "$SRVPID" 2>/dev/null || true
  cat "$1/server.stats"
}

# -- mxgate ---------------------------------------------------------------------------------
sink_toml() {  # $1 = kind, $2 = topic tag, $3 = dir -> the [[sink]] entry named "bench"
  case "$1" in
    file) printf '[[sink]]\nname = "bench"\nkind = "file"\npath = "%s/sink-file.jsonl"\n' "$3" ;;
    kafka) printf '[[sink]]\nname = "bench"\nkind = "kafka"\nbrokers = "%s"\ntopic = "bench.{tenant}.%s"\n[sink.properties]\n"reconnect.backoff.max.ms" = "500"\n%s\n' "$KAFKA_BOOT" "$2" "$KAFKA_PROPS" ;;
    webhook) printf '[[sink]]\nname = "bench"\nkind = "webhook"\nurl = "http://127.0.0.1:%s/hooks/mail"\nallow_plain_http = true\nsecret = "%s"\n' "$SRVPORT" "$SECRET" ;;
    sqs) printf '[[sink]]\nname = "bench"\nkind = "sqs"\nqueue_url = "http://127.0.0.1:%s/123456789012/bench-events"\nregion = "us-east-1"\n' "$SRVPORT" ;;
    # The fill phase of `drain`: a webhook to a port nothing listens on; after the first
    # failed round the sink pauses (up to 60 s), so the events stay in the outbox untouched.
    closed) printf '[[sink]]\nname = "bench"\nkind = "webhook"\nurl = "http://127.0.0.1:%s/closed"\nallow_plain_http = true\nsecret = "%s"\nretry_initial = "60s"\nretry_max = "60s"\n' "$(port)" "$SECRET" ;;
  esac
}

wait_metrics() {  # until mxgate's /metrics answers (HTTPPORT)
  for _ in $(seq 250); do curl -sf "http://127.0.0.1:$HTTPPORT/metrics" > /dev/null && return 0; sleep 0.02; done
  return 1
}
start_mxgate() {  # $1 = dir, $2 = kind, $3 = topic tag -> MXPORT, HTTPPORT, MXPID
  mkdir -p "$1"
  MXPORT=$(port)
  HTTPPORT=$(port)
  cat > "$1/mxgate.toml" <<CFG
[server]
hostname = "bench.mxgate.test"
max_connections = 19500
max_connections_per_ip = 20000
[pipeline]
enabled = true
[spool]
dir = "$1/spool"
[store]
dir = "$1/store"
[events]
outbox_dir = "$1/outbox"
file = "$1/events.jsonl"
[http]
listen = "127.0.0.1:$HTTPPORT"
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
$(sink_toml "$2" "$3" "$1")
CFG
  AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
    "$MXGATE" serve -c "$1/mxgate.toml" 2>>"$1/stderr.log" 3>&- &
  MXPID=$!
  PIDS+=($MXPID)
  wait_port "$MXPORT" || { echo "mxgate did not start: $(tail -5 "$1/stderr.log")" >&2; exit 1; }
}
stop_mxgate() { kill -TERM "$MXPID"; wait "$MXPID" 2>/dev/null || true; }

# Polls /metrics every 20 ms until `metric`{sink="bench"} reaches N (or 300 s pass); then
# reads mxgate's CPU ticks at once. Prints "t_first t_all ticks slope_per_s hist_p50_ms
# hist_p99_ms observed_per_s": t_first = when the metric first moved, t_all = when it reached N (Unix s);
# slope = its rate from 10% to 90% of N; the histogram's quantiles (-1 when empty);
# observed = its rate from the first answered scrape to N (-1: it was at N already).
watch_metric() {  # $1 = metric, $2 = N, $3 = mxgate pid
  python3 - "$HTTPPORT" "$1" "$2" "$3" <<'PY'
import sys, time, urllib.request
import os
port, metric, n, pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
base_file, save_file = os.environ.get("WATCH_BASE", ""), os.environ.get("WATCH_SAVE", "")
url = "http://127.0.0.1:%s/metrics" % port
key = metric + '{sink="bench"} '
def scrape():
    try:
        return urllib.request.urlopen(url, timeout=5).read().decode()
    except Exception:
        return ""
def value(text, k):
    at = text.find(k)
    return float(text[at + len(k):].split("\n", 1)[0]) if at >= 0 else 0.0
samples, answered, t_first, text, deadline = [], [], None, "", time.time() + 300
while time.time() < deadline:
    text = scrape()
    t = time.time()
    v = value(text, key)
    samples.append((t, v))
    if text and not answered:
        answered.append((t, v))
    if v > 0 and t_first is None:
        t_first = t
    if v >= n:
        break
    time.sleep(0.02)
with open("/proc/%s/stat" % pid) as f:
    fields = f.read().rsplit(")", 1)[1].split()
ticks = int(fields[11]) + int(fields[12])
def cross(frac):
    for t, v in samples:
        if v >= frac * n:
            return t, v
    return samples[-1]
(t1, v1), (t2, v2) = cross(0.1), cross(0.9)
slope = (v2 - v1) / (t2 - t1) if t2 > t1 else 0.0
if save_file:
    open(save_file, "w").write(text)
# Histogram quantiles, linear within the bucket (as Prometheus' histogram_quantile), of
# the observations since the WATCH_BASE scrape (the warm-up's are subtracted).
def buckets(t):
    out = []
    for line in t.splitlines():
        if line.startswith('mxgate_outbox_delivery_seconds_bucket{sink="bench",le="'):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out.append((float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    return out
bounds = buckets(text)
if base_file:
    base = dict(buckets(open(base_file).read()))
    bounds = [(le, c - base.get(le, 0)) for le, c in bounds]
def q(p):
    if not bounds or bounds[-1][1] == 0:
        return -1
    rank, lo, prev = p * bounds[-1][1], 0.0, 0.0
    for le, c in bounds:
        if c >= rank:
            if le == float("inf"):
                return lo * 1000
            return (lo + (le - lo) * ((rank - prev) / (c - prev) if c > prev else 1)) * 1000
        lo, prev = le, c
    return -1
# The rate seen from the first answered scrape to N (-1: already at N when first seen).
t0, v0 = answered[0] if answered else samples[-1]
observed = (n - v0) / (samples[-1][0] - t0) if v0 < n and samples[-1][0] > t0 else -1
print("%.4f %.4f %d %.1f %.2f %.2f %.1f" % (t_first or samples[-1][0], samples[-1][0], ticks, slope, q(0.5), q(0.99),
                                           observed))
if samples[-1][1] < n:
    sys.stderr.write("only %d of %d after 300 s\n" % (samples[-1][1], n))
    sys.exit(1)
PY
}

perf_start() {  # $1 = name: perf record -g of mxgate into $PERF_DIR/$1.data (run 1 only)
  PERFPID=""
  [ -n "$PERF_DIR" ] && [ "$RUN" = 1 ] || return 0
  mkdir -p "$PERF_DIR"
  perf record -g -F 999 -p "$MXPID" -o "$PERF_DIR/$1.data" 2>"$PERF_DIR/$1.log" 3>&- &
  PERFPID=$!
}
perf_stop() { [ -n "${PERFPID:-}" ] && { kill -INT "$PERFPID"; wait "$PERFPID" 2>/dev/null || true; }; PERFPID=""; }

ticks_ms() { python3 -c "print($1 * 1000.0 / $(getconf CLK_TCK))"; }

# Sets OUT to "events_per_s dispatch_per_s cpu_ms_per_event".
live() {  # $1 = kind, $2 = dir, $3 = topic tag
  local dir=$2 t0 c0 w n srv=""
  mkdir -p "$dir"
  case "$1" in webhook | sqs) start_server "$1" "$dir" ;; kafka) kafka_topic "bench.bench.$3" ;; esac
  start_mxgate "$dir" "$1" "$3"
  perf_start "live-$1"
  c0=$(cpu_ticks "$MXPID")
  t0=$(now)
  "$MXGATE" bench -q --server 127.0.0.1:$MXPORT --sessions "$SESS" --messages "$MSGS" --size "$SIZE" --threads 1 > "$dir/bench.txt" 3>&- &
  local bpid=$!
  w=$(watch_metric mxgate_outbox_delivered_total "$MSGS" "$MXPID")
  wait "$bpid"
  perf_stop
  n=$(awk '/^messages_accepted/ {print $2}' "$dir/bench.txt")
  [ "$n" = "$MSGS" ] || { echo "$1 live: only $n of $MSGS messages accepted" >&2; exit 1; }
  read -r _ t_all c1 slope _ _ <<< "$w"
  stop_mxgate
  case "$1" in
    webhook | sqs)
      srv=$(stop_server "$dir")
      # The receiver's own clock for the last event (the watcher polls every 20 ms).
      t_all=$(python3 -c "print($(server_stat "$srv" last_recv_ms) / 1000.0)")
      [ "$(server_stat "$srv" events)" -ge "$MSGS" ] || { echo "$1 live: server got $srv" >&2; exit 1; }
      ;;
    kafka) kafka_check "bench.bench.$3" live ;;
    file) [ "$(wc -l < "$dir/sink-file.jsonl")" -ge "$MSGS" ] || { echo "file live: lines missing" >&2; exit 1; } ;;
  esac
  OUT=$(python3 -c "print(round($MSGS / ($t_all - $t0)), round($slope), round(($c1 - $c0) * 1000.0 / $(getconf CLK_TCK) / $MSGS, 4))")
}

# Sets OUT to "events_per_s cpu_ms_per_event".
drain() {  # $1 = kind, $2 = dir, $3 = topic tag
  local dir=$2 w t_first t_all c1 srv
  mkdir -p "$dir"
  [ "$1" = kafka ] && kafka_topic "bench.bench.$3"
  start_mxgate "$dir" closed "$3"
  "$MXGATE" bench -q --server 127.0.0.1:$MXPORT --sessions "$SESS" --messages "$MSGS" --size "$SIZE" --threads 1 > "$dir/bench.txt"
  watch_metric mxgate_outbox_enqueued_total "$MSGS" "$MXPID" > /dev/null
  stop_mxgate
  case "$1" in webhook | sqs) start_server "$1" "$dir" ;; esac
  # Kafka has no receiver clock, and mxgate starts its dispatcher before its /metrics: the
  # brokers are held down until /metrics answers, then the drain is timed by the slope of
  # delivered_total from 10% to 90% of N (steady state: reconnecting is left out).
  [ "$1" = kafka ] && { echo "down" >&3; sleep 0.2; }
  start_mxgate "$dir" "$1" "$3"
  if [ "$1" = kafka ]; then
    wait_metrics || { echo "mxgate /metrics did not answer" >&2; exit 1; }
    echo "up" >&3
  fi
  perf_start "drain-$1"
  w=$(watch_metric mxgate_outbox_delivered_total "$MSGS" "$MXPID")
  perf_stop
  local slope
  read -r t_first t_all c1 slope _ _ _ <<< "$w"
  stop_mxgate
  case "$1" in
    webhook | sqs)
      srv=$(stop_server "$dir")
      t_first=$(python3 -c "print($(server_stat "$srv" first_recv_ms) / 1000.0)")
      t_all=$(python3 -c "print($(server_stat "$srv" last_recv_ms) / 1000.0)")
      [ "$(server_stat "$srv" events)" -ge "$MSGS" ] || { echo "$1 drain: server got $srv" >&2; exit 1; }
      ;;
    kafka) kafka_check "bench.bench.$3" drain ;;
  esac
  if [ "$1" = webhook ] || [ "$1" = sqs ]; then
    OUT=$(python3 -c "print(round($MSGS / max($t_all - $t_first, 1e-3)), round($c1 * 1000.0 / $(getconf CLK_TCK) / $MSGS, 4))")
  else
    # Kafka: the slope of delivered_total from 10% to 90% of N (see above).
    OUT=$(python3 -c "print(round($slope), round($c1 * 1000.0 / $(getconf CLK_TCK) / $MSGS, 4))")
  fi
}

# Sets OUT to "server_p50 server_p99 hist_p50 hist_p99 smtp_250_p99" (ms; "-" when not measured).
latency() {  # $1 = kind, $2 = dir, $3 = topic tag
  local dir=$2 w srv s50="-" s99="-" b99
  mkdir -p "$dir"
  case "$1" in webhook | sqs) start_server "$1" "$dir" ;; esac
  start_mxgate "$dir" "$1" "$3"
  # Warm-up (connections, Kafka metadata and topic creation), left out of the figures: the
  # histogram is diffed against the scrape after it, the receiver's records are reset.
  "$MXGATE" bench -q --server 127.0.0.1:$MXPORT --sessions 10 --messages "$WARMUP" --size "$SIZE" --threads 1 > "$dir/warmup.txt"
  WATCH_SAVE="$dir/base.metrics" watch_metric mxgate_outbox_delivered_total "$WARMUP" "$MXPID" > /dev/null
  case "$1" in webhook | sqs) curl -sf -X POST "http://127.0.0.1:$SRVPORT/reset" ;; esac
  "$MXGATE" bench -q --server 127.0.0.1:$MXPORT --sessions "$SESS" --messages "$LAT_MSGS" --rate "$RATE" --size "$SIZE" --threads 1 > "$dir/bench.txt"
  w=$(WATCH_BASE="$dir/base.metrics" watch_metric mxgate_outbox_delivered_total "$((WARMUP + LAT_MSGS))" "$MXPID")
  stop_mxgate
  read -r _ _ _ _ h50 h99 _ <<< "$w"
  case "$1" in
    webhook | sqs)
      srv=$(stop_server "$dir")
      s50=$(server_stat "$srv" p50_ms)
      s99=$(server_stat "$srv" p99_ms)
      ;;
  esac
  b99=$(awk '/latency_ms/ {for (i = 1; i < NF; i++) if ($i == "p99") print $(i+1)}' "$dir/bench.txt")
  OUT="$s50 $s99 $h50 $h99 $b99"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "mxgate event-delivery benchmark — $(date -u +%FT%TZ), $(nproc) cores, load average at start $LOAD0"
echo "messages=$MSGS size=$SIZE sessions=$SESS runs=$RUNS latency: ${RATE}/s for ${LAT_S} s; kinds: $KINDS"
echo "command: bench/events/run.sh ${1:-}  (MXGATE_BENCH_MESSAGES=$MSGS MXGATE_BENCH_RUNS=$RUNS MXGATE_BENCH_LATENCY_S=$LAT_S)"
start_kafka
declare -A R
for RUN in $(seq "$RUNS"); do
  # Rotate the kinds' order per run, so that a noisy neighbour does not always hit the same one.
  read -r -a ks <<< "$KINDS"
  ordered=("${ks[@]:$(((RUN - 1) % ${#ks[@]}))}" "${ks[@]:0:$(((RUN - 1) % ${#ks[@]}))}")
  for kind in "${ordered[@]}"; do
    # Called directly (not in a subshell): every process they start is in PIDS for the trap.
    OUT="- - -"; [[ " $PHASES " == *" live "* ]] && live "$kind" "$WORK/live-$kind-$RUN" "live$RUN"
    read -r le ld lc <<< "$OUT"
    R[$kind,live_eps]+="$le "; R[$kind,dispatch]+="$ld "; R[$kind,live_cpu]+="$lc "
    OUT="- -"; [[ " $PHASES " == *" drain "* ]] && drain "$kind" "$WORK/drain-$kind-$RUN" "drain$RUN"
    read -r de dc <<< "$OUT"
    R[$kind,drain_eps]+="$de "; R[$kind,drain_cpu]+="$dc "
    if [ "$kind" = kafka ] && [[ " $PHASES " == *" drain "* ]]; then kafka_peer "drain$RUN"; R[kafka,peer]+="$OUT "; fi
    OUT="- - - - -"; [[ " $PHASES " == *" latency "* ]] && latency "$kind" "$WORK/lat-$kind-$RUN" "lat$RUN"
    read -r s50 s99 h50 h99 b99 <<< "$OUT"
    R[$kind,s50]+="$s50 "; R[$kind,s99]+="$s99 "; R[$kind,h50]+="$h50 "; R[$kind,h99]+="$h99 "; R[$kind,b99]+="$b99 "
    echo "  run $RUN $kind: live $le/s dispatch $ld/s cpu $lc ms | drain $de/s cpu $dc ms | p99 server $s99 histogram $h99 ms" >&2
    rm -rf "$WORK/live-$kind-$RUN" "$WORK/drain-$kind-$RUN" "$WORK/lat-$kind-$RUN"
  done
done
med() { tr ' ' '\n' <<< "${R[$1,$2]:-}" | { grep -v '^-\?$' || true; } | median; }
target() {
  case "$1,$2" in
    kafka,eps) echo ">= 20000" ;; webhook,eps) echo ">= 5000" ;; *,p99) echo "<= 50" ;; *) echo "" ;;
  esac
}
FILE_LIVE_CPU=$(med file live_cpu)
FILE_DRAIN_CPU=$(med file drain_cpu)
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "throughput (medians of $RUNS; events/s; CPU = mxgate's utime+stime per event, ms; sink = CPU minus the file sink's)"
printf '%-8s %10s %10s %10s %9s %10s %11s %9s %10s\n' kind "live ev/s" "dispatch/s" "drain ev/s" target \
  "live CPU" "live sink" "drain CPU" "drain sink"
for kind in $KINDS; do
  lc=$(med "$kind" live_cpu); dc=$(med "$kind" drain_cpu)
  printf '%-8s %10s %10s %10s %9s %10s %11s %9s %10s\n' "$kind" "$(med "$kind" live_eps)" "$(med "$kind" dispatch)" \
    "$(med "$kind" drain_eps)" "$(target "$kind" eps)" "$lc" \
    "$(python3 -c "print(f'{$lc - ${FILE_LIVE_CPU/-/0}:+.4f}')" 2>/dev/null || echo -)" "$dc" \
    "$(python3 -c "print(f'{$dc - ${FILE_DRAIN_CPU/-/0}:+.4f}')" 2>/dev/null || echo -)"
  echo "    runs: live ${R[$kind,live_eps]}| dispatch ${R[$kind,dispatch]}| drain ${R[$kind,drain_eps]}"
  if [ "$kind" = kafka ] && [ -n "${R[kafka,peer]:-}" ]; then
    pe=$(med kafka peer)
    echo "    peer: librdkafka's producer alone, same cluster, $PEER_SIZE-byte records: $pe rec/s (runs: ${R[kafka,peer]});" \
      "sink drain / peer = $(python3 -c "print(round($(med kafka drain_eps) / $pe, 2))" 2>/dev/null || echo -)"
  fi
done
echo
echo "latency at $RATE msgs/s offered for $LAT_S s, 250 -> delivered, ms (medians of $RUNS; target p99 <= 50)"
printf '%-8s %11s %11s %11s %11s %12s\n' kind "server p50" "server p99" "hist p50" "hist p99" "SMTP 250 p99"
for kind in $KINDS; do
  printf '%-8s %11s %11s %11s %11s %12s\n' "$kind" "$(med "$kind" s50)" "$(med "$kind" s99)" "$(med "$kind" h50)" \
    "$(med "$kind" h99)" "$(med "$kind" b99)"
  echo "    runs: server p99 ${R[$kind,s99]}| hist p99 ${R[$kind,h99]}"
done
