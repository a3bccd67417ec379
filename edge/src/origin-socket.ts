// origin-socket.ts — the relay's WebSocket client to an mxgate `websocket` listener, spoken
// by the Worker itself (RFC 6455, client side) over a TCP socket from `connect()`
// (cloudflare:sockets), so that the relay gets what the runtime's own WebSocket does not
// give: backpressure towards the origin.
//
// Why: a Workers WebSocket has no bufferedAmount and no way to pause reading (workerd issue
// 988; checked on the pinned workerd: `send()` to an origin that reads nothing takes 300 MiB
// in 66 ms without complaint, all of it held in the isolate). A socket's WritableStream
// resolves each write when the octets are handed to the connection and stalls when the
// peer stops reading (after the kernel's buffers, ~4 MiB on loopback). So `bufferedAmount`
// here is exact — octets passed to send() and not yet written — and `drained(n)` lets the
// relay stop taking client input until it falls to n (relay.ts, "backpressure").
//
// The opening handshake (RFC 6455 section 4.1): GET with Upgrade/Connection, a random
// Sec-WebSocket-Key, version 13, the subprotocol and the caller's headers (the edge token);
// the answer must be 101 with the matching Sec-WebSocket-Accept (section 4.2.2: base64 of
// SHA-1 of key + GUID) and, when it names one, our subprotocol. Frames (section 5): ours
// are masked with a fresh key each (5.3), one binary frame per send(); the server's must be
// unmasked; binary and continuation payloads are delivered as they come (the SMTP stream's
// frame boundaries mean nothing: edge/README.md contract 2), a text frame is delivered as a
// string (the relay closes 1003), ping is answered with pong (5.5.2), close is answered and
// ends the connection (5.5.1). A frame longer than MAX_FRAME (mxgate's replies are small),
// a reserved bit or opcode, or a fragmented control frame is a protocol error: close 1002.
// wss:// is TLS from `connect()` (secureTransport "on": the platform's certificate checks).
//
// Trust: the origin is our own mxgate, but its bytes are parsed defensively (lengths
// bounded before anything is allocated). The `connect()` limits apply: no port 25 and no
// Cloudflare-proxied address — an origin behind Cloudflare's proxy needs the fetch
// transport (ORIGIN_TRANSPORT = "fetch", relay.ts).

import { connect } from "cloudflare:sockets";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MAX_HEADER = 16 * 1024;
export const MAX_FRAME = 1024 * 1024;

const encoder = new TextEncoder();

