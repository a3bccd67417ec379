#!/usr/bin/env python3
"""A Standard Webhooks receiver for tests/events/webhook_receiver_test.cc, on 127.0.0.1 port 0
over HTTPS (the test's self-signed certificate). It verifies every POST with its own code
(Python's hmac and base64, not mxgate's): webhook-id, webhook-timestamp within 5 minutes,
webhook-signature "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" (space-separated list),
the CloudEvents structured-mode content type, and that the body is a JSON object whose "id" is
the webhook-id. A bad signature gets 401, a wrong content type 415, a body/id mismatch 422.

Paths: /flaky answers 500 (Retry-After: 1) to the first FAIL_TIMES attempts of each id, then
200; /reject answers 400 with a body. GET /log returns what it saw as JSON.
Prints "port <n>" on stdout once listening; runs until killed.
Usage: webhook_receiver.py CERT KEY SECRET [FAIL_TIMES]
"""
import base64
import hashlib
import hmac
import http.server
import json
import ssl
import sys
import threading
import time

CERT, KEY, SECRET = sys.argv[1], sys.argv[2], sys.argv[3]
FAIL_TIMES = int(sys.argv[4]) if len(sys.argv) > 4 else 5
SIGNING_KEY = base64.b64decode(SECRET[len("whsec_"):]) if SECRET.startswith("whsec_") else SECRET.encode()

lock = threading.Lock()
state = {"attempts": {}, "delivered": {}, "bad_signatures": 0, "bad_requests": 0}


def verified(headers, body):
    msg_id = headers.get("webhook-id", "")
    ts = headers.get("webhook-timestamp", "")
    sigs = headers.get("webhook-signature", "")
    if not msg_id or not ts.isdigit() or abs(time.time() - int(ts)) > 300:
        return False
    mac = hmac.new(SIGNING_KEY, msg_id.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256).digest()
    expected = base64.b64encode(mac).decode()
    for sig in sigs.split(" "):
        version, _, value = sig.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client pools connections

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            body = json.dumps(state).encode()
        self.answer(200, body, [("Content-Type", "application/json")])

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not verified(self.headers, body):
            with lock:
                state["bad_signatures"] += 1
            return self.answer(401, b"signature does not verify")
        if self.headers.get("Content-Type") != "application/cloudevents+json; charset=utf-8":
            with lock:
                state["bad_requests"] += 1
            return self.answer(415, b"not a structured-mode CloudEvent")
        msg_id = self.headers["webhook-id"]
        try:
            event = json.loads(body)
            same_id = isinstance(event, dict) and event.get("id") == msg_id
        except ValueError:
            same_id = False
        if not same_id:
            with lock:
                state["bad_requests"] += 1
            return self.answer(422, b"body is not the event of webhook-id")
        if self.path == "/reject":
            return self.answer(400, b"schema mismatch:\r\n missing data.envelope\x00")
        with lock:
            n = state["attempts"].get(msg_id, 0) + 1
            state["attempts"][msg_id] = n
            if n > FAIL_TIMES:
                state["delivered"][msg_id] = body.decode()
        if n <= FAIL_TIMES:
            return self.answer(500, b"try again", [("Retry-After", "1")])
        self.answer(200)


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("port %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
