"""The edge end to end through the real Workers runtime (issue 13; edge/README.md, docs/edge.md):
the Worker under `wrangler dev` (workerd, loopback, local mode, offline; edge_worker.py) between
`mxgate bridge` and a real mxgate.

  swaks (smtplib when swaks is absent) -> `mxgate bridge` (local TCP) -> ws:// -> the Worker's
  /v1/smtp (tenant token, per-IP limits in its Durable Object, region chosen by request.cf)
  -> the Worker's own WebSocket, with the signed client-IP edge token -> the mxgate
  `websocket` listener (require_edge_token) -> the message stored byte-exact, and its event
  in the file sink with the edge token's client address.

and the Email Routing side through the same Worker: wrangler's local email trigger
(/cdn-cgi/handler/email) -> email() -> the signed POST to the `http_ingest` listener -> the
message stored byte-exact.

The region table has two regions served by two `websocket` listeners of the one mxgate; the
injected request.cf puts the client next to the one listed second, so the listener named in
the stored envelope shows that the Worker routed by request.cf (miniflare's offline
placeholder, Austin, would pick the other).

Skips, saying why, when node/npm or edge/node_modules (wrangler, workerd) are absent: ctest's
edge.vitest (scripts/test-edge.sh) installs them with npm ci and runs first.
"""
import base64
import hashlib
import os
import shutil
import smtplib
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import edge_worker  # noqa: E402
from harness import Bridge, Gateway, queued_id  # noqa: E402

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
TOKEN = "tenant-token-" + os.urandom(8).hex()

LISTENERS = """
[[listener]]
name = "ingest"
kind = "http_ingest"
listen = "127.0.0.1:%%(ingest)d"
secret = "%(secret)s"

[[listener]]
name = "ws_syd"
kind = "websocket"
listen = "127.0.0.1:%%(ws_syd)d"
secret = "%(secret)s"
require_edge_token = true

[[listener]]
name = "ws_aus"
kind = "websocket"
listen = "127.0.0.1:%%(ws_aus)d"
secret = "%(secret)s"
require_edge_token = true
""" % {"secret": SECRET}

# request.cf of every request to the Worker: a client in Sydney.
CF = {"country": "AU", "continent": "OC", "latitude": "-33.8688", "longitude": "151.2093", "colo": "SYD",
      "city": "Sydney", "asn": 64500}


def message(tag):
    """A message that needs the transport to be exact: a leading-dot line (dot-stuffed on
    the wire), 8-bit octets, a long line."""
    return ("From: a@origin.test\r\nTo: x@example.test\r\nSubject: through workerd %s\r\n"
            "Message-ID: <%s@origin.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            "line one\r\n.leading dot\r\n..two dots\r\nGr\u00fc\u00dfe \u2014 8-bit\r\n%s\r\nend\r\n"
            % (tag, tag, "x" * 900)).encode("utf-8")


