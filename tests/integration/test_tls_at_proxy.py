"""TLS terminated by the load balancer (issue 14): HAProxy stands in for the NLB's TLS
listener on 465 — it terminates TLS and forwards plaintext with PROXY v2 to a listener with
`tls_at_proxy = true`. Through it the session counts as TLS (no STARTTLS offered, AUTH
allowed, require_tls met) and the event, the stored parsed JSON and the session log say
"TLS at proxy"; straight to the same port from an untrusted address it is plaintext
(STARTTLS offered, no AUTH, MAIL refused with 530 until STARTTLS).
"""
import glob
import json
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import ALICE_PASSWORD, Gateway, free_port, queued_id  # noqa: E402

CLIENT_ADDR = "127.0.0.2"   # the internet client; HAProxy connects to us from 127.0.0.1


@unittest.skipUnless(shutil.which("haproxy"), "haproxy is not installed (scripts/install-deps.sh installs it)")
class TlsAtProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        listeners = """
[[listener]]
name = "nlb465"
kind = "submission"
listen = "127.0.0.1:%(nlb465)d"
proxy_protocol = true
trusted_proxies = ["127.0.0.1/32"]
tls_at_proxy = true
"""
        cls.gw = Gateway(name="tlsproxy", listeners=listeners).start()
        # HAProxy serves the certificate mxgate generated (cert and key in one PEM).
        pem = os.path.join(cls.gw.dir, "haproxy.pem")
        with open(pem, "w") as out:
            for part in ("cert.pem", "key.pem"):
                with open(os.path.join(cls.gw.dir, "tls", part)) as f:
                    out.write(f.read())
        cls.tls_port = free_port()
        cfg = os.path.join(cls.gw.dir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("""
global
  maxconn 64
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe_tls
  bind 127.0.0.1:%(tls)d ssl crt %(pem)s ssl-min-ver TLSv1.2
  default_backend be
backend be
  server mx 127.0.0.1:%(mx)d send-proxy-v2
""" % {"tls": cls.tls_port, "pem": pem, "mx": cls.gw.ports["nlb465"]})
        cls.haproxy_log = open(os.path.join(cls.gw.dir, "haproxy.log"), "wb")
        cls.haproxy = subprocess.Popen(["haproxy", "-db", "-f", cfg], stdout=subprocess.DEVNULL,
                                       stderr=cls.haproxy_log)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", cls.tls_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        cls.haproxy.terminate()
        cls.haproxy.wait()
        cls.haproxy_log.close()
        cls.gw.stop()
        cls.gw.cleanup()

    def test_through_the_tls_proxy_counts_as_tls(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        msg = b"From: alice@example.test\r\nTo: x@example.test\r\nSubject: via tls proxy\r\n\r\nhello\r\n"
        with smtplib.SMTP_SSL("127.0.0.1", self.tls_port, timeout=10, context=ctx,
                              source_address=(CLIENT_ADDR, 0)) as c:
            c.ehlo("submitter.test")
            self.assertFalse(c.has_extn("starttls"))   # TLS is on already
            self.assertTrue(c.has_extn("auth"))
            c.login("alice", ALICE_PASSWORD)
            c.mail("alice@example.test")
            c.rcpt("x@example.test")
            code, resp = c.data(msg)
            self.assertEqual(code, 250, resp)
        mid = queued_id(resp)
        env = self.gw.wait_event(mid)["data"]["envelope"]
        self.assertEqual(env["tls"]["version"], "TLS at proxy")
        self.assertEqual(env["auth_user"], "alice")
        self.assertEqual(env["client_ip"], CLIENT_ADDR)
        self.assertEqual(env["proxy_peer_ip"], "127.0.0.1")
        parsed = self.gw.wait_for(lambda: glob.glob(os.path.join(self.gw.dir, "store", "*", "parsed", "*", "*", "*",
                                                                 mid + ".json")))
        with open(parsed[0]) as f:
            self.assertEqual(json.load(f)["envelope"]["tls"]["version"], "TLS at proxy")
        session = self.gw.wait_for(lambda: [s for s in self.gw.logs("session") if s.get("helo") == "submitter.test"])
        self.assertEqual(session[-1]["tls"]["version"], "TLS at proxy")

    def test_straight_from_an_untrusted_address_is_plaintext(self):
        with smtplib.SMTP(timeout=10, source_address=("127.0.0.3", 0)) as c:
            c.connect("127.0.0.1", self.gw.ports["nlb465"])
            c.ehlo("direct.test")
            self.assertTrue(c.has_extn("starttls"))
            self.assertFalse(c.has_extn("auth"))
            code, resp = c.mail("alice@example.test")
            self.assertEqual(code, 530, resp)
        session = self.gw.wait_for(lambda: [s for s in self.gw.logs("session") if s.get("helo") == "direct.test"])
        self.assertIsNone(session[-1]["tls"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
