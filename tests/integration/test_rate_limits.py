"""Rate limits shared through Redis, end to end (docs/limits.md).

Two mxgate processes share one redis-server (started here on a free port) and one
`ip-messages` limit of 6 messages a minute per client address: whichever gateway the client
talks to, 6 messages in all are accepted and the rest get `451 4.7.1` at MAIL FROM. A
`recipients` limit per tenant answers `451 4.7.1` at RCPT. Then Redis is killed (SIGKILL):
with on_backend_error = "fail_open" each gateway decides with its own counters (mail flows,
one "down" log line, /metrics shows the backend down); Redis restarted on the same port is
picked up without restarting mxgate, and the shared limit holds again.
"""
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Gateway, free_port  # noqa: E402


class Redis:
    def __init__(self):
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                                      "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer on port %d" % self.port)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def extra(redis_port):
    return """
[rate_limits]
backend = "redis"
redis_url = "redis://127.0.0.1:%d/0"
redis_timeout = "200ms"
on_backend_error = "fail_open"

[[rate_limit]]
name = "ip-messages"
key = "client_ip"
messages = 6
per = "1m"

[[rate_limit]]
name = "tenant-recipients"
key = "tenant"
recipients = 40
per = "1m"
""" % redis_port


def send(gw, rcpts=("a@example.test",)):
    """One message; returns "250", or the refusal's "code enhanced" and the stage."""
    with smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=10) as c:
        c.ehlo("client.test")
        code, text = c.mail("s@origin.test")
        if code != 250:
            return "%d %s mail" % (code, text.decode().split(" ", 1)[0])
        refused = []
        for r in rcpts:
            code, text = c.rcpt(r)
            if code != 250:
                refused.append("%d %s rcpt" % (code, text.decode().split(" ", 1)[0]))
        if len(refused) == len(rcpts):
            return refused[0]
        code, _ = c.data(b"Subject: t\r\n\r\nhello\r\n")
        return str(code)


def metric(gw, name):
    for line in gw.http_get("/metrics").splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


@unittest.skipUnless(shutil.which("redis-server"), "redis-server is not installed (scripts/install-deps.sh)")
class RateLimitsTest(unittest.TestCase):
    def test_two_gateways_share_one_redis(self):
        redis = Redis()
        redis.start()
        try:
            with Gateway(extra_toml=extra(redis.port), name="rl-a") as a, \
                    Gateway(extra_toml=extra(redis.port), name="rl-b") as b:
                for gw in (a, b):
                    gw.wait_for(lambda gw=gw: metric(gw, "mxgate_rate_limit_backend_up") == 1, 10, "backend up")
                # 10 attempts alternating between the gateways: one shared budget of 6.
                results = [send(a if i % 2 == 0 else b) for i in range(10)]
                self.assertEqual(results.count("250"), 6, results)
                self.assertEqual(results[6:], ["451 4.7.1 mail"] * 4, results)
                self.assertEqual(metric(a, 'mxgate_rate_limit_refusals_total{limit="ip-messages"}') +
                                 metric(b, 'mxgate_rate_limit_refusals_total{limit="ip-messages"}'), 4)

                # Redis dies: fail_open, each gateway counts on its own (6 each from zero).
                redis.kill()
                for gw in (a, b):
                    gw.wait_for(lambda gw=gw: metric(gw, "mxgate_rate_limit_backend_up") == 0, 10, "backend down")
                local = [send(a) for _ in range(7)]
                self.assertEqual(local.count("250"), 6, local)
                self.assertEqual(local[-1], "451 4.7.1 mail")
                self.assertGreater(metric(a, "mxgate_rate_limit_backend_fallback_total"), 0)
                downs = [r for r in a.logs("rate_limits") if "backend down" in r.get("message", "")]
                self.assertEqual(len(downs), 1, a.logs("rate_limits"))

                # Redis back on the same port (empty): shared again, without restarting mxgate.
                redis.start()
                for gw in (a, b):
                    gw.wait_for(lambda gw=gw: metric(gw, "mxgate_rate_limit_backend_up") == 1, 15, "backend up")
                again = [send(b if i % 2 == 0 else a) for i in range(8)]
                self.assertEqual(again.count("250"), 6, again)
                self.assertEqual(again[6:], ["451 4.7.1 mail"] * 2, again)
        finally:
            redis.kill()

    def test_recipients_per_tenant_refused_at_rcpt(self):
        redis = Redis()
        redis.start()
        try:
            toml = extra(redis.port).replace("messages = 6", "messages = 1000").replace("recipients = 40",
                                                                                       "recipients = 3")
            with Gateway(extra_toml=toml, name="rl-r") as gw:
                gw.wait_for(lambda: metric(gw, "mxgate_rate_limit_backend_up") == 1, 10, "backend up")
                with smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=10) as c:
                    c.ehlo("client.test")
                    c.mail("s@origin.test")
                    codes = [c.rcpt("r%d@example.test" % i) for i in range(5)]
                    # A relay attempt is refused by the tenant policy first and not counted.
                    self.assertEqual(c.rcpt("x@elsewhere.example")[0], 550)
                self.assertEqual([code for code, _ in codes], [250, 250, 250, 451, 451])
                self.assertTrue(codes[3][1].startswith(b"4.7.1 "), codes[3])
        finally:
            redis.kill()


if __name__ == "__main__":
    unittest.main()