@unittest.skipIf(edge_worker.unavailable(), "edge Worker: %s" % edge_worker.unavailable())
class EdgeWorkerdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        t0 = time.monotonic()
        cls.gw = Gateway(listeners=LISTENERS, name="workerd").start()
        try:
            ports = cls.gw.ports
            ingest = "http://127.0.0.1:%d" % ports["ingest"]
            kv = {
                "regions": [
                    {"name": "us-central", "ingest": ingest, "websocket": "ws://127.0.0.1:%d/v1/smtp" % ports["ws_aus"],
                     "lat": 30.27, "lon": -97.74},
                    {"name": "ap-southeast", "ingest": ingest,
                     "websocket": "ws://127.0.0.1:%d/v1/smtp" % ports["ws_syd"], "lat": -33.87, "lon": 151.21},
                ],
                "tenants": {"default": {"domains": ["example.test"],
                                        "token_sha256": [hashlib.sha256(TOKEN.encode()).hexdigest()]}},
            }
            cls.worker = edge_worker.WorkerDev(SECRET, kv, cf=CF, vars={"INGEST_TIMEOUT_MS": "10000"}).start()
        except BaseException:
            cls.gw.stop()
            cls.gw.cleanup()
            raise
        cls.setup_s = time.monotonic() - t0

    @classmethod
    def tearDownClass(cls):
        t0 = time.monotonic()
        try:
            cls.worker.cleanup()
        finally:
            cls.gw.stop()
            cls.gw.cleanup()
        print("\nworkerd e2e: setup %.1f s (kv seed %.1f s, wrangler dev ready %.1f s), teardown %.1f s"
              % (cls.setup_s, cls.worker.timings.get("kv_seed_s", 0), cls.worker.timings.get("dev_ready_s", 0),
                 time.monotonic() - t0), file=sys.stderr)

    def worker_log(self):
        return "\n--- wrangler dev log ---\n" + self.worker.log_text()

    def test_swaks_bridge_worker_mxgate(self):
        bridge = Bridge(self.worker.ws_url, token=TOKEN)
        sent = message("bridge-%s" % os.urandom(4).hex())
        try:
            if shutil.which("swaks"):
                # DATA exactly as on the wire (--no-data-fixup: swaks adds nothing, not even the
                # dot-stuffing or the final dot), so what mxgate stores can be compared octet for octet.
                path = os.path.join(self.gw.dir, "bridge.eml")
                with open(path, "wb") as f:
                    f.write(b"\r\n".join(b"." + ln if ln.startswith(b".") else ln for ln in sent.split(b"\r\n"))
                            + b".\r\n")
                out = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % bridge.port, "--from", "a@origin.test",
                                      "--to", "x@example.test", "--helo", "sender.origin.test", "--data", path,
                                      "--no-data-fixup", "--timeout", "20"], capture_output=True, timeout=60)
                text = out.stdout.decode("utf-8", "replace")
                self.assertEqual(out.returncode, 0, text + out.stderr.decode("utf-8", "replace") + self.worker_log())
                message_id = queued_id([ln for ln in text.splitlines() if "queued as" in ln][-1].split("<~ ", 1)[-1])
            else:
                with smtplib.SMTP("127.0.0.1", bridge.port, timeout=20) as c:
                    c.ehlo("sender.origin.test")
                    c.mail("a@origin.test")
                    c.rcpt("x@example.test")
                    code, reply = c.data(sent)
                    self.assertEqual(code, 250, reply)
                    message_id = queued_id(reply)
        finally:
            log = bridge.stop()
        self.assertIn("tunnel open", log)
        stored = self.gw.wait_for(lambda: self.gw.raw_by_id(message_id), 15, "stored " + message_id)
        self.assertEqual(stored, sent)
        event = self.gw.wait_event(message_id, 15)
        env = event["data"]["envelope"]
        self.assertEqual(env["reception"], "websocket")
        # Routed by the injected request.cf: the region nearest Sydney, listed second.
        self.assertEqual(env["listener"], "ws_syd", self.worker_log())
        # The client address came in the Worker's signed edge token (proxy_peer_ip is set only
        # then; the listener refuses upgrades without one): the bridge's address as workerd saw it.
        self.assertEqual(env["client_ip"], "127.0.0.1")
        self.assertEqual(env["proxy_peer_ip"], "127.0.0.1")
        self.assertEqual(env["helo"], "sender.origin.test")
        self.assertEqual([r["address"] for r in env["rcpt_to"]], ["x@example.test"])
        self.assertEqual(event["data"]["size"], len(sent))
        self.assertEqual(self.gw.logs("edge_token_refused"), [])

    def test_large_messages_in_parallel_sessions(self):
        """Three sessions at once, each a 3 MiB message: the Worker's own WebSocket client to the
        listener (origin-socket.ts) frames them in pieces of every size the bridge's reads give."""
        bridge = Bridge(self.worker.ws_url, token=TOKEN)
        results = {}

        def send(i):
            body = (b"Subject: large %d\r\n\r\n" % i) + b"".join(
                b"%07d " % n + bytes([33 + (n + i) % 90]) * 90 + b"\r\n" for n in range(3 * 1024 * 1024 // 100))
            try:
                with smtplib.SMTP("127.0.0.1", bridge.port, timeout=60) as c:
                    c.ehlo("large.origin.test")
                    c.mail("a@origin.test")
                    c.rcpt("x@example.test")
                    code, reply = c.data(body)
                results[i] = (code, reply, body)
            except (OSError, smtplib.SMTPException) as e:
                results[i] = (0, str(e).encode(), body)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(3)]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
        finally:
            bridge.stop()
        self.assertEqual(sorted(results), [0, 1, 2])
        for i, (code, reply, body) in results.items():
            self.assertEqual(code, 250, (i, reply, self.worker_log()))
            stored = self.gw.wait_for(lambda: self.gw.raw_by_id(queued_id(reply)), 20, "stored %d" % i)
            self.assertEqual(stored, body)

    def test_email_routing_to_http_ingest(self):
        sent = (b"Received: from mta.origin.test (mta.origin.test [192.0.2.44])\r\n\tby mx.cloudflare.net; "
                b"Tue, 6 Jan 2026 10:00:00 +0000\r\n") + message("email-%s" % os.urandom(4).hex())
        query = urllib.parse.urlencode({"from": "a@origin.test", "to": "x@example.test"})
        req = urllib.request.Request(self.worker.url + "/cdn-cgi/handler/email?" + query, data=sent, method="POST",
                                     headers={"Content-Type": "message/rfc822"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            self.fail("email trigger: %d %s%s" % (e.code, e.read()[:500], self.worker_log()))
        self.assertEqual(status, 200)
        event = self.gw.wait_for(lambda: next((e for e in self.gw.events()
                                               if e["data"]["envelope"]["reception"] == "http"), None), 15,
                                 "the ingest event")
        env = event["data"]["envelope"]
        self.assertEqual((env["listener"], env["client_ip"], env["helo"]), ("ingest", "192.0.2.44", "mta.origin.test"))
        self.assertEqual(self.gw.raw_by_id(event["id"]), sent)


if __name__ == "__main__":
    unittest.main()
