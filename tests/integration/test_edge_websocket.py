"""WebSocket SMTP (docs/edge.md section 2): the real mxgate with `websocket` listeners and a
minimal RFC 6455 client (edge_client.py). A whole SMTP session in binary frames whose
boundaries mean nothing (commands split across frames, several in one frame); the
subprotocol; the edge token: none (the TCP peer is the client), valid (MX-Client-IP is the
stored client address), wrong key / expired / reused / required-but-absent: 401 before the
upgrade; a text frame closes with 1003; QUIT closes with 1000; per-IP connection limits count
the token's address."""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Gateway, queued_id  # noqa: E402
from edge_client import SECRET, WebSocket, WebSocketSmtp, edge_token_headers  # noqa: E402

LISTENERS = """
[[listener]]
name = "smtp"
kind = "smtp"
listen = "127.0.0.1:%(smtp)d"

[[listener]]
name = "ws"
kind = "websocket"
listen = "127.0.0.1:%(ws)d"
secret = "{secret}"

[[listener]]
name = "wsr"
kind = "websocket"
listen = "127.0.0.1:%(wsr)d"
secret = "{secret}"
require_edge_token = true
""".replace("{secret}", SECRET)

MESSAGE = b"From: a@origin.test\r\nTo: x@example.test\r\nSubject: over websocket\r\n\r\nhello\r\n.dot\r\n"
STUFFED = MESSAGE.replace(b"\r\n.", b"\r\n..") + b".\r\n"  # RFC 5321 4.5.2


class EdgeWebSocketTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(listeners=LISTENERS, env={"MXGATE_SERVER_MAX_CONNECTIONS_PER_IP": "2"}, name="ws").start()

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.gw.cleanup()

    def connect(self, listener="ws", headers=None, protocol="smtp.mxgate.v1"):
        return WebSocket("127.0.0.1", self.gw.ports[listener], headers=headers, protocol=protocol)

    def session(self, ws, frames="normal"):
        s = WebSocketSmtp(ws)
        self.assertTrue(s.reply().startswith("220 "))
        ehlo = s.cmd("EHLO client.origin.test")
        self.assertTrue(ehlo.startswith("250-"), ehlo)
        self.assertNotIn("STARTTLS", ehlo)
        if frames == "split":
            # One command across three frames, then two commands in one frame (pipelining).
            ws.send("MAIL FR")
            ws.send("OM:<a@origin.t")
            ws.send("est>\r\n")
            self.assertTrue(s.reply().startswith("250 2.1.0"))
            ws.send("RCPT TO:<x@example.test>\r\nDATA\r\n")
            self.assertTrue(s.reply().startswith("250 2.1.5"))
            self.assertTrue(s.reply().startswith("354"))
            for i in range(0, len(STUFFED), 7):
                ws.send(STUFFED[i:i + 7])
        else:
            self.assertTrue(s.cmd("MAIL FROM:<a@origin.test>").startswith("250"))
            self.assertTrue(s.cmd("RCPT TO:<x@example.test>").startswith("250"))
            self.assertTrue(s.cmd("DATA").startswith("354"))
            ws.send(STUFFED)
        queued = s.reply()
        self.assertTrue(queued.startswith("250 2.0.0"), queued)
        self.assertTrue(s.cmd("QUIT").startswith("221"))
        self.assertIsNone(s.reply())
        self.assertEqual(ws.close_code, 1000)
        ws.close()
        return queued_id(queued.strip())

    def test_whole_session_without_token(self):
        ws = self.connect()
        self.assertEqual(ws.status, 101)
        self.assertEqual(ws.headers.get("sec-websocket-protocol"), "smtp.mxgate.v1")
        message_id = self.session(ws, frames="split")
        stored = self.gw.wait_for(lambda: self.gw.raw_by_id(message_id), 15, "stored")
        self.assertEqual(stored, MESSAGE)
        env = self.gw.wait_event(message_id)["data"]["envelope"]
        self.assertEqual(env["reception"], "websocket")
        self.assertEqual(env["client_ip"], "127.0.0.1")
        self.assertEqual(env["listener"], "ws")

    def test_valid_token_sets_the_client_address(self):
        ws = self.connect(headers=edge_token_headers("198.51.100.23"))
        self.assertEqual(ws.status, 101)
        message_id = self.session(ws)
        env = self.gw.wait_event(message_id)["data"]["envelope"]
        self.assertEqual(env["client_ip"], "198.51.100.23")
        self.assertEqual(env["proxy_peer_ip"], "127.0.0.1")
        # Required-token listener: the same kind of token is accepted there too.
        ws = self.connect("wsr", headers=edge_token_headers("2001:db8::23"))
        self.assertEqual(ws.status, 101)
        env = self.gw.wait_event(self.session(ws))["data"]["envelope"]
        self.assertEqual(env["client_ip"], "2001:db8::23")

    def test_bad_tokens_are_refused_before_the_upgrade(self):
        wrong_key = edge_token_headers("198.51.100.23", key=b"another-key-another-key-another!")
        expired = edge_token_headers("198.51.100.23", ts=int(time.time()) - 400)
        incomplete = edge_token_headers("198.51.100.23")
        del incomplete["webhook-signature"]
        other_ip = edge_token_headers("198.51.100.23")
        other_ip["MX-Client-IP"] = "198.51.100.24"
        for headers in (wrong_key, expired, incomplete, other_ip):
            ws = self.connect(headers=headers)
            self.assertEqual(ws.status, 401, headers)
            ws.sock.close()
        # No token on the listener that requires one.
        ws = self.connect("wsr")
        self.assertEqual(ws.status, 401)
        ws.sock.close()
        # A token is good once.
        token = edge_token_headers("198.51.100.30")
        first = self.connect(headers=token)
        self.assertEqual(first.status, 101)
        again = self.connect(headers=token)
        self.assertEqual(again.status, 401)
        first.close()
        again.sock.close()
        refusals = [e for e in self.gw.logs("edge_token_refused")]
        self.assertTrue(any(e["error"] == "edge token already used" for e in refusals), refusals)

    def test_text_frame_is_a_protocol_error(self):
        ws = self.connect()
        s = WebSocketSmtp(ws)
        self.assertTrue(s.reply().startswith("220"))
        ws.send("EHLO x\r\n", opcode=1)
        opcode, _ = ws.recv_frame()
        self.assertEqual((opcode, ws.close_code), (8, 1003))
        ws.sock.close()

    def test_other_paths_and_no_subprotocol(self):
        ws = WebSocket("127.0.0.1", self.gw.ports["ws"], path="/elsewhere")
        self.assertEqual(ws.status, 404)
        ws.sock.close()
        ws = self.connect(protocol=None)
        self.assertEqual(ws.status, 101)
        self.assertNotIn("sec-websocket-protocol", ws.headers)
        ws.close()

    def test_per_ip_limit_counts_the_token_address(self):
        held = [self.connect(headers=edge_token_headers("192.0.2.50")) for _ in range(2)]
        for ws in held:
            self.assertTrue(WebSocketSmtp(ws).reply().startswith("220"))
        third = WebSocketSmtp(self.connect(headers=edge_token_headers("192.0.2.50")))
        self.assertTrue(third.reply().startswith("421 4.7.0"))
        other = WebSocketSmtp(self.connect(headers=edge_token_headers("192.0.2.51")))
        self.assertTrue(other.reply().startswith("220"))
        for ws in held + [third.ws, other.ws]:
            ws.close()


if __name__ == "__main__":
    unittest.main()
