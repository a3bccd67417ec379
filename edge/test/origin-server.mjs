// origin-server.mjs — a small stand-in for an mxgate region, on loopback, for the Worker's
// tests (Node side; started by global-setup.mjs). It implements the wire contract of
// edge/README.md from the receiving end, independently of the Worker's code (Node's own
// crypto and http):
//   POST /v1/messages   Standard Webhooks signature check (id/timestamp/signature, 300 s
//                       window, any of several "v1e,<sig>" over the envelope lines and the
//                       body, constant-time compare), envelope
//                       headers, Content-Type, idempotency by webhook-id; stores the body.
//   GET  /readyz        200, or what the test set with /_test/mode
//   GET  /v1/smtp       WebSocket upgrade (RFC 6455, subprotocol smtp.mxgate.v1) with the
//                       edge-token check, then a scripted SMTP server over binary frames
//                       (EHLO with STARTTLS and CHUNKING, MAIL, RCPT, DATA, BDAT, AUTH PLAIN,
//                       RSET, NOOP, QUIT) that records every client byte it receives.
//   /_test/*            control for the tests: messages, sessions, mode (ingest status,
//                       readyz, retryAfter, stallData: stop reading after DATA), reset.
// It is a test double for the protocol edges only; the real mxgate listeners are tested
// end to end when MXGATE_BIN is set (global-setup.mjs).
import { createHash, createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

// The ingest's signed envelope lines (docs/edge.md), written here from the contract's text.
export function envelopeLines(headers) {
  const names = ["mx-mail-from", "mx-rcpt-to", "mx-client-ip", "mx-client-helo"];
  const text = names.map((n) => `${n}:${(headers[n] ?? "").replace(/^[ \t]+|[ \t]+$/g, "")}\n`).join("") + "\n";
  return Buffer.from(text, "latin1");
}

export function verifySignature(keyBytes, headers, content, nowSeconds = Date.now() / 1000, version = "v1") {
  const id = headers["webhook-id"];
  const ts = headers["webhook-timestamp"];
  const sigs = headers["webhook-signature"];
  if (!id || !ts || !sigs) return "missing signature headers";
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(id)) return "bad webhook-id";
  if (!/^\d{1,12}$/.test(ts) || Math.abs(nowSeconds - Number(ts)) > 300) return "timestamp outside the window";
  const mac = createHmac("sha256", keyBytes).update(`${id}.${ts}.`).update(content).digest();
  for (const entry of sigs.split(" ")) {
    const [v, b64] = entry.split(",", 2);
    if (v !== version || !b64) continue;
    const got = Buffer.from(b64, "base64");
    if (got.length === mac.length && timingSafeEqual(got, mac)) return null;
  }
  return "no matching signature";
}

function json(res, status, body, headers = {}) {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

// One region. `name` appears in recorded messages and sessions.
export function startOrigin(name, keyBytes) {
  const state = { messages: [], sessions: [], seen: new Map(), mode: { ingest: 201, readyz: 200, retryAfter: "7" } };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url, "http://x");
      if (url.pathname === "/_test/messages") return json(res, 200, state.messages);
      if (url.pathname === "/_test/sessions") return json(res, 200, state.sessions);
      if (url.pathname === "/_test/reset") {
        state.messages = [];
        state.sessions = [];
        state.seen.clear();
        state.mode = { ingest: 201, readyz: 200, retryAfter: "7" };
        return json(res, 200, {});
      }
      if (url.pathname === "/_test/mode") {
        Object.assign(state.mode, JSON.parse(body.toString() || "{}"));
        return json(res, 200, state.mode);
      }
      if (url.pathname === "/readyz") return json(res, state.mode.readyz, { ready: state.mode.readyz === 200 });
      if (url.pathname !== "/v1/messages") return json(res, 404, { error: "not found" });
      if (req.method !== "POST") return json(res, 405, { error: "method" }, { Allow: "POST" });
      if ((req.headers["content-type"] ?? "").split(";")[0].trim() !== "message/rfc822") return json(res, 415, { error: "content type" });
      const bad = verifySignature(keyBytes, req.headers, Buffer.concat([envelopeLines(req.headers), body]), Date.now() / 1000, "v1e");
      if (bad) return json(res, 401, { error: bad });
      const id = req.headers["webhook-id"];
      if (state.seen.has(id)) {
        const first = state.seen.get(id);
        return json(res, first.status, first.body);
      }
      if (state.mode.ingest === 429 || state.mode.ingest === 503) {
        return json(res, state.mode.ingest, { error: "try later" }, { "Retry-After": state.mode.retryAfter });
      }
      if (state.mode.ingest !== 201) return json(res, state.mode.ingest, { error: "mode" });
      const rcpt = (req.headers["mx-rcpt-to"] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
      if (!("mx-mail-from" in req.headers) || rcpt.length === 0 || !req.headers["mx-client-ip"]) return json(res, 400, { error: "envelope" });
      const answer = { id: `${name}-${randomUUID()}` };
      state.seen.set(id, { status: 201, body: answer });
      state.messages.push({
        region: name,
        id: answer.id,
        webhookId: id,
        contentLength: req.headers["content-length"] ?? null,
        mailFrom: req.headers["mx-mail-from"],
        rcptTo: rcpt,
        clientIp: req.headers["mx-client-ip"],
        clientHelo: req.headers["mx-client-helo"] ?? null,
        sha256: createHash("sha256").update(body).digest("hex"),
        size: body.length,
        bodyBase64: body.length <= 1 << 20 ? body.toString("base64") : null,
      });
      return json(res, 201, answer);
    });
  });
  server.on("upgrade", (req, socket) => onUpgrade(name, keyBytes, state, req, socket));
  // Every socket, upgraded ones included (server.close() would wait for those forever).
  const sockets = new Set();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const stop = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, port: server.address().port, state, stop })));
}

