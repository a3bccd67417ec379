"""HAProxy (the AWS NLB stand-in) in front of mxgate with send-proxy-v2 and send-proxy (v1):
the logged and stored client address is the original client's, not the proxy's. PROXY
headers are honoured only from trusted networks: from anyone else "PROXY ..." is just an
unknown command, and a trusted peer that sends no header is dropped after the timeout.
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
from harness import Gateway, free_port, queued_id  # noqa: E402

CLIENT_ADDR = "127.0.0.2"   # the "internet" client; HAProxy connects to us from 127.0.0.1


@unittest.skipUnless(shutil.which("haproxy"), "haproxy is not installed (scripts/install-deps.sh installs it)")
class HaproxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.edge_port = free_port()
        listeners = """
[[listener]]
name = "edge"
kind = "smtp"
listen = "127.0.0.1:%d"
proxy_protocol = true
trusted_proxies = ["127.0.0.1/32"]
""" % cls.edge_port
        cls.gw = Gateway(name="haproxy", listeners=listeners,
                         extra_toml='[timeouts]\nproxy_header = "1s"\n').start()
        cls.v2_port, cls.v1_port = free_port(), free_port()
        cfg = os.path.join(cls.gw.dir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("""
global
  maxconn 256
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe_v2
  bind 127.0.0.1:%(v2)d
  default_backend be_v2
backend be_v2
  server mx 127.0.0.1:%(mx)d send-proxy-v2
frontend fe_v1
  bind 127.0.0.1:%(v1)d
  default_backend be_v1
backend be_v1
  server mx 127.0.0.1:%(mx)d send-proxy
""" % {"v2": cls.v2_port, "v1": cls.v1_port, "mx": cls.edge_port})
        cls.haproxy = subprocess.Popen(["haproxy", "-db", "-f", cfg], stdout=subprocess.DEVNULL,
                                       stderr=open(os.path.join(cls.gw.dir, "haproxy.log"), "wb"))
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", cls.v1_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        cls.haproxy.terminate()
        cls.haproxy.wait()
        cls.gw.stop()
        cls.gw.cleanup()

    def send_via(self, port, subject):
        msg = ("From: a@origin.test\r\nTo: x@example.test\r\nSubject: %s\r\n\r\nvia proxy\r\n" % subject).encode()
        with smtplib.SMTP(timeout=10, source_address=(CLIENT_ADDR, 0)) as c:
            c.connect("127.0.0.1", port)
            c.ehlo("proxied.test")
            c.mail("a@origin.test")
            c.rcpt("x@example.test")
            code, resp = c.data(msg)
            self.assertEqual(code, 250, resp)
        return queued_id(resp), msg

    def check(self, port, subject):
        mid, msg = self.send_via(port, subject)
        ev = self.gw.wait_event(mid)
        env = ev["data"]["envelope"]
        self.assertEqual(env["client_ip"], CLIENT_ADDR)
        self.assertEqual(env["proxy_peer_ip"], "127.0.0.1")
        self.assertEqual(self.gw.raw_by_id(mid), msg)
        logged = self.gw.wait_for(lambda: next((m for m in self.gw.logs("message") if m["id"] == mid), None))
        self.assertEqual(logged["client_ip"], CLIENT_ADDR)
        sessions = self.gw.wait_for(lambda: [s for s in self.gw.logs("session") if s.get("helo") == "proxied.test"
                                             and s.get("client_ip") == CLIENT_ADDR])
        self.assertEqual(sessions[-1]["proxy_peer_ip"], "127.0.0.1")

    def test_proxy_v2(self):
        self.check(self.v2_port, "v2")

    def test_proxy_v1(self):
        self.check(self.v1_port, "v1")

    def test_untrusted_peer_cannot_spoof(self):
        with socket.create_connection(("127.0.0.1", self.edge_port), source_address=("127.0.0.3", 0), timeout=5) as s:
            f = s.makefile("rb")
            self.assertTrue(f.readline().startswith(b"220 "))
            s.sendall(b"PROXY TCP4 203.0.113.9 127.0.0.1 1234 25\r\n")
            reply = f.readline()
            self.assertTrue(reply.startswith(b"500 5.5."), reply)
            s.sendall(b"QUIT\r\n")
            self.assertTrue(f.readline().startswith(b"221 "))
        sess = self.gw.wait_for(lambda: [x for x in self.gw.logs("session") if x.get("client_ip") == "127.0.0.3"])
        self.assertIsNone(sess[-1]["proxy_peer_ip"])

    def test_trusted_peer_without_header_is_dropped(self):
        with socket.create_connection(("127.0.0.1", self.edge_port), timeout=5) as s:
            s.settimeout(5)
            t0 = time.time()
            data = s.recv(100)  # no greeting before a PROXY header; closed after 1s
            self.assertEqual(data, b"")
            self.assertLess(time.time() - t0, 4.5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
