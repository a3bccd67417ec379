"""Server behaviour with the real binary: graceful drain on SIGTERM (421 to idle sessions,
an in-flight DATA still completes), per-state timeouts, connection limits per client,
the HTTP status endpoint, check-config errors that name the key and the line, and 452 4.3.1
while the spool's filesystem is below spool.min_free."""
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import MXGATE_TEST_BIN, Gateway, queued_id  # noqa: E402


def connect(port, source="127.0.0.1"):
    s = socket.create_connection(("127.0.0.1", port), source_address=(source, 0), timeout=10)
    return s, s.makefile("rb")


def reply(f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            return b"".join(lines)
        lines.append(line)
        if line[3:4] != b"-":
            return b"".join(lines)


class BehaviourTest(unittest.TestCase):
    def test_http_endpoints(self):
        with Gateway(name="http") as gw:
            self.assertEqual(gw.http_status("/healthz"), 200)
            self.assertEqual(gw.http_status("/readyz"), 200)
            self.assertEqual(gw.http_status("/nope"), 404)
            with smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=10) as c:
                c.sendmail("a@origin.test", ["x@example.test"], b"Subject: m\r\n\r\nbody\r\n")
            metrics = gw.http_get("/metrics")
            self.assertIn("# TYPE mxgate_messages_accepted_total counter", metrics)
            self.assertRegex(metrics, r"\nmxgate_messages_accepted_total 1\n")
            self.assertIn('mxgate_commit_latency_seconds_bucket{le="+Inf"} 1', metrics)

    def test_drain_on_sigterm(self):
        gw = Gateway(name="drain").start()
        try:
            idle, idle_f = connect(gw.ports["smtp"])
            self.assertTrue(reply(idle_f).startswith(b"220 "))
            idle.sendall(b"EHLO idle.test\r\n")
            reply(idle_f)
            busy, busy_f = connect(gw.ports["smtp"])
            reply(busy_f)
            busy.sendall(b"EHLO busy.test\r\nMAIL FROM:<a@origin.test>\r\nRCPT TO:<x@example.test>\r\nDATA\r\n")
            r = b""
            while b"354 " not in r:
                r += reply(busy_f)
            busy.sendall(b"Subject: in flight\r\n\r\nstarted before SIGTERM\r\n")
            gw.proc.send_signal(signal.SIGTERM)
            # The idle session is told at once.
            self.assertTrue(reply(idle_f).startswith(b"421 4.3.2 "), "idle session not told to go")
            # The message in flight still completes and is acknowledged, then 421.
            time.sleep(0.3)
            busy.sendall(b"more text\r\n.\r\n")
            end = reply(busy_f)
            self.assertTrue(end.startswith(b"250 2.0.0 Ok: queued as "), end)
            busy.sendall(b"MAIL FROM:<a@origin.test>\r\n")
            self.assertTrue(reply(busy_f).startswith(b"421 4.3.2 "))
            # New connections are refused once listeners are closed.
            self.assertEqual(gw.proc.wait(timeout=20), 0, gw.stderr_text())
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", gw.ports["smtp"]), timeout=2)
            mid = queued_id(end.strip())
            self.assertIsNotNone(gw.raw_by_id(mid), "drained message not stored")
        finally:
            gw.cleanup()

    def test_timeouts_per_state(self):
        extra = '[timeouts]\ngreeting = "1s"\nidle = "2s"\ncommand = "3s"\ndata = "1s"\n'
        with Gateway(name="timeout", extra_toml=extra) as gw:
            cases = [("greeting", b"", 1.0),                                  # never says EHLO
                     ("idle", b"EHLO t.test\r\n", 2.0),                       # EHLO, then silence
                     ("command", b"EHLO t.test\r\nMAIL FROM:<a@b.test>\r\n", 3.0),
                     ("data", b"EHLO t.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@example.test>\r\nDATA\r\npartial", 1.0)]
            for name, send, limit in cases:
                with self.subTest(name):
                    s, f = connect(gw.ports["smtp"])
                    reply(f)
                    s.sendall(send)
                    t0 = time.time()
                    got = b""
                    while b"421 " not in got:
                        line = f.readline()
                        if not line:
                            break
                        got += line
                    waited = time.time() - t0
                    self.assertIn(b"421 4.4.2 ", got)
                    self.assertGreaterEqual(waited, limit - 0.3)
                    self.assertLess(waited, limit + 2.0)
                    self.assertEqual(f.read(), b"")  # closed after the 421
                    f.close()
                    s.close()

    def test_connection_limit_per_ip(self):
        gw = Gateway(name="limit")
        with open(gw.config_path) as fh:
            text = fh.read()
        text = text.replace("threads = 2\n", "threads = 2\nmax_connections_per_ip = 3\n")
        with open(gw.config_path, "w") as fh:
            fh.write(text)
        gw.start()
        try:
            held = [connect(gw.ports["smtp"], "127.0.0.5") for _ in range(3)]
            for s, f in held:
                self.assertTrue(reply(f).startswith(b"220 "))
            s4, f4 = connect(gw.ports["smtp"], "127.0.0.5")
            self.assertTrue(reply(f4).startswith(b"421 4.7.0 "))
            # Another client address is not affected.
            s5, f5 = connect(gw.ports["smtp"], "127.0.0.6")
            self.assertTrue(reply(f5).startswith(b"220 "))
            for s, f in held + [(s4, f4), (s5, f5)]:
                f.close()
                s.close()
        finally:
            gw.stop()
            gw.cleanup()

    def test_low_spool_space_defers_recipients(self):
        # No test machine has a petabyte free: every recipient must be deferred, before DATA,
        # and /readyz says so (the node starts unready; /healthz answers).
        gw = Gateway(name="full", env={"MXGATE_SPOOL_MIN_FREE": "1000000GiB"})
        try:
            gw.start(ready_path="/healthz")
            self.assertEqual(gw.http_body("/readyz"),
                             (503, "not ready: spool filesystem below spool.min_free or read-only\n"))
            with smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=10) as c:
                c.ehlo("full.test")
                self.assertEqual(c.mail("a@origin.test")[0], 250)
                code, text = c.rcpt("x@example.test")
                self.assertEqual((code, text), (452, b"4.3.1 Insufficient system storage: try again later"))
                # Relay denial still wins for a foreign domain: that is permanent.
                self.assertEqual(c.rcpt("x@elsewhere.test")[0], 550)
                code, _ = c.docmd("DATA")
                self.assertEqual(code, 554)  # no valid recipients
            metrics = gw.http_get("/metrics")
            self.assertRegex(metrics, r"\nmxgate_recipients_deferred_storage_total 1\n")
            self.assertRegex(metrics, r"\nmxgate_messages_accepted_total 0\n")
            self.assertEqual(gw.raw_paths(), [])
        finally:
            gw.stop()
            gw.cleanup()

    def test_check_config_names_key_and_line(self):
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "mxgate-bad-%d.toml" % os.getpid())
        with open(path, "w") as f:
            f.write('[server]\nhostname = "x"\nthreads = -1\n[spool]\ndirr = "x"\n')
        try:
            out = subprocess.run([MXGATE_TEST_BIN, "check-config", "-c", path], capture_output=True, text=True)
            self.assertEqual(out.returncode, 2)
            self.assertIn(path + ":3: server.threads: must be a non-negative integer", out.stderr)
            self.assertIn(path + ":5: spool.dirr: unknown key", out.stderr)
            env = dict(os.environ, MXGATE_LIMITS_MAX_RECIPIENTS="lots")
            out = subprocess.run([MXGATE_TEST_BIN, "check-config"], capture_output=True, text=True, env=env)
            self.assertEqual(out.returncode, 2)
            self.assertIn("MXGATE_LIMITS_MAX_RECIPIENTS: must be a non-negative integer", out.stderr)
            ok = subprocess.run([MXGATE_TEST_BIN, "check-config"], capture_output=True, text=True)
            self.assertEqual(ok.returncode, 0, ok.stderr)
        finally:
            os.unlink(path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