function b64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// A client frame (FIN set, masked) around `payload`.
export function clientFrame(opcode: number, payload: Uint8Array, mask = crypto.getRandomValues(new Uint8Array(4))): Uint8Array {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = new Uint8Array(head + 4 + n);
  out[0] = 0x80 | opcode;
  if (n < 126) {
    out[1] = 0x80 | n;
  } else if (n < 65536) {
    out[1] = 0x80 | 126;
    out[2] = n >> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = 0x80 | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(n));
  }
  out.set(mask, head);
  const body = head + 4;
  for (let i = 0; i < n; i++) out[body + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

export type FrameEvent =
  | { kind: "data"; bytes: Uint8Array } // binary or continuation payload (possibly part of a frame)
  | { kind: "text"; text: string }
  | { kind: "ping"; payload: Uint8Array }
  | { kind: "close"; code: number; reason: string }
  | { kind: "error"; code: number; reason: string };

// Incremental parser of server frames (RFC 6455 section 5.2). Binary and continuation
// payloads come out as they arrive; text and control frames whole (bounded).
export class FrameReader {
  private buf: Uint8Array = new Uint8Array(0);
  private left = 0; // payload octets of the current data frame still to come
  private inText = false; // a text message is being read (its frames are collected)
  private textDone = false; // ... and its final frame is the current one
  private text: Uint8Array[] = [];
  private failed = false;

  push(chunk: Uint8Array): FrameEvent[] {
    const out: FrameEvent[] = [];
    if (this.failed) return out;
    this.buf = concat(this.buf, chunk);
    for (;;) {
      if (this.left > 0) {
        if (this.buf.length === 0) return out;
        const n = Math.min(this.left, this.buf.length);
        const part = this.buf.slice(0, n);
        this.buf = this.buf.subarray(n);
        this.left -= n;
        if (this.inText) this.text.push(part);
        else out.push({ kind: "data", bytes: part });
        if (this.left === 0 && this.inText && this.textDone) this.flushText(out);
        continue;
      }
      if (this.buf.length < 2) return out;
      const b0 = this.buf[0]!;
      const b1 = this.buf[1]!;
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      if ((b0 & 0x70) !== 0) return this.fail(out, "reserved bits set");
      if ((b1 & 0x80) !== 0) return this.fail(out, "masked server frame");
      let len = b1 & 0x7f;
      let head = 2;
      if (len === 126) {
        if (this.buf.length < 4) return out;
        len = (this.buf[2]! << 8) | this.buf[3]!;
        head = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return out;
        const big = new DataView(this.buf.buffer, this.buf.byteOffset + 2, 8).getBigUint64(0);
        if (big > BigInt(MAX_FRAME)) return this.fail(out, "frame too long", 1009);
        len = Number(big);
        head = 10;
      }
      if (len > MAX_FRAME) return this.fail(out, "frame too long", 1009);
      const control = opcode >= 8;
      if (control) {
        if (!fin || len > 125) return this.fail(out, "bad control frame");
        if (this.buf.length < head + len) return out;
        const payload = this.buf.slice(head, head + len);
        this.buf = this.buf.subarray(head + len);
        if (opcode === 0x8) {
          const code = len >= 2 ? (payload[0]! << 8) | payload[1]! : 1005;
          out.push({ kind: "close", code, reason: new TextDecoder().decode(payload.subarray(2)) });
          this.failed = true; // nothing follows a close
          return out;
        }
        if (opcode === 0x9) out.push({ kind: "ping", payload });
        else if (opcode !== 0xa) return this.fail(out, "reserved opcode");
        continue;
      }
      if (opcode === 0x1 || (opcode === 0x0 && this.inText)) {
        if (opcode === 0x1 && this.inText) return this.fail(out, "text frame inside a message");
        this.inText = true;
        this.textDone = fin;
        if (this.text.reduce((n, t) => n + t.length, 0) + len > MAX_FRAME) return this.fail(out, "text too long", 1009);
      } else if (opcode === 0x2 && this.inText) {
        return this.fail(out, "binary frame inside a text message");
      } else if (opcode !== 0x2 && opcode !== 0x0) {
        return this.fail(out, "reserved opcode");
      }
      this.buf = this.buf.subarray(head);
      this.left = len;
      if (len === 0 && this.inText && this.textDone) this.flushText(out);
    }
  }

  private flushText(out: FrameEvent[]): void {
    let all: Uint8Array = new Uint8Array(0);
    for (const t of this.text) all = concat(all, t);
    this.text = [];
    this.inText = false;
    out.push({ kind: "text", text: new TextDecoder().decode(all) });
  }

  private fail(out: FrameEvent[], reason: string, code = 1002): FrameEvent[] {
    this.failed = true;
    out.push({ kind: "error", code, reason });
    return out;
  }
}

type Listener = (e: { data?: unknown; code?: number; reason?: string }) => void;

// The subset of a WebSocket the relay uses, plus bufferedAmount and drained().
export class OriginSocket {
  binaryType = "arraybuffer"; // what the relay sets on a WebSocket; data is always an ArrayBuffer
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private listeners: Record<string, Listener[]> = { message: [], close: [], error: [] };
  private buffered = 0;
  private waiters: { below: number; resolve: () => void }[] = [];
  private closing = false;
  private ended = false;

  constructor(
    private readonly socket: Socket,
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly early: Uint8Array,
  ) {
    this.writer = socket.writable.getWriter();
  }

  // Octets passed to send() and not yet written to the connection.
  get bufferedAmount(): number {
    return this.buffered;
  }

  // Resolves once bufferedAmount <= `below` (at once if it is), or when the socket ends.
  drained(below: number): Promise<void> {
    if (this.buffered <= below || this.ended) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ below, resolve }));
  }

  addEventListener(type: "message" | "close" | "error", listener: Listener): void {
    this.listeners[type]!.push(listener);
  }

  send(data: Uint8Array | ArrayBuffer): void {
    if (this.closing || this.ended) throw new Error("origin socket closed");
    this.write(clientFrame(0x2, data instanceof Uint8Array ? data : new Uint8Array(data)));
  }

  close(code = 1000, reason = ""): void {
    if (this.closing || this.ended) return;
    this.closing = true;
    const r = encoder.encode(reason).subarray(0, 123);
    const payload = new Uint8Array(2 + r.length);
    payload[0] = code >> 8;
    payload[1] = code & 0xff;
    payload.set(r, 2);
    this.write(clientFrame(0x8, payload));
    // The server answers with its close and ends the connection; do not wait for ever.
    setTimeout(() => this.end(1006, "no close from origin"), 2000);
  }

  // Starts reading frames (until the connection ends): call once the listeners are in
  // place, since frames may already be waiting (the origin's 220 can come with the 101).
  start(): void {
    void this.run();
  }

  private async run(): Promise<void> {
    const frames = new FrameReader();
    const handle = (events: FrameEvent[]): boolean => {
      for (const e of events) {
        switch (e.kind) {
          case "data":
            this.emit("message", { data: e.bytes.buffer.slice(e.bytes.byteOffset, e.bytes.byteOffset + e.bytes.length) });
            break;
          case "text":
            this.emit("message", { data: e.text });
            break;
          case "ping":
            if (!this.closing) this.write(clientFrame(0xa, e.payload));
            break;
          case "close":
            if (!this.closing) {
              this.closing = true;
              this.write(clientFrame(0x8, new Uint8Array(e.code === 1005 ? [] : [e.code >> 8, e.code & 0xff])));
            }
            this.end(e.code, e.reason);
            return false;
          case "error":
            this.write(clientFrame(0x8, new Uint8Array([e.code >> 8, e.code & 0xff])));
            this.emit("error", { reason: e.reason });
            this.end(e.code, e.reason);
            return false;
        }
      }
      return true;
    };
    try {
      if (this.early.length > 0 && !handle(frames.push(this.early))) return;
      for (;;) {
        const { value, done } = await this.reader.read();
        if (done) break;
        if (!handle(frames.push(value))) return;
      }
      this.end(1006, "origin connection ended");
    } catch (e) {
      if (!this.ended) this.emit("error", { reason: String(e) });
      this.end(1006, String(e).slice(0, 120));
    }
  }

  private write(frame: Uint8Array): void {
    this.buffered += frame.length;
    this.writer.write(frame).then(
      () => {
        this.buffered -= frame.length;
        this.wake();
      },
      (e) => {
        this.buffered -= frame.length;
        if (!this.ended) this.emit("error", { reason: String(e) });
        this.end(1006, "write failed");
      },
    );
  }

  private wake(): void {
    const still: typeof this.waiters = [];
    for (const w of this.waiters) (this.buffered <= w.below || this.ended ? w.resolve() : still.push(w));
    this.waiters = still;
  }

  private end(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.closing = true;
    this.wake();
    this.socket.close().catch(() => {});
    this.emit("close", { code, reason });
  }

  private emit(type: string, e: { data?: unknown; code?: number; reason?: string }): void {
    for (const l of this.listeners[type] ?? []) l(e);
  }
}

