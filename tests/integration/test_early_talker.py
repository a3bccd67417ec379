"""Early talkers and the greeting delay, end to end (docs/limits.md "Early talkers").

A listener with `greet_delay` holds its 220 greeting; a client that sends anything meanwhile
(RFC 5321 4.3.1: the client waits for the greeting; Postfix postscreen's pregreet test) gets
`554 5.5.1` instead, and the connection closes — counted in
mxgate_sessions_early_talkers_total and marked in the session log. A client that waits gets
the greeting after the delay, and its address is then greeted at once until greet_pass_ttl
passes; with greet_pass_ttl = "0s" every connection waits. Listeners without a delay greet
at once.
"""
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Gateway  # noqa: E402

DELAY_S = 1.0

LISTENERS = """
[[listener]]
name = "smtp"
kind = "smtp"
listen = "127.0.0.1:%(smtp)d"
greet_delay = "1s"

[[listener]]
name = "always"
kind = "smtp"
listen = "127.0.0.1:%(always)d"
greet_delay = "1s"
greet_pass_ttl = "0s"

[[listener]]
name = "plain"
kind = "smtp"
listen = "127.0.0.1:%(plain)d"
"""


def read_reply(sock, timeout=15):
    """Reads one whole reply (all its lines); returns (text, seconds waited)."""
    sock.settimeout(timeout)
    t0 = time.monotonic()
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
        lines = data.split(b"\r\n")
        if len(lines) > 1 and len(lines[-2]) >= 4 and lines[-2][3:4] == b" ":
            break
    return data.decode(), time.monotonic() - t0


def at_eof(sock, timeout=10):
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


class EarlyTalkerTest(unittest.TestCase):
    def test_greet_delay_early_talker_and_pass_cache(self):
        with Gateway(listeners=LISTENERS, name="pregreet") as gw:
            gw.start()
            smtp, always, plain = gw.ports["smtp"], gw.ports["always"], gw.ports["plain"]

            # A talker: EHLO right after connecting, before any greeting.
            with socket.create_connection(("127.0.0.1", smtp)) as s:
                s.sendall(b"EHLO bot.example\r\n")
                text, waited = read_reply(s)
                self.assertEqual(text, "554 5.5.1 Error: protocol error, talked before the greeting\r\n")
                self.assertGreaterEqual(waited, DELAY_S - 0.2)  # held for the whole delay, not before
                self.assertTrue(at_eof(s), "the connection must close after 554")

            # A patient client from the same address: greeted after the delay, then remembered.
            with socket.create_connection(("127.0.0.1", smtp)) as s:
                text, waited = read_reply(s)
                self.assertTrue(text.startswith("220 mx.it.test ESMTP"), text)
                self.assertGreaterEqual(waited, DELAY_S - 0.2)
                s.sendall(b"QUIT\r\n")
                self.assertTrue(read_reply(s)[0].startswith("221 "))
            with socket.create_connection(("127.0.0.1", smtp)) as s:
                text, waited = read_reply(s)
                self.assertTrue(text.startswith("220 "), text)
                self.assertLess(waited, DELAY_S - 0.2, "a passed address is greeted at once")
                # Passed or not, talking first after the greeting is ordinary SMTP.
                s.sendall(b"EHLO ok.example\r\nQUIT\r\n")
                rest = read_reply(s)[0]
                self.assertIn("250", rest)

            # greet_pass_ttl = "0s": the pass is not remembered.
            for _ in range(2):
                with socket.create_connection(("127.0.0.1", always)) as s:
                    text, waited = read_reply(s)
                    self.assertTrue(text.startswith("220 "), text)
                    self.assertGreaterEqual(waited, DELAY_S - 0.2)

            # No delay: greeted at once, and a client talking "early" is simply too slow to be.
            with socket.create_connection(("127.0.0.1", plain)) as s:
                text, waited = read_reply(s)
                self.assertTrue(text.startswith("220 "), text)
                self.assertLess(waited, DELAY_S - 0.2)

            # A talker that hangs up during the delay: closed quietly, counted too.
            with socket.create_connection(("127.0.0.1", always)) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                s.shutdown(socket.SHUT_WR)
                text, _ = read_reply(s)
                self.assertIn(text, ("", "554 5.5.1 Error: protocol error, talked before the greeting\r\n"))

            metrics = gw.http_get("/metrics")
            line = [l for l in metrics.splitlines() if l.startswith("mxgate_sessions_early_talkers_total ")]
            self.assertEqual(len(line), 1, "metric missing")
            self.assertGreaterEqual(int(float(line[0].split()[1])), 1)
            sessions = gw.wait_for(lambda: [e for e in gw.logs("session") if e.get("early_talker")],
                                   what="a session log line marked early_talker")
            self.assertEqual(sessions[0]["listener"], "smtp")
            self.assertEqual(sessions[0]["result"], "early talker")


if __name__ == "__main__":
    unittest.main()
