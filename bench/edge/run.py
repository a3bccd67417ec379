#!/usr/bin/env python3
"""Edge benchmark (issue 13): SMTP to one mxgate over three paths, in the same run, alternately:
  direct   TCP to its `smtp` listener;
  bridge   `mxgate bridge` -> ws:// -> its `websocket` listener;
  workerd  `mxgate bridge` -> ws:// -> the edge Worker under `wrangler dev` (workerd on
           loopback, tests/integration/edge_worker.py) -> the Worker's WebSocket with the
           signed edge token -> a second `websocket` listener (require_edge_token). The
           Worker runs its whole path: tenant token, the per-IP Durable Object (admit and
           release per connection), the SMTP watcher, the sender-domain Durable Object on
           every MAIL and RCPT; its limits are raised so that none refuses.
  workerd_nolimits  the same through a second `wrangler dev` with every edge limit off
           (LIMIT_* = 0): no Durable Object call at all, so the difference to `workerd` is
           what the rate-limit objects cost.
  workerd_fetch  as workerd_nolimits, with ORIGIN_TRANSPORT = "fetch": the runtime's own
           WebSocket to the origin instead of the relay's client over connect() (which
           gives backpressure), so the difference is what that client costs.

Prints, per path: the SMTP round trip (NOOP, one at a time, 50 per session after EHLO:
median and p99, microseconds), msgs/s from `mxgate bench` (durable spool, pipeline on), and
the added latency per round trip against direct (path median - direct median; target for
the bridge < 1 ms). The workerd paths are left out, saying why, when edge/node_modules has no
wrangler (npm ci in edge/).

Usage: bench/edge/run.py [--runs 3] [--noops 2000] [--messages 3000] [--sessions 20] [--no-workerd]
  (about 6 minutes with the defaults: the workerd path with limits takes ~100 msgs/s)
  MXGATE_TEST_BIN: the binary (default build/src/app/mxgate).
"""
import argparse
import base64
import hashlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
MXGATE = os.environ.get("MXGATE_TEST_BIN", os.path.join(ROOT, "build/src/app/mxgate"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import edge_worker  # noqa: E402  (wrangler dev of edge/)
from harness import free_port  # noqa: E402  (a port not handed out before in this run)

# The Worker's limits, raised so that none refuses (the Durable Object calls still happen);
# and all off (no Durable Object call).
WORKER_VARS = {"LIMIT_IP_CONCURRENT": "100000", "LIMIT_IP_CONNECTIONS": "1000000/1m",
               "LIMIT_SENDER_MESSAGES": "100000000/1h", "LIMIT_SENDER_RECIPIENTS": "100000000/1h",
               "LIMIT_RECIPIENTS_PER_CONNECTION": "1000", "CONFIG_CACHE_SECONDS": "30"}
WORKER_VARS_NO_LIMITS = {"LIMIT_IP_CONCURRENT": "0", "LIMIT_IP_CONNECTIONS": "0", "LIMIT_SENDER_MESSAGES": "0",
                         "LIMIT_SENDER_RECIPIENTS": "0", "LIMIT_RECIPIENTS_PER_CONNECTION": "0",
                         "CONFIG_CACHE_SECONDS": "30"}
WORKER_VARS_FETCH = dict(WORKER_VARS_NO_LIMITS, ORIGIN_TRANSPORT="fetch")


def wait_port(port, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %d did not open" % port)


def read_reply(f):
    while True:
        line = f.readline()
        if not line:
            raise EOFError
        if line[3:4] == b" ":
            return line


def noop_rtts(port, n, per_session=50):
    """n NOOP round trips, `per_session` per session (NOOP counts towards the session's
    junk-command limit)."""
    out = []
    while len(out) < n:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        read_reply(f)
        s.sendall(b"EHLO bench.test\r\n")
        read_reply(f)
        for _ in range(min(per_session, n - len(out))):
            t0 = time.perf_counter_ns()
            s.sendall(b"NOOP\r\n")
            read_reply(f)
            out.append((time.perf_counter_ns() - t0) / 1000.0)
        s.sendall(b"QUIT\r\n")
        read_reply(f)
        s.close()
    return out


def load(port, messages, sessions):
    out = subprocess.run([MXGATE, "bench", "--server", "127.0.0.1:%d" % port, "--messages", str(messages),
                          "--sessions", str(sessions), "--size", "2000", "--to", "x@example.test", "-q"],
                         capture_output=True, text=True, timeout=600)
    m = re.search(r"msgs_per_s ([\d.]+)", out.stdout)
    if not m:
        raise RuntimeError("bench failed: " + out.stdout + out.stderr)
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--noops", type=int, default=2000)
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--no-workerd", action="store_true", help="leave out the paths through the Worker")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="mxgate-edgebench-")
    smtp, ws, ws_edge, http = free_port(), free_port(), free_port(), free_port()
    key = os.urandom(32)
    secret = "whsec_" + base64.b64encode(key).decode()
    with open(os.path.join(work, "mxgate.toml"), "w") as f:
        f.write("""
[server]
hostname = "bench.test"
max_connections_per_ip = 10000
[tls]
enabled = false
[spool]
dir = "%(d)s/spool"
[store]
dir = "%(d)s/store"
[events]
file = "%(d)s/events.jsonl"
[http]
listen = "127.0.0.1:%(http)d"
[log]
file = "%(d)s/mxgate.log"
[[tenant]]
name = "default"
domains = ["example.test"]
[[listener]]
name = "smtp"
kind = "smtp"
listen = "127.0.0.1:%(smtp)d"
[[listener]]
name = "ws"
kind = "websocket"
listen = "127.0.0.1:%(ws)d"
[[listener]]
name = "ws_edge"
kind = "websocket"
listen = "127.0.0.1:%(ws_edge)d"
secret = "%(secret)s"
require_edge_token = true
""" % {"d": work, "smtp": smtp, "ws": ws, "ws_edge": ws_edge, "http": http, "secret": secret})
    procs = []
    workers = []
    try:
        gw = subprocess.Popen([MXGATE, "serve", "-c", os.path.join(work, "mxgate.toml")], cwd=work,
                              stderr=subprocess.DEVNULL)
        procs.append(gw)
        wait_port(smtp)
        paths = [("direct", smtp), ("bridge", start_bridge(procs, "ws://127.0.0.1:%d/v1/smtp" % ws))]
        why_not = "--no-workerd" if a.no_workerd else edge_worker.unavailable()
        if why_not:
            print("workerd paths left out: " + why_not, flush=True)
        else:
            token = "bench-" + os.urandom(8).hex()
            kv = {"regions": [{"name": "bench", "ingest": "http://127.0.0.1:%d" % http,
                               "websocket": "ws://127.0.0.1:%d/v1/smtp" % ws_edge, "lat": 0, "lon": 0}],
                  "tenants": {"default": {"domains": ["example.test"],
                                          "token_sha256": [hashlib.sha256(token.encode()).hexdigest()]}}}
            for name, wvars in (("workerd", WORKER_VARS), ("workerd_nolimits", WORKER_VARS_NO_LIMITS),
                                ("workerd_fetch", WORKER_VARS_FETCH)):
                workers.append(edge_worker.WorkerDev(secret, kv, vars=wvars, name="edgebench").start())
                paths.append((name, start_bridge(procs, workers[-1].ws_url, token)))
        rows = []
        for run in range(a.runs):
            r = {}
            for name, port in paths:
                rtt = sorted(noop_rtts(port, a.noops))
                r[name + "_rtt_p50"] = statistics.median(rtt)
                r[name + "_rtt_p99"] = rtt[int(len(rtt) * 0.99) - 1]
                r[name + "_msgs"] = load(port, a.messages, a.sessions)
                if name != "direct":
                    r[name + "_added_us"] = r[name + "_rtt_p50"] - r["direct_rtt_p50"]
            rows.append(r)
            print("run %d: " % (run + 1) + " | ".join(
                "%s rtt p50 %.0f us p99 %.0f us, %.0f msgs/s%s" % (
                    name, r[name + "_rtt_p50"], r[name + "_rtt_p99"], r[name + "_msgs"],
                    "" if name == "direct" else ", added %.0f us per round trip" % r[name + "_added_us"])
                for name, _ in paths), flush=True)
        med = {k: statistics.median(row[k] for row in rows) for k in rows[0]}
        print("median of %d runs: " % a.runs + " | ".join(
            "%s %.0f msgs/s (%.2fx direct), rtt p50 %.0f us%s" % (
                name, med[name + "_msgs"], med[name + "_msgs"] / med["direct_msgs"], med[name + "_rtt_p50"],
                "" if name == "direct" else ", added per round trip %.0f us" % med[name + "_added_us"])
            for name, _ in paths) + " (target for the bridge < 1000 us)")
    finally:
        for w in workers:
            w.cleanup()
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


def start_bridge(procs, url, token=None):
    """An `mxgate bridge` to `url` on a free port (its log discarded: one line per tunnel)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MXGATE_BRIDGE_TOKEN"}
    if token:
        env["MXGATE_BRIDGE_TOKEN"] = token
    procs.append(subprocess.Popen([MXGATE, "bridge", "--listen", "127.0.0.1:%d" % port, "--url", url], env=env,
                                  stderr=subprocess.DEVNULL))
    wait_port(port)
    return port


if __name__ == "__main__":
    sys.exit(main())
