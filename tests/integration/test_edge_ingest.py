"""HTTP ingest (docs/edge.md section 1): the real mxgate with an `http_ingest` listener,
POSTed to with urllib as the Cloudflare Worker would. Stored byte-exact with the envelope
from the headers; 401 for a bad signature or an expired timestamp (nothing stored); a retry
with the same webhook-id gets the same id and stores one copy; 413 by Content-Length and by
a chunked body; 415/400/404/405; 429 from a [[rate_limit]]; a 20 MB chunked message streamed;
201 only after durability: kill -9 right after the 201, restart, the message is stored."""
import hashlib
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Gateway  # noqa: E402
from edge_client import SECRET, post_message, sign  # noqa: E402

LISTENERS = """
[[listener]]
name = "smtp"
kind = "smtp"
listen = "127.0.0.1:%(smtp)d"

[[listener]]
name = "ingest"
kind = "http_ingest"
listen = "127.0.0.1:%(ingest)d"
secret = "{secret}"
max_message_size = 25000000
""".replace("{secret}", SECRET)

RATE_LIMIT = """
[[rate_limit]]
name = "ip-messages"
key = "client_ip"
messages = 2
per = "1m"
"""

MESSAGE = (b"From: a@origin.test\r\nTo: x@example.test\r\nSubject: ingest \xc3\xa9\r\n"
           b"Message-ID: <ingest-1@origin.test>\r\n\r\nbody line\r\nbare LF line\n.leading dot\r\n\x00\xff end\r\n")


class EdgeIngestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(listeners=LISTENERS, extra_toml=RATE_LIMIT, name="ingest").start()
        cls.port = cls.gw.ports["ingest"]

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.gw.cleanup()

    def stored(self, message_id, timeout=15):
        return self.gw.wait_for(lambda: self.gw.raw_by_id(message_id), timeout, "stored " + message_id)

    def test_stored_byte_exact_with_the_envelope(self):
        status, headers, body = post_message(self.port, MESSAGE, rcpt="x@example.test, <y@example.test>",
                                             client_ip="2001:DB8::5")
        self.assertEqual(status, 201, body)
        self.assertEqual(headers.get("Content-Type"), "application/json")
        message_id = json.loads(body)["id"]
        self.assertEqual(self.stored(message_id), MESSAGE)
        event = self.gw.wait_event(message_id)
        env = event["data"]["envelope"]
        self.assertEqual(env["reception"], "http")
        self.assertEqual(env["listener"], "ingest")
        self.assertEqual(env["client_ip"], "2001:db8::5")
        self.assertEqual(env["helo"], "mta.origin.test")
        self.assertEqual(env["mail_from"], "sender@origin.test")
        self.assertEqual([r["address"] for r in env["rcpt_to"]], ["x@example.test", "y@example.test"])

    def test_bad_signature_and_expired_timestamp_store_nothing(self):
        before = len(self.gw.raw_paths())
        status, _, body = post_message(self.port, MESSAGE,
                                       signature=sign("other", int(time.time()), MESSAGE, version="v1e"))
        self.assertEqual((status, json.loads(body)["error"]), (401, "signature mismatch"))
        # Signed correctly, but over other bytes than were sent.
        ts = int(time.time())
        status, _, _ = post_message(self.port, MESSAGE, msg_id="msg_tamper", ts=ts,
                                    signature=sign("msg_tamper", ts, MESSAGE + b"x", version="v1e"))
        self.assertEqual(status, 401)
        # Signed for one recipient, sent to another: the envelope is signed too.
        status, _, body = post_message(self.port, MESSAGE, rcpt="x@example.test",
                                       extra_headers={"MX-Rcpt-To": "y@example.test"})
        self.assertEqual((status, json.loads(body)["error"]), (401, "signature mismatch"))
        status, _, body = post_message(self.port, MESSAGE, client_ip="192.0.2.1",
                                       extra_headers={"MX-Client-IP": "192.0.2.2"})
        self.assertEqual(status, 401)
        # A Standard Webhooks signature of the body alone: refused before the body is read.
        ts = int(time.time())
        status, _, body = post_message(self.port, MESSAGE, msg_id="msg_v1", ts=ts,
                                       signature=sign("msg_v1", ts, MESSAGE))
        self.assertEqual(status, 401)
        self.assertIn("no v1e entry", json.loads(body)["error"])
        old = int(time.time()) - 400
        status, _, body = post_message(self.port, MESSAGE, ts=old)
        self.assertEqual(status, 401)
        self.assertIn("300 s", json.loads(body)["error"])
        status, _, _ = post_message(self.port, MESSAGE, signature="")
        self.assertEqual(status, 401)
        time.sleep(0.5)
        self.assertEqual(len(self.gw.raw_paths()), before)

    def test_retry_with_the_same_webhook_id_stores_one_copy(self):
        body = MESSAGE.replace(b"ingest-1", b"ingest-retry")
        first = post_message(self.port, body, msg_id="msg_retry_1")
        self.assertEqual(first[0], 201, first[2])
        message_id = json.loads(first[2])["id"]
        # The retry is signed again with a new timestamp, as the Worker would.
        again = post_message(self.port, body, msg_id="msg_retry_1", ts=int(time.time()) + 1)
        self.assertEqual(again[0], 201)
        self.assertEqual(json.loads(again[2])["id"], message_id)
        self.stored(message_id)
        time.sleep(0.5)
        def content(path):
            with open(path, "rb") as f:
                return f.read()
        copies = [p for p in self.gw.raw_paths() if b"ingest-retry" in content(p)]
        self.assertEqual(len(copies), 1, copies)
        self.assertIn(message_id, copies[0])

    def test_too_large(self):
        big = b"Subject: big\r\n\r\n" + b"x" * 25000001
        status, headers, body = post_message(self.port, big)
        self.assertEqual(status, 413, body)
        status, _, body = post_message(self.port, big, chunked=True)
        self.assertEqual(status, 413, body)

    def test_twenty_megabytes_chunked_streamed(self):
        line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n"
        big = b"Subject: large\r\n\r\n" + line * (20000000 // len(line))
        status, _, body = post_message(self.port, big, chunked=True)
        self.assertEqual(status, 201, body)
        stored = self.stored(json.loads(body)["id"], timeout=60)
        self.assertEqual(hashlib.sha256(stored).hexdigest(), hashlib.sha256(big).hexdigest())

    def test_other_refusals(self):
        status, _, body = post_message(self.port, MESSAGE, content_type="text/plain")
        self.assertEqual(status, 415, body)
        status, _, body = post_message(self.port, MESSAGE, rcpt="not an address")
        self.assertEqual(status, 400, body)
        status, _, body = post_message(self.port, MESSAGE, client_ip="nowhere")
        self.assertEqual(status, 400, body)
        # A recipient of no tenant: a permanent refusal, with the SMTP reply named.
        status, _, body = post_message(self.port, MESSAGE, rcpt="x@elsewhere.test")
        self.assertEqual(status, 400, body)
        self.assertTrue(json.loads(body)["reply"].startswith("5"), body)
        status, _, _ = post_message(self.port, MESSAGE, path="/v1/other")
        self.assertEqual(status, 404)
        import urllib.request
        url = "http://127.0.0.1:%d/v1/messages" % self.port
        try:
            urllib.request.urlopen(url, timeout=5)
            self.fail("GET answered 2xx")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 405)
        with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % self.port, timeout=5) as r:
            self.assertEqual(r.status, 200)

    def test_rate_limited_by_the_client_address(self):
        results = [post_message(self.port, MESSAGE, client_ip="198.51.100.77") for _ in range(3)]
        self.assertEqual([r[0] for r in results], [201, 201, 429], [r[2] for r in results])
        self.assertEqual(results[2][1].get("Retry-After"), "60")
        self.assertEqual(json.loads(results[2][2])["reply"], "451 4.7.1")


class EdgeIngestDurabilityTest(unittest.TestCase):
    def test_kill9_right_after_201_loses_nothing(self):
        gw = Gateway(listeners=LISTENERS, name="ingest-crash")
        try:
            gw.start()
            acked = {}
            first_id = None
            for i in range(20):
                body = MESSAGE.replace(b"ingest-1", b"crash-%d" % i)
                status, _, reply = post_message(gw.ports["ingest"], body, msg_id="msg_crash_%d" % i)
                self.assertEqual(status, 201, reply)
                acked[json.loads(reply)["id"]] = body
                first_id = first_id or json.loads(reply)["id"]
            gw.kill9()
            gw.start()
            for message_id, body in acked.items():
                self.assertEqual(gw.wait_for(lambda: gw.raw_by_id(message_id), 20, message_id), body)
            # A retry after the restart still gets the first answer (the keys survived).
            status, _, reply = post_message(gw.ports["ingest"], acked[first_id], msg_id="msg_crash_0")
            self.assertEqual((status, json.loads(reply)["id"]), (201, first_id))
        finally:
            gw.stop()
            gw.cleanup()


if __name__ == "__main__":
    unittest.main()
