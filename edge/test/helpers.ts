// Shared test helpers: the region table pointing at the loopback origins of global-setup.mjs,
// KV setup, an Email Routing message, and a small SMTP client over the Worker's WebSocket.
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, inject } from "vitest";
import worker from "../src/index";

export const ORIGIN_A = `http://127.0.0.1:${inject("originA")}`;
export const ORIGIN_B = `http://127.0.0.1:${inject("originB")}`;
export const CLOSED = `http://127.0.0.1:${inject("closedPort")}`;
export const CLOSED2 = `http://127.0.0.1:${inject("closedPort2")}`;

export interface RegionEntry {
  name: string;
  ingest: string;
  websocket: string;
  lat: number;
  lon: number;
  countries?: string[];
  continents?: string[];
}

export function region(name: string, base: string, lat = 50.11, lon = 8.68, extra: Partial<RegionEntry> = {}): RegionEntry {
  return { name, ingest: base, websocket: `${base.replace(/^http/, "ws")}/v1/smtp`, lat, lon, ...extra };
}

export const TOKEN = "tok-acme-0123456789";

export async function sha256hex(s: string | Uint8Array): Promise<string> {
  const data = typeof s === "string" ? new TextEncoder().encode(s) : s;
  return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", data)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function configure(regions: RegionEntry[], tenants?: Record<string, unknown>): Promise<void> {
  await env.EDGE_KV.put("regions", JSON.stringify(regions));
  await env.EDGE_KV.put(
    "tenants",
    JSON.stringify(tenants ?? { acme: { domains: ["acme.test"], token_sha256: [await sha256hex(TOKEN)] } }),
  );
  await env.EDGE_KV.delete("health");
}

export async function resetOrigins(): Promise<void> {
  for (const o of [ORIGIN_A, ORIGIN_B]) await (await fetch(`${o}/_test/reset`, { method: "POST" })).arrayBuffer();
}

export async function setMode(origin: string, mode: Record<string, unknown>): Promise<void> {
  await (await fetch(`${origin}/_test/mode`, { method: "POST", body: JSON.stringify(mode) })).arrayBuffer();
}

export interface StoredMessage {
  region: string;
  id: string;
  webhookId: string;
  contentLength: string | null;
  mailFrom: string;
  rcptTo: string[];
  clientIp: string;
  clientHelo: string | null;
  sha256: string;
  size: number;
  bodyBase64: string | null;
}

export async function stored(origin: string): Promise<StoredMessage[]> {
  return (await fetch(`${origin}/_test/messages`)).json();
}

export interface Session {
  region: string;
  clientIp: string;
  authorization: string | null;
  received: string;
  messages: { from: string; rcpt: string[]; body: string }[];
  textFrame: boolean;
  closed: boolean;
  stalled: boolean;
}

export async function sessions(origin: string): Promise<Session[]> {
  return (await fetch(`${origin}/_test/sessions`)).json();
}

export function fromBase64(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

// A ForwardableEmailMessage as Email Routing hands it to email(), with raw streamed in chunks.
export function emailMessage(from: string, to: string, raw: Uint8Array, chunk = 64 * 1024) {
  const state = { rejected: null as string | null };
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (i >= raw.length) return c.close();
      c.enqueue(raw.slice(i, i + chunk));
      i += chunk;
    },
  });
  const message = {
    from,
    to,
    raw: stream,
    rawSize: raw.length,
    headers: new Headers(),
    setReject(reason: string) {
      state.rejected = reason;
    },
    async forward() {
      throw new Error("not used");
    },
    async reply() {
      throw new Error("not used");
    },
  } as unknown as ForwardableEmailMessage;
  return { message, state };
}

const latin1 = new TextDecoder("latin1");

// The client side of a /v1/smtp WebSocket: send lines, wait for replies.
export class WsSmtpClient {
  buf = "";
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.accept();
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", (e) => {
      this.buf += typeof e.data === "string" ? `<text:${e.data}>` : latin1.decode(new Uint8Array(e.data as ArrayBuffer));
      this.wake();
    });
    ws.addEventListener("close", (e) => {
      this.closed = { code: e.code, reason: e.reason };
      this.wake();
    });
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(s: string | Uint8Array) {
    this.ws.send(typeof s === "string" ? Uint8Array.from(s, (c) => c.charCodeAt(0)) : s);
  }

  // Waits until the received text has `n` complete replies after the ones already taken.
  async replies(n: number, timeoutMs = 8000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = completeReplies(this.buf);
      if (got.replies.length >= n) {
        this.buf = this.buf.slice(got.offsets[n - 1]);
        return got.replies.slice(0, n);
      }
      if (this.closed) throw new Error(`closed (${this.closed.code}) after ${JSON.stringify(this.buf)}`);
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${n} replies, have ${JSON.stringify(this.buf)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  async reply(): Promise<string> {
    return (await this.replies(1))[0]!;
  }

  async waitClosed(timeoutMs = 8000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("not closed");
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
    return this.closed;
  }
}

function completeReplies(s: string): { replies: string[]; offsets: number[] } {
  const replies: string[] = [];
  const offsets: number[] = [];
  let start = 0;
  let pos = 0;
  for (;;) {
    const lf = s.indexOf("\n", pos);
    if (lf < 0) break;
    const line = s.slice(pos, lf + 1);
    pos = lf + 1;
    if (line.length > 3 && line[3] === "-") continue;
    replies.push(s.slice(start, pos));
    offsets.push(pos);
    start = pos;
  }
  return { replies, offsets };
}

// Opens /v1/smtp as `mxgate bridge` does (subprotocol, bearer token), with an injected request.cf.
export type Cf = Record<string, unknown>;

export async function openBridge(opts: { ip?: string; token?: string | null; cf?: Cf; protocol?: string | null; e?: typeof env } = {}): Promise<Response> {
  const headers: Record<string, string> = { Upgrade: "websocket", "CF-Connecting-IP": opts.ip ?? "198.51.100.7" };
  if (opts.protocol !== null) headers["Sec-WebSocket-Protocol"] = opts.protocol ?? "smtp.mxgate.v1";
  if (opts.token !== null) headers.Authorization = `Bearer ${opts.token ?? TOKEN}`;
  const req = new Request("https://edge.test/v1/smtp", { headers, cf: opts.cf ?? {} } as RequestInit);
  return worker.fetch!(req as Request<unknown, IncomingRequestCfProperties>, opts.e ?? env, createExecutionContext());
}

export async function bridgeClient(opts: Parameters<typeof openBridge>[0] = {}): Promise<WsSmtpClient> {
  const res = await openBridge(opts);
  expect(res.status).toBe(101);
  expect(res.headers.get("Sec-WebSocket-Protocol")).toBe("smtp.mxgate.v1");
  return new WsSmtpClient(res.webSocket!);
}

