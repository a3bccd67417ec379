"""Failed AUTH limited per address and per user name, end to end (docs/limits.md "Failed AUTH").

A brute force from 127.0.0.1 against the real server: each wrong password is answered
`535 5.7.8`, later ones after a growing delay ([auth_limits] delay_base doubling), and after
max_failures the address is locked out — `454 4.7.0` even for the right password, without a
password check. A good login from 127.0.0.2 still works. The lock-out is logged once (the
address and the user name, never the password) and counted in /metrics. And a weak password
hash in [[user]] is a config error naming the key and the line.
"""
import base64
import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import ALICE_PASSWORD, MXGATE_TEST_BIN, Gateway  # noqa: E402

LISTENERS = """
[[listener]]
name = "smtp"
kind = "smtp"
listen = "127.0.0.1:%(smtp)d"
auth_plaintext = true
"""

EXTRA = """
[auth_limits]
max_failures = 3
user_max_failures = 50
delay_base = "300ms"
delay_max = "2s"
lockout = "10m"
"""


def auth_plain(port, user, password, source="127.0.0.1"):
    """One connection, EHLO, AUTH PLAIN; returns (reply line, seconds the AUTH answer took)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=15, source_address=(source, 0))
    try:
        f = s.makefile("rb")

        def reply():
            lines = []
            while True:
                line = f.readline().decode()
                lines.append(line)
                if len(line) < 4 or line[3] != "-":
                    return lines[-1].rstrip("\r\n")

        reply()
        s.sendall(b"EHLO client.test\r\n")
        reply()
        token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode())
        t0 = time.monotonic()
        s.sendall(b"AUTH PLAIN " + token + b"\r\n")
        line = reply()
        waited = time.monotonic() - t0
        s.sendall(b"QUIT\r\n")
        return line, waited
    finally:
        s.close()


class AuthLimitsTest(unittest.TestCase):
    def test_brute_force_is_slowed_then_locked_out_and_another_address_still_logs_in(self):
        with Gateway(listeners=LISTENERS, extra_toml=EXTRA, name="authlim") as gw:
            gw.start()
            port = gw.ports["smtp"]
            line, first = auth_plain(port, "alice", "guess-1")
            self.assertTrue(line.startswith("535 5.7.8"), line)
            line, second = auth_plain(port, "alice", "guess-2")
            self.assertTrue(line.startswith("535 5.7.8"), line)
            self.assertGreaterEqual(second, 0.3 - 0.05, "the second failure is answered after delay_base")
            line, third = auth_plain(port, "alice", "guess-3")
            self.assertTrue(line.startswith("535 5.7.8"), line)
            self.assertGreaterEqual(third, 0.6 - 0.05, "the delay doubles")
            # Locked out now: even the right password gets 454, at once.
            line, _ = auth_plain(port, "alice", ALICE_PASSWORD)
            self.assertEqual(line, "454 4.7.0 Error: too many failed authentication attempts, try again later")
            # Another address: the user's one failure there counts for the delay only.
            line, _ = auth_plain(port, "alice", ALICE_PASSWORD, source="127.0.0.2")
            self.assertTrue(line.startswith("235 2.7.0"), line)

            logged = gw.wait_for(lambda: gw.logs("auth_limits"), what="the lock-out log line")
            self.assertEqual(len(logged), 1, logged)
            self.assertIn("127.0.0.1", logged[0]["message"])
            self.assertIn("alice", logged[0]["message"])
            with open(gw.log_path) as f:
                text = f.read()
            for secret in ("guess-1", "guess-2", "guess-3", ALICE_PASSWORD):
                self.assertNotIn(secret, text, "a password in the log")
            metrics = gw.http_get("/metrics")
            self.assertIn('mxgate_auth_limit_lockouts_total{scope="address"} 1\n', metrics)
            self.assertIn("mxgate_auth_limit_failures_total 3\n", metrics)
            self.assertIn("mxgate_auth_limit_refusals_total 1\n", metrics)

    def test_a_weak_password_hash_is_a_config_error_naming_key_and_line(self):
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "mxgate-weakhash-%d.toml" % os.getpid())
        with open(path, "w") as f:
            f.write('[[user]]\nname = "bob"\n\npassword_hash = "$1$saltsalt$2vUaJaoRiA7vL1MCO1Na7."\n')
        try:
            out = subprocess.run([MXGATE_TEST_BIN, "check-config", "-c", path], capture_output=True, text=True)
            self.assertEqual(out.returncode, 2, out.stderr)
            self.assertIn(path + ":4: user.bob.password_hash: uses a weak scheme", out.stderr)
        finally:
            os.unlink(path)


if __name__ == "__main__":
    unittest.main()
