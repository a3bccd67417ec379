"""Clients for the edge listeners (docs/edge.md), used by the test_edge_*.py scenarios and
bench/edge: Standard Webhooks signing as the Cloudflare Worker does it (the ingest's "v1e"
over the envelope headers and the body, the edge token's "v1" over the client address), a POST /v1/messages
helper on urllib, and a minimal RFC 6455 WebSocket client on plain sockets (no pip
packages): client frames masked, binary frames both ways, ping answered, close handled.
"""
import base64
import hashlib
import hmac
import os
import socket
import struct
import time
import urllib.error
import urllib.request

SECRET = "whsec_" + base64.b64encode(b"edge-test-key-0123456789abcdef!!").decode()
KEY = base64.b64decode(SECRET[len("whsec_"):])


def sign(msg_id, ts, body, key=KEY, version="v1"):
    """The webhook-signature value for "<id>.<ts>.<body>"."""
    if isinstance(body, str):
        body = body.encode()
    mac = hmac.new(key, b"%s.%d." % (msg_id.encode(), ts) + body, hashlib.sha256).digest()
    return version + "," + base64.b64encode(mac).decode()


ENVELOPE_HEADERS = ("MX-Mail-From", "MX-Rcpt-To", "MX-Client-IP", "MX-Client-Helo")


def signed_envelope(headers):
    """The envelope lines the ingest signature covers before the body (docs/edge.md): each
    of the four headers as "<lower-case name>:<value without outer spaces/tabs>\n" (absent:
    empty), then "\n". Values are the octets sent (latin-1 for http.client's headers)."""
    out = b""
    for name in ENVELOPE_HEADERS:
        out += name.lower().encode() + b":" + headers.get(name, "").strip(" \t").encode("latin-1") + b"\n"
    return out + b"\n"


def ingest_signature(msg_id, ts, headers, body, key=KEY):
    """The HTTP ingest's "v1e,<sig>": HMAC over "<id>.<ts>." + signed_envelope + body."""
    if isinstance(body, str):
        body = body.encode()
    return sign(msg_id, ts, signed_envelope(headers) + body, key, version="v1e")


def post_message(port, body, rcpt="x@example.test", mail_from="<sender@origin.test>", client_ip=None,
                 helo="mta.origin.test", msg_id=None, ts=None, signature=None, content_type="message/rfc822",
                 chunked=False, extra_headers=None, path="/v1/messages", timeout=30):
    """POSTs a message, signed unless `signature` is given; returns (status, headers, body bytes)."""
    msg_id = msg_id or "msg_" + os.urandom(8).hex()
    # A fresh documentation address per request unless given: per-address rate limits then
    # only count where a test means them to.
    client_ip = client_ip or "2001:db8::%x:%x" % (int.from_bytes(os.urandom(2), "big"), int.from_bytes(os.urandom(2), "big"))
    ts = int(time.time()) if ts is None else ts
    headers = {"Content-Type": content_type, "MX-Mail-From": mail_from, "MX-Rcpt-To": rcpt,
               "MX-Client-IP": client_ip, "webhook-id": msg_id, "webhook-timestamp": str(ts)}
    if helo is not None:
        headers["MX-Client-Helo"] = helo
    headers["webhook-signature"] = signature if signature is not None else ingest_signature(msg_id, ts, headers, body)
    headers.update(extra_headers or {})  # after signing: a test may change what was signed
    data = body
    if chunked:
        # An iterable without Content-Length: http.client sends Transfer-Encoding: chunked.
        data = (body[i:i + 65536] for i in range(0, len(body), 65536))
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data, headers=headers,
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def edge_token_headers(client_ip, key=KEY, ts=None, token_id=None):
    ts = int(time.time()) if ts is None else ts
    token_id = token_id or "tok_" + os.urandom(8).hex()
    return {"MX-Client-IP": client_ip, "webhook-id": token_id, "webhook-timestamp": str(ts),
            "webhook-signature": sign(token_id, ts, client_ip, key)}


class WebSocketError(Exception):
    pass


class WebSocket:
    """A minimal RFC 6455 client over a connected socket."""

    def __init__(self, host, port, path="/v1/smtp", headers=None, protocol="smtp.mxgate.v1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (host, port), "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        if protocol:
            lines.append("Sec-WebSocket-Protocol: " + protocol)
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            head += chunk
        head, _, self.buf = head.partition(b"\r\n\r\n")
        status_line, *fields = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split()[1]) if status_line else 0
        self.headers = {}
        for f in fields:
            k, _, v = f.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        if self.status == 101:
            want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
                                    .digest()).decode()
            if self.headers.get("sec-websocket-accept") != want:
                raise WebSocketError("bad Sec-WebSocket-Accept")
        self.close_code = None

    def send(self, data, opcode=2):
        if isinstance(data, str):
            data = data.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data)) if n < 4096 else _mask_fast(data, mask)
        self.sock.sendall(head + mask + masked)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self):
        """(opcode, payload) of the next frame; pings are answered and skipped."""
        while True:
            b0, b1 = self._need(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._need(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._need(8))[0]
            if b1 & 0x80:
                raise WebSocketError("server frames must not be masked")
            payload = self._need(n)
            opcode = b0 & 0x0F
            if opcode == 9:
                self.send(payload, opcode=10)
                continue
            if opcode == 8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            return opcode, payload

    def close(self, code=1000):
        try:
            self.send(struct.pack("!H", code), opcode=8)
        except OSError:
            pass
        self.sock.close()


def _mask_fast(data, mask):
    n = len(data)
    m = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(data, "big") ^ m).to_bytes(n, "big")


class WebSocketSmtp:
    """SMTP lines over a WebSocket: send commands, read complete replies."""

    def __init__(self, ws):
        self.ws = ws
        self.pending = b""

    def reply(self):
        """The next complete reply (all its lines) as text; None when the server closed."""
        while True:
            end = self._reply_end()
            if end is not None:
                out, self.pending = self.pending[:end], self.pending[end:]
                return out.decode()
            opcode, payload = self.ws.recv_frame()
            if opcode == 8:
                return None
            self.pending += payload

    def _reply_end(self):
        pos = 0
        while True:
            nl = self.pending.find(b"\r\n", pos)
            if nl < 0:
                return None
            line = self.pending[pos:nl]
            if len(line) >= 4 and line[3:4] == b" ":
                return nl + 2
            pos = nl + 2

    def cmd(self, line):
        self.ws.send(line + "\r\n")
        return self.reply()
