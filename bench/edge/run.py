#!/usr/bin/env python3
"""Edge benchmark (issue 13): SMTP through `mxgate bridge` -> the mxgate `websocket` listener,
against direct TCP to the same mxgate's `smtp` listener, in the same run, alternately.

Prints, per path: the SMTP round trip (NOOP, one at a time, 50 per session after EHLO:
median and p99, microseconds), msgs/s from `mxgate bench` (durable spool, pipeline on), and
the added latency per round trip (bridge median - direct median; target < 1 ms).

Usage: bench/edge/run.py [--runs 3] [--noops 2000] [--messages 3000] [--sessions 20]
  MXGATE_TEST_BIN: the binary (default build/src/app/mxgate).
"""
import argparse
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


_handed_out = set()


def free_port():
    """A free port not handed out before in this run (the kernel may offer a just-closed
    port again; mxgate refuses two listeners on one port)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


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
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="mxgate-edgebench-")
    smtp, ws, http = free_port(), free_port(), free_port()
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
""" % {"d": work, "smtp": smtp, "ws": ws, "http": http})
    procs = []
    try:
        gw = subprocess.Popen([MXGATE, "serve", "-c", os.path.join(work, "mxgate.toml")], cwd=work,
                              stderr=subprocess.DEVNULL)
        procs.append(gw)
        wait_port(smtp)
        bport = free_port()
        br = subprocess.Popen([MXGATE, "bridge", "--listen", "127.0.0.1:%d" % bport, "--url",
                               "ws://127.0.0.1:%d/v1/smtp" % ws], stderr=subprocess.DEVNULL)
        procs.append(br)
        wait_port(bport)
        rows = []
        for run in range(a.runs):
            r = {}
            for name, port in (("direct", smtp), ("bridge", bport)):
                rtt = sorted(noop_rtts(port, a.noops))
                r[name + "_rtt_p50"] = statistics.median(rtt)
                r[name + "_rtt_p99"] = rtt[int(len(rtt) * 0.99) - 1]
                r[name + "_msgs"] = load(port, a.messages, a.sessions)
            r["added_us"] = r["bridge_rtt_p50"] - r["direct_rtt_p50"]
            rows.append(r)
            print("run %d: direct rtt p50 %.0f us p99 %.0f us, %.0f msgs/s | bridge rtt p50 %.0f us p99 %.0f us, "
                  "%.0f msgs/s | added %.0f us per round trip" % (
                      run + 1, r["direct_rtt_p50"], r["direct_rtt_p99"], r["direct_msgs"], r["bridge_rtt_p50"],
                      r["bridge_rtt_p99"], r["bridge_msgs"], r["added_us"]), flush=True)
        med = {k: statistics.median(row[k] for row in rows) for k in rows[0]}
        print("median of %d runs: direct %.0f msgs/s, rtt p50 %.0f us | bridge %.0f msgs/s, rtt p50 %.0f us | "
              "added per round trip %.0f us (target < 1000 us) | bridge/direct msgs/s %.2f" % (
                  a.runs, med["direct_msgs"], med["direct_rtt_p50"], med["bridge_msgs"], med["bridge_rtt_p50"],
                  med["added_us"], med["bridge_msgs"] / med["direct_msgs"]))
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
