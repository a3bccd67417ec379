"""Tenants and recipients end to end (docs/tenants.md), with the real binary and smtplib.

Recipient lookup: the customer's application is an http.server in this process (a free
port) that knows bob and counts requests; RCPT to bob+news is accepted (asked as bob),
carol gets 550 5.1.1, a 503 from the application gets 451 4.3.0, and bob again is answered
from the cache (no new request).
"""
import http.server
import os
import smtplib
import sys
import threading
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from harness import Gateway  # noqa: E402


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


if __name__ == "__main__":
    unittest.main()
