"""The node's life-cycle as a load balancer and a service manager see it (issue 14):
/readyz answers 503 from the moment SIGTERM arrives — while the listeners still accept
during server.shutdown_delay and while a session is still open in the drain (the low-disk
case is in test_server_behaviour); under systemd (Type=notify) mxgate sends
READY=1 once its sockets are bound, WATCHDOG=1 at half of WATCHDOG_USEC, and STOPPING=1 on
SIGTERM, checked on a unix datagram socket of our own as $NOTIFY_SOCKET (what systemd does).
"""
import os
import signal
import smtplib
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import MXGATE_TEST_BIN, Gateway  # noqa: E402


class ReadyzTest(unittest.TestCase):
    def test_sigterm_unready_before_listeners_close_and_while_a_session_drains(self):
        gw = Gateway(name="readyz", env={"MXGATE_SERVER_SHUTDOWN_DELAY": "2s"})
        try:
            gw.start()
            self.assertEqual(gw.http_body("/readyz"), (200, "ready\n"))
            c = smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=10)
            c.ehlo("open.test")
            self.assertEqual(c.mail("a@origin.test")[0], 250)  # inside a transaction: the drain waits for it
            gw.proc.send_signal(signal.SIGTERM)
            status = gw.wait_for(lambda: gw.http_body("/readyz")[0] == 503 and gw.http_body("/readyz"),
                                 timeout=5, what="/readyz 503 after SIGTERM")
            self.assertEqual(status, (503, "not ready: stopping: draining sessions\n"))
            # Unready, but the listeners still accept during server.shutdown_delay: connections
            # the balancer sent before it saw the 503 are served.
            with smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=10) as late:
                self.assertEqual(late.ehlo("late.test")[0], 250)
            # The drain begins; our session is still open and /readyz stays 503.
            gw.wait_for(lambda: gw.logs("draining"), timeout=10, what="the drain")
            self.assertEqual(gw.http_body("/readyz")[0], 503)
            self.assertIsNone(gw.proc.poll())
            self.assertEqual(c.rcpt("x@example.test")[0], 250)
            code, resp = c.data(b"Subject: drained\r\n\r\nfinished during the drain\r\n")
            self.assertEqual(code, 250, resp)
            try:
                c.quit()
            except smtplib.SMTPServerDisconnected:
                pass  # the 421 after the transaction closed it first
            self.assertEqual(gw.proc.wait(timeout=20), 0)
        finally:
            gw.stop()
            gw.cleanup()


def built_with_systemd():
    out = subprocess.run([MXGATE_TEST_BIN, "version"], capture_output=True, text=True).stdout
    return "systemd notify: yes" in out


@unittest.skipUnless(built_with_systemd(), "mxgate was built without libsystemd (install-deps.sh installs libsystemd-dev)")
class SystemdNotifyTest(unittest.TestCase):
    def test_ready_watchdog_stopping(self):
        gw = Gateway(name="notify")
        sock_path = os.path.join(gw.dir, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(10)
        gw.env.update({"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "400000"})
        gw.env.pop("WATCHDOG_PID", None)
        try:
            with open(gw.stderr_path, "ab") as err:
                gw.proc = subprocess.Popen([MXGATE_TEST_BIN, "serve", "-c", gw.config_path], cwd=gw.dir,
                                           env=gw.env, stdout=err, stderr=err)
            first = sock.recv(4096).decode()
            self.assertIn("READY=1", first.split("\n"))
            # READY=1 means bound: the SMTP listener and /readyz answer at once.
            with socket.create_connection(("127.0.0.1", gw.ports["smtp"]), timeout=5) as s:
                self.assertTrue(s.makefile("rb").readline().startswith(b"220 "))
            self.assertEqual(gw.http_status("/readyz"), 200)
            # WATCHDOG=1 every 200 ms (half of 400 ms): a few arrive within a second.
            pings = 0
            while pings < 3:  # each recv gives up after 10 s: a missing ping fails, not hangs
                msg = sock.recv(4096).decode()
                if msg == "WATCHDOG=1":
                    pings += 1
            gw.proc.send_signal(signal.SIGTERM)
            while True:
                msg = sock.recv(4096).decode()
                if "STOPPING=1" in msg.split("\n"):
                    break
                self.assertEqual(msg, "WATCHDOG=1")
            self.assertEqual(gw.proc.wait(timeout=20), 0)
        finally:
            sock.close()
            gw.stop()
            gw.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
