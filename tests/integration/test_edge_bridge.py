"""`mxgate bridge` end to end (docs/edge.md section 3): swaks (or smtplib when swaks is
absent) -> mxgate bridge on a local port -> ws:// -> the mxgate `websocket` listener -> the
stored message, with the bridge's address as the client (no edge token). Also: an
unreachable URL gives the SMTP client "421 4.4.0" after the configured attempts, and the
bridge sends the Bearer token it was given (seen by a tiny recording WebSocket server)."""
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Bridge, Gateway, free_port, queued_id  # noqa: E402

LISTENERS = """
[[listener]]
name = "smtp"
kind = "smtp"
listen = "127.0.0.1:%(smtp)d"

[[listener]]
name = "ws"
kind = "websocket"
listen = "127.0.0.1:%(ws)d"
"""


class EdgeBridgeTest(unittest.TestCase):
    def test_swaks_through_the_bridge_is_stored(self):
        with Gateway(listeners=LISTENERS, name="bridge") as gw:
            bridge = Bridge("ws://127.0.0.1:%d/v1/smtp" % gw.ports["ws"])
            try:
                body = "Subject: through the bridge\r\n\r\nline one\r\n.dotted\r\n"
                if shutil.which("swaks"):
                    out = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % bridge.port, "--to", "x@example.test",
                                          "--from", "a@origin.test", "--helo", "bridge.test", "--data", body,
                                          "--timeout", "20"], capture_output=True, text=True, timeout=60)
                    self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
                    line = [ln for ln in out.stdout.splitlines() if "queued as" in ln][-1]
                    message_id = queued_id(line.split("<~ ", 1)[-1])
                else:
                    with smtplib.SMTP("127.0.0.1", bridge.port, timeout=20) as c:
                        c.ehlo("bridge.test")
                        c.mail("a@origin.test")
                        c.rcpt("x@example.test")
                        code, reply = c.data(body.encode())
                        message_id = queued_id(reply)
                stored = gw.wait_for(lambda: gw.raw_by_id(message_id), 15, "stored")
                self.assertIn(b"line one\r\n.dotted\r\n", stored)
                env = gw.wait_event(message_id)["data"]["envelope"]
                self.assertEqual((env["reception"], env["client_ip"]), ("websocket", "127.0.0.1"))
                # Several sessions at once, each its own tunnel.
                results = []

                def send(i):
                    with smtplib.SMTP("127.0.0.1", bridge.port, timeout=20) as c:
                        c.ehlo("bridge.test")
                        c.mail("a@origin.test")
                        c.rcpt("x@example.test")
                        results.append(c.data(("Subject: %d\r\n\r\n" % i).encode() + b"x" * 200000)[0])
                threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                self.assertEqual(results, [250] * 4)
            finally:
                log = bridge.stop()
            self.assertIn("tunnel open", log)

    def test_unreachable_edge_gives_421(self):
        dead = free_port()
        bridge = Bridge("ws://127.0.0.1:%d/v1/smtp" % dead, extra=["--attempts", "2"])
        try:
            with socket.create_connection(("127.0.0.1", bridge.port), timeout=10) as s:
                data = s.makefile("rb").readline()
            self.assertTrue(data.startswith(b"421 4.4.0"), data)
        finally:
            log = bridge.stop()
        self.assertIn("attempt 2 failed", log)

    def test_bearer_token_and_subprotocol_are_sent(self):
        seen = {}
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)

        def serve():
            conn, _ = srv.accept()
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(4096)
            for line in head.decode().split("\r\n")[1:]:
                k, _, v = line.partition(":")
                seen[k.strip().lower()] = v.strip()
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            conn.close()
        t = threading.Thread(target=serve)
        t.start()
        bridge = Bridge("ws://127.0.0.1:%d/v1/smtp" % srv.getsockname()[1], token="tenant-secret-token",
                        extra=["--attempts", "1"])
        try:
            with socket.create_connection(("127.0.0.1", bridge.port), timeout=10) as s:
                self.assertTrue(s.makefile("rb").readline().startswith(b"421"))
        finally:
            log = bridge.stop()
            t.join(5)
            srv.close()
        self.assertEqual(seen.get("authorization"), "Bearer tenant-secret-token")
        self.assertEqual(seen.get("sec-websocket-protocol"), "smtp.mxgate.v1")
        self.assertNotIn("tenant-secret-token", log)


if __name__ == "__main__":
    unittest.main()