// ---- WebSocket (RFC 6455) ----

function onUpgrade(name, keyBytes, state, req, socket) {
  const refuse = (status, why) => {
    socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Type: text/plain\r\nContent-Length: ${why.length}\r\nConnection: close\r\n\r\n${why}`);
  };
  if (new URL(req.url, "http://x").pathname !== "/v1/smtp") return refuse(404, "not found");
  const protocols = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((s) => s.trim());
  if (!protocols.includes("smtp.mxgate.v1")) return refuse(400, "subprotocol");
  let clientIp = socket.remoteAddress;
  const tokenHeaders = ["mx-client-ip", "webhook-id", "webhook-timestamp", "webhook-signature"].filter((h) => h in req.headers);
  if (tokenHeaders.length > 0) {
    const bad = verifySignature(keyBytes, req.headers, Buffer.from(req.headers["mx-client-ip"] ?? ""));
    if (bad) return refuse(401, bad);
    clientIp = req.headers["mx-client-ip"];
  }
  const accept = createHash("sha1").update(req.headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
  socket.write(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: smtp.mxgate.v1\r\n\r\n`,
  );
  const session = { region: name, clientIp, authorization: req.headers["authorization"] ?? null, received: "", messages: [], textFrame: false, closed: false, stalled: false };
  state.sessions.push(session);
  const send = (text) => socket.write(frame(0x2, Buffer.from(text, "latin1")));
  const smtp = smtpServer(send, session, () => {
    socket.write(frame(0x8, Buffer.from([0x03, 0xe8])));
    socket.end();
  });
  let buf = Buffer.alloc(0);
  socket.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const f = parseFrame(buf);
      if (!f) break;
      buf = buf.subarray(f.length);
      if (f.opcode === 0x8) {
        session.closed = true;
        socket.end(frame(0x8, f.payload.subarray(0, 2)));
        return;
      }
      if (f.opcode === 0x9) socket.write(frame(0xa, f.payload));
      if (f.opcode === 0x1) {
        session.textFrame = true;
        socket.end(frame(0x8, Buffer.from([0x03, 0xeb])));
        return;
      }
      if (f.opcode === 0x2 || f.opcode === 0x0) smtp(f.payload);
    }
    // mode.stallData: after DATA, stop reading (a stuck origin: the Worker's writes back up).
    if (state.mode.stallData && session.received.includes("DATA\r\n") && !session.stalled) {
      session.stalled = true;
      socket.pause();
    }
  });
  socket.on("close", () => (session.closed = true));
  socket.on("error", () => {});
  send("220 fake.test ESMTP origin\r\n");
}

function frame(opcode, payload) {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n]) : n < 65536 ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 255]) : Buffer.concat([Buffer.from([0x80 | opcode, 127]), (() => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(n));
    return b;
  })()]);
  return Buffer.concat([head, payload]);
}