// Opens `url` (ws:, wss:, http:, https:) as a WebSocket over connect(), sending `headers`;
// the open OriginSocket (not reading yet: start() it), or why not.
export async function connectOriginSocket(url: string, protocol: string, headers: Record<string, string>, timeoutMs: number): Promise<OriginSocket | string> {
  let u: URL;
  try {
    u = new URL(url.replace(/^http(s?):/i, "ws$1:"));
  } catch {
    return "bad URL";
  }
  const tls = u.protocol === "wss:";
  const port = Number(u.port || (tls ? 443 : 80));
  let socket: Socket;
  try {
    socket = connect({ hostname: u.hostname.replace(/^\[|\]$/g, ""), port }, { secureTransport: tls ? "on" : "off", allowHalfOpen: false });
  } catch (e) {
    return String(e).slice(0, 200);
  }
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no upgrade within ${timeoutMs} ms`), timeoutMs);
  });
  const reader = socket.readable.getReader();
  const attempt = (async (): Promise<OriginSocket | string> => {
    await socket.opened;
    const key = b64(crypto.getRandomValues(new Uint8Array(16)));
    const lines = [
      `GET ${u.pathname}${u.search} HTTP/1.1`,
      `Host: ${u.host}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${key}`,
      "Sec-WebSocket-Version: 13",
      `Sec-WebSocket-Protocol: ${protocol}`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    const w = socket.writable.getWriter();
    await w.write(encoder.encode(lines.join("\r\n") + "\r\n\r\n"));
    w.releaseLock();
    let buf: Uint8Array = new Uint8Array(0);
    let end = -1;
    while (end < 0) {
      const { value, done } = await reader.read();
      if (done) return "connection closed during the upgrade";
      buf = concat(buf, value);
      for (let i = Math.max(0, buf.length - value.length - 3); i + 3 < buf.length; i++) {
        if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) {
          end = i;
          break;
        }
      }
      if (end < 0 && buf.length > MAX_HEADER) return "upgrade response header too long";
    }
    const [status, ...fields] = new TextDecoder("latin1").decode(buf.subarray(0, end)).split("\r\n");
    const code = /^HTTP\/1\.1 (\d{3})/.exec(status ?? "")?.[1];
    if (code !== "101") return `HTTP ${code ?? "?"}`;
    const h = new Map<string, string>();
    for (const f of fields) {
      const i = f.indexOf(":");
      if (i > 0) h.set(f.slice(0, i).trim().toLowerCase(), f.slice(i + 1).trim());
    }
    const want = b64(new Uint8Array(await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID))));
    if ((h.get("upgrade") ?? "").toLowerCase() !== "websocket" || h.get("sec-websocket-accept") !== want) return "bad upgrade answer";
    const selected = h.get("sec-websocket-protocol");
    if (selected !== undefined && selected !== protocol) return `subprotocol ${selected}`;
    return new OriginSocket(socket, reader, buf.slice(end + 4));
  })().catch((e) => String(e).slice(0, 200));
  const got = await Promise.race([attempt, timeout]);
  if (timer !== null) clearTimeout(timer);
  if (typeof got === "string") {
    socket.close().catch(() => {});
    return got;
  }
  return got;
}
