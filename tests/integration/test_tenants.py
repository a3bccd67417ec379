"""Tenants and recipients end to end (docs/tenants.md), with the real binary and smtplib.

Recipient lookup: the customer's application is an http.server in this process (a free
port) that knows bob and counts requests; RCPT to bob+news is accepted (asked as bob),
carol gets 550 5.1.1, a 503 from the application gets 451 4.3.0, and bob again is answered
from the cache (no new request).

Several tenants in one transaction: one DATA to recipients of acme and beta gets one 250
(naming the first copy's id) and becomes two stored messages and two events, each with its
own id, its own tenant's store prefix and only its own recipients. Killed with SIGKILL
right after the 250 and restarted, the gateway still stores and announces both copies.
"""
import http.server
import os
import smtplib
import sys
import threading
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from harness import Gateway, queued_id  # noqa: E402


class Application:
    """The customer's recipient endpoint: 200 for bob, 503 for boom, 404 otherwise."""

    def __init__(self):
        self.asked = []
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                address = query.get("address", [""])[0]
                app.asked.append((address, query.get("tenant", [""])[0], self.headers.get("Authorization")))
                status = 200 if address.startswith("bob@") else 503 if address.startswith("boom@") else 404
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def lookup_tenant(port):
    return """
[[tenant]]
name = "acme"
domains = ["acme.test"]
[tenant.recipients]
rule = "lookup"
url = "http://127.0.0.1:%d/mx/recipient"
authorization = "Bearer it"
timeout = "2s"
""" % port


class RecipientLookupTest(unittest.TestCase):
    def test_rcpt_asks_the_application_and_caches(self):
        with Application() as app, Gateway(name="lookup", extra_toml=lookup_tenant(app.port)) as gw:
            with smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=10) as c:
                c.ehlo("client.test")
                c.mail("a@origin.test")
                self.assertEqual(c.rcpt("Bob+news@acme.test")[0], 250)
                code, text = c.rcpt("carol@acme.test")
                self.assertEqual((code, text), (550, b"5.1.1 Recipient address rejected: user unknown"))
                code, text = c.rcpt("boom@acme.test")
                self.assertEqual((code, text[:5]), (451, b"4.3.0"))
                self.assertEqual(c.rcpt("bob@acme.test")[0], 250)  # the cache answers
                self.assertEqual(c.rcpt("postmaster@acme.test")[0], 250)  # never asked
                code, resp = c.data(b"Subject: lookup\r\n\r\nhello\r\n")
                self.assertEqual(code, 250, resp)
            self.assertEqual(app.asked, [("bob@acme.test", "acme", "Bearer it"), ("carol@acme.test", "acme", "Bearer it"),
                                         ("boom@acme.test", "acme", "Bearer it")])
            metrics = gw.http_get("/metrics")
            self.assertIn('mxgate_recipient_lookups_total{result="hit"} 1', metrics)


TWO_TENANTS = """
[[tenant]]
name = "acme"
domains = ["acme.test"]

[[tenant]]
name = "beta"
domains = ["beta.test"]
"""

RAW = b"From: a@origin.test\r\nSubject: for two tenants\r\n\r\nhello both\r\n"


def send_to_both(gw):
    with smtplib.SMTP("127.0.0.1", gw.ports["smtp"], timeout=10) as c:
        c.ehlo("client.test")
        c.mail("a@origin.test")
        for rcpt in ("x+tag@acme.test", "y@beta.test", "z@acme.test"):
            code, text = c.rcpt(rcpt)
            assert code == 250, (rcpt, code, text)
        code, resp = c.data(RAW)
        assert code == 250, resp
    return queued_id(resp)


class SeveralTenantsTest(unittest.TestCase):
    def check_two_copies(self, gw, first_id):
        # At least once: after a crash an event may come twice, always under its copy's id.
        events = gw.wait_for(lambda: (lambda ev: ev if len({e["id"] for e in ev}) >= 2 else None)(gw.events()), 15,
                             "two events")
        self.assertEqual(len({e["id"] for e in events}), 2, events)
        by_tenant = {e["data"]["tenant"]: e for e in events}
        self.assertEqual(sorted(by_tenant), ["acme", "beta"])
        self.assertEqual(by_tenant["acme"]["id"], first_id)  # the 250 names the first copy
        acme_rcpts = [r["address"] for r in by_tenant["acme"]["data"]["envelope"]["rcpt_to"]]
        beta_rcpts = [r["address"] for r in by_tenant["beta"]["data"]["envelope"]["rcpt_to"]]
        self.assertEqual(acme_rcpts, ["x+tag@acme.test", "z@acme.test"])
        self.assertEqual(beta_rcpts, ["y@beta.test"])
        self.assertEqual(by_tenant["acme"]["data"]["envelope"]["rcpt_to"][0]["detail"], "tag")
        for tenant, e in by_tenant.items():
            self.assertTrue(e["data"]["storage"]["raw"].startswith(tenant + "/raw/"), e["data"]["storage"])
            self.assertEqual(gw.raw_by_id(e["id"], tenant), RAW)
        return by_tenant

    def test_one_data_two_stored_messages_two_events(self):
        with Gateway(name="tenants", extra_toml=TWO_TENANTS) as gw:
            first = send_to_both(gw)
            by_tenant = self.check_two_copies(gw, first)
            log = gw.wait_for(lambda: next((m for m in gw.logs("message") if m.get("id") == first), None), 5,
                              "message log line")
            self.assertEqual([c["tenant"] for c in log["copies"]], ["acme", "beta"])
            self.assertEqual(log["copies"][1]["id"], by_tenant["beta"]["id"])

    def test_kill9_after_250_recovers_both_copies(self):
        gw = Gateway(name="tenants-crash", extra_toml=TWO_TENANTS)
        try:
            gw.start()
            first = send_to_both(gw)
            gw.kill9()  # right after the 250: both copies must be in the spool already
            gw.start()
            self.check_two_copies(gw, first)
            self.assertEqual(gw.stop(), 0, gw.stderr_text())
        finally:
            gw.cleanup()


if __name__ == "__main__":
    unittest.main()