function parseFrame(buf) {
  if (buf.length < 2) return null;
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    len = Number(buf.readBigUInt64BE(2));
    off = 10;
  }
  const maskOff = off;
  if (masked) off += 4;
  if (buf.length < off + len) return null;
  const payload = Buffer.from(buf.subarray(off, off + len));
  if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[maskOff + (i % 4)];
  return { opcode, payload, length: off + len };
}

// ---- a scripted SMTP server: just enough of RFC 5321 to carry whole sessions ----

function smtpServer(send, session, close) {
  let buf = Buffer.alloc(0);
  let mode = "command"; // command | data | bdat | auth
  let bdatLeft = 0;
  let bdatLast = false;
  let body = [];
  let envelope = { from: null, rcpt: [] };
  const finish = () => {
    const id = `q${session.messages.length + 1}`;
    session.messages.push({ from: envelope.from, rcpt: envelope.rcpt, body: Buffer.concat(body).toString("base64") });
    envelope = { from: null, rcpt: [] };
    body = [];
    send(`250 2.0.0 Ok: queued as ${id}\r\n`);
  };
  return (bytes) => {
    session.received += bytes.toString("latin1");
    buf = Buffer.concat([buf, bytes]);
    for (;;) {
      if (mode === "bdat") {
        const n = Math.min(bdatLeft, buf.length);
        body.push(buf.subarray(0, n));
        buf = buf.subarray(n);
        bdatLeft -= n;
        if (bdatLeft > 0) return;
        mode = "command";
        if (bdatLast) finish();
        else send(`250 2.0.0 chunk received\r\n`);
        continue;
      }
      if (mode === "data") {
        // Raw (still dot-stuffed) data up to CRLF "." CRLF; at its very start "." CRLF.
        let bodyEnd;
        let consume;
        if (buf.length >= 3 && buf.subarray(0, 3).toString("latin1") === ".\r\n") {
          bodyEnd = 0;
          consume = 3;
        } else {
          const i = buf.indexOf("\r\n.\r\n");
          if (i < 0) return;
          bodyEnd = i + 2;
          consume = i + 5;
        }
        body.push(buf.subarray(0, bodyEnd));
        buf = buf.subarray(consume);
        mode = "command";
        finish();
        continue;
      }
      const lf = buf.indexOf("\n");
      if (lf < 0) return;
      const line = buf.subarray(0, lf).toString("latin1").replace(/\r$/, "");
      buf = buf.subarray(lf + 1);
      if (mode === "auth") {
        mode = "command";
        send(line === "*" ? "501 5.0.0 aborted\r\n" : "235 2.7.0 Authentication successful\r\n");
        continue;
      }
      const verb = line.split(" ")[0].toUpperCase();
      if (verb === "EHLO") send("250-fake.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250-CHUNKING\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n");
      else if (verb === "HELO") send("250 fake.test\r\n");
      else if (verb === "MAIL") {
        envelope.from = /<([^>]*)>/.exec(line)?.[1] ?? "";
        send("250 2.1.0 Ok\r\n");
      } else if (verb === "RCPT") {
        envelope.rcpt.push(/<([^>]*)>/.exec(line)?.[1] ?? "");
        send("250 2.1.5 Ok\r\n");
      } else if (verb === "DATA") {
        if (envelope.rcpt.length === 0) send("554 5.5.1 Error: no valid recipients\r\n");
        else {
          mode = "data";
          send("354 End data with <CR><LF>.<CR><LF>\r\n");
        }
      } else if (verb === "BDAT") {
        const m = /^BDAT (\d+)( LAST)?$/i.exec(line);
        bdatLeft = Number(m?.[1] ?? 0);
        bdatLast = !!m?.[2];
        mode = "bdat";
        if (bdatLeft === 0) {
          mode = "command";
          if (bdatLast) finish();
          else send("250 2.0.0 chunk received\r\n");
        }
      } else if (verb === "AUTH") {
        if (line.split(" ").length > 2) send("235 2.7.0 Authentication successful\r\n");
        else {
          mode = "auth";
          send("334 \r\n");
        }
      } else if (verb === "RSET" || verb === "NOOP") send("250 2.0.0 Ok\r\n");
      else if (verb === "QUIT") {
        send("221 2.0.0 Bye\r\n");
        close();
        return;
      } else if (verb === "STARTTLS") send("220 2.0.0 Ready to start TLS\r\n");
      else send("500 5.5.2 Error: command not recognized\r\n");
    }
  };
}
