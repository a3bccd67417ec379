// relay.ts — the SMTP-over-WebSocket bridge at GET /v1/smtp (edge/README.md, contract
// sections 2 and 3): `mxgate bridge` (or any client speaking the contract) connects here;
// the Worker authenticates the tenant's bearer token, applies the per-IP connection
// limits, picks the mxgate region (geo-router.ts), opens a WebSocket to that region's
// `websocket` listener carrying the signed client-IP edge token, and relays binary frames
// both ways through the SMTP watcher (smtp.ts).
//
// Refusals after authentication are SMTP replies inside an accepted WebSocket (then close
// 1000), so the sending client behind the bridge reads a proper 421/554 and retries later:
// too many connections from the address (421 4.7.0), a blocklisted address (554 5.7.1), no
// region reachable (421 4.3.0). Before the upgrade there are only HTTP answers for what the
// bridge's operator must fix: no/unknown token 401, no subprotocol 400, not an upgrade 426.
//
// Backpressure: a Workers WebSocket exposes neither bufferedAmount nor a way to pause
// reading (workerd issue 988), so the relay speaks WebSocket to the origin itself over a
// `connect()` socket (origin-socket.ts), whose writes report when they are done: when more
// than RELAY_WINDOW_BYTES sent to the origin are not yet written (the origin or the path to
// it is slower than the client), the relay stops taking client input until half the window
// is written — it cannot stop the client's frames from arriving (the client leg is a
// runtime WebSocket), so they wait in the relay's queue, which is bounded with everything
// else it holds by MAX_HELD_BYTES: beyond that, or when the origin writes nothing for
// INGEST_TIMEOUT_MS, "421 4.4.5" and close. So a stalled origin costs the isolate at most
// window + MAX_HELD_BYTES per session instead of everything the client sends (with the
// runtime's WebSocket, send() queues without limit). Towards the client there is nothing
// to observe: that direction carries only the origin's replies, small by SMTP's lockstep.
// The watcher holds only what it must (while a reply or a check is due), and a client sends
// its message data only after 354 (or a BDAT's announced size).
// ORIGIN_TRANSPORT = "fetch" uses the runtime's WebSocket instead (no backpressure), for an
// origin behind Cloudflare's proxy (outbound sockets to Cloudflare's IP ranges are blocked).
//
// Trust: the client's bytes and headers are untrusted (the watcher and the token check see
// them first); CF-Connecting-IP is Cloudflare's; the origin is trusted for its replies.

import { blockedIp, blockedSender, loadConfig, tenantForToken } from "./config";
import { type Env, settings, type Settings } from "./env";
import { locationFromCf, routeOrder } from "./geo-router";
import { ipLimitKey } from "./ip";
import { connectOriginSocket, type OriginSocket } from "./origin-socket";
import { limiterFor, type RateCheck } from "./rate-limiter";
import { edgeToken, parseSecret, randomId } from "./signing";
import { type CheckVerdict, DEFAULT_WATCHER_OPTIONS, type SenderCheck, SmtpWatcher, type WatcherAction } from "./smtp";

export const SUBPROTOCOL = "smtp.mxgate.v1";

const REFUSE = {
  tooManyConnections: "421 4.7.0 Error: too many connections from your address, try again later",
  connectionRate: "421 4.7.0 Error: connection rate limit exceeded, try again later",
  blockedIp: "554 5.7.1 Error: connection refused",
  noRegion: "421 4.3.0 Error: no mail server available, try again later",
  senderBlocked: "550 5.7.1 Error: sender address rejected",
  senderMessages: "421 4.7.0 Error: too many messages from your sender domain, try again later",
  senderRecipients: "421 4.7.0 Error: too many recipients from your sender domain, try again later",
  sessionTooLong: "421 4.4.2 Error: session too long, try again later",
  originSlow: "421 4.4.5 Error: the mail server is not keeping up, try again later",
};

// The origin end of a relay: the runtime's WebSocket (fetch transport) or ours over a
// socket, which also reports bufferedAmount and can wait for it to fall (origin-socket.ts).
export type OriginEnd = WebSocket | OriginSocket;

const encoder = new TextEncoder();

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

// An accepted WebSocket that says one SMTP reply and closes.
function smtpRefusal(reply: string): Response {
  const pair = new WebSocketPair();
  const [client, server] = [pair[0], pair[1]];
  server.accept();
  server.send(encoder.encode(reply + "\r\n"));
  server.close(1000, "refused");
  return new Response(null, { status: 101, webSocket: client, headers: { "Sec-WebSocket-Protocol": SUBPROTOCOL } });
}

// Opens the origin WebSocket of `url` (ws:, wss:, http: or https:), or returns why not.
async function connectOrigin(url: string, headers: Record<string, string>, timeoutMs: number): Promise<WebSocket | string> {
  const httpUrl = url.replace(/^ws(s?):/i, "http$1:");
  // The timeout bounds the upgrade only: a signal that fired later (AbortSignal.timeout)
  // would close the established WebSocket with it.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`no upgrade within ${timeoutMs} ms`)), timeoutMs);
  try {
    const res = await fetch(httpUrl, {
      headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": SUBPROTOCOL, ...headers },
      signal: abort.signal,
    });
    clearTimeout(timer);
    const ws = res.webSocket;
    if (res.status !== 101 || !ws) {
      await res.body?.cancel();
      return `HTTP ${res.status}`;
    }
    const selected = res.headers.get("Sec-WebSocket-Protocol");
    if (selected !== null && selected !== SUBPROTOCOL) {
      ws.accept();
      ws.close(1002, "wrong subprotocol");
      return `subprotocol ${selected}`;
    }
    ws.accept();
    return ws;
  } catch (e) {
    return String(e).slice(0, 200);
  } finally {
    clearTimeout(timer);
  }
}

export async function handleSmtpUpgrade(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  if (request.method !== "GET") return json(405, { error: "GET with Upgrade: websocket" }, { Allow: "GET" });
  if ((request.headers.get("Upgrade") ?? "").toLowerCase() !== "websocket") {
    return json(426, { error: "WebSocket upgrade required" }, { Upgrade: "websocket" });
  }
  const offered = (request.headers.get("Sec-WebSocket-Protocol") ?? "").split(",").map((p) => p.trim());
  if (!offered.includes(SUBPROTOCOL)) return json(400, { error: `offer subprotocol ${SUBPROTOCOL}` });
  const s = settings(env);
  const config = await loadConfig(env, s.configCacheMs);
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get("Authorization") ?? "");
  const tenant = bearer ? await tenantForToken(config, bearer[1]!) : null;
  if (!tenant) return json(401, { error: "unknown tenant token" }, { "WWW-Authenticate": 'Bearer realm="mxgate-edge"' });
  const clientIp = request.headers.get("CF-Connecting-IP");
  if (!clientIp) return json(400, { error: "no client address" });
  let key: Uint8Array;
  try {
    key = parseSecret(env.MXGATE_EDGE_SECRET);
  } catch (e) {
    console.error(`edge: ${String(e)}`);
    return json(500, { error: "edge misconfigured" });
  }
  if (await blockedIp(env, clientIp)) return smtpRefusal(REFUSE.blockedIp);

  // Per-IP limits: one Durable Object per address (per /64 for IPv6: ip.ts), one round trip.
  const leaseId = randomId("conn_");
  const ipKey = `ip:${ipLimitKey(clientIp)}`;
  const ipLimiter = limiterFor(env.RATE_LIMITER, ipKey);
  const rate: RateCheck[] = s.ipConnections ? [{ name: "connections", ...s.ipConnections }] : [];
  let leased = false;
  if (s.ipConcurrent > 0 || rate.length > 0) {
    try {
      const d = await ipLimiter.admit(leaseId, s.ipConcurrent, s.maxSessionMs + 60_000, rate);
      if (!d.allowed) return smtpRefusal(d.refused === "concurrent" ? REFUSE.tooManyConnections : REFUSE.connectionRate);
      leased = true;
    } catch (e) {
      // The origin applies its own limits: a limiter outage must not stop mail (fail open).
      console.error(`edge: rate limiter unavailable for ${ipKey}: ${String(e)}`);
    }
  }
  const release = () => {
    if (leased) ctx.waitUntil(ipLimiter.release(leaseId).catch((e) => console.error(`edge: release: ${String(e)}`)));
    leased = false;
  };

  const cf = (request as unknown as { cf?: Record<string, unknown> }).cf;
  const regions = routeOrder(config, locationFromCf(cf), tenant, Date.now(), s.healthStaleMs);
  let origin: OriginEnd | null = null;
  const failures: string[] = [];
  for (const r of regions) {
    const token = await edgeToken(key, clientIp, Date.now() / 1000);
    const headers = { ...token, Authorization: `Bearer ${bearer![1]}` };
    const got = s.originTransport === "fetch"
      ? await connectOrigin(r.websocket, headers, s.ingestTimeoutMs)
      : await connectOriginSocket(r.websocket, SUBPROTOCOL, headers, s.ingestTimeoutMs);
    if (typeof got !== "string") {
      origin = got;
      break;
    }
    failures.push(`${r.name}: ${got}`);
  }
  if (!origin) {
    console.error(`edge: no region for ${clientIp} (tenant ${tenant.name}): ${failures.join("; ") || "no regions"}`);
    release();
    return smtpRefusal(REFUSE.noRegion);
  }

  const pair = new WebSocketPair();
  const [client, server] = [pair[0], pair[1]];
  server.accept();
  new Relay(server, origin, env, s, release).start();
  return new Response(null, { status: 101, webSocket: client, headers: { "Sec-WebSocket-Protocol": SUBPROTOCOL } });
}

// One relayed session. Every event of either side goes through one promise chain, so the
// watcher sees the two streams in arrival order and a check's answer before later input.
export class Relay {
  private readonly watcher: SmtpWatcher;
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private done = false;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly client: WebSocket,
    private readonly origin: OriginEnd,
    private readonly env: Env,
    private readonly s: Settings,
    private readonly onEnd: () => void,
  ) {
    this.watcher = new SmtpWatcher({
      ...DEFAULT_WATCHER_OPTIONS,
      maxRecipients: s.recipientsPerConnection,
      maxHeldBytes: s.maxHeldBytes,
    });
  }

  start(): void {
    // Binary frames as ArrayBuffer (the standard default, and workerd's with newer dates, is Blob).
    this.client.binaryType = "arraybuffer";
    this.origin.binaryType = "arraybuffer";
    const origin = this.origin as WebSocket; // OriginSocket has the same three events
    this.client.addEventListener("message", (e) => this.onMessage("client", e.data));
    origin.addEventListener("message", (e) => this.onMessage("origin", e.data));
    this.client.addEventListener("close", () => this.enqueue(0, async () => this.finish(1000, "client closed")));
    origin.addEventListener("close", () => this.enqueue(0, async () => this.finish(1000, "origin closed")));
    this.client.addEventListener("error", () => this.finish(1011, "client error"));
    origin.addEventListener("error", () => this.finish(1011, "origin error"));
    if ("start" in this.origin) this.origin.start();
    this.timer = setTimeout(() => this.enqueue(0, async () => {
      this.sendClient(encoder.encode(REFUSE.sessionTooLong + "\r\n"));
      this.finish(1000, "session too long");
    }), this.s.maxSessionMs);
  }

  private onMessage(side: "client" | "origin", data: unknown): void {
    if (this.done) return;
    if (typeof data === "string") {
      // Contract: text frames are a protocol error.
      (side === "client" ? this.client : this.origin).close(1003, "binary frames only");
      this.finish(1000, `text frame from ${side}`);
      return;
    }
    const size = data instanceof Blob ? data.size : (data as ArrayBuffer).byteLength;
    this.enqueue(size, async () => {
      const bytes = new Uint8Array(data instanceof Blob ? await data.arrayBuffer() : (data as ArrayBuffer));
      const actions = side === "client" ? this.watcher.client(bytes) : this.watcher.server(bytes);
      await this.perform(actions);
    });
  }

  private enqueue(size: number, step: () => Promise<void>): void {
    this.queued += size;
    if (this.queued + this.watcher.heldBytes > this.s.maxHeldBytes && !this.done) {
      // Input piles up either because the client pipelines past a pending reply or check,
      // or because the origin is not taking it (backpressure, above).
      const origin = this.origin as Partial<OriginSocket>;
      const stalled = (origin.bufferedAmount ?? 0) > this.s.relayWindowBytes / 2;
      this.sendClient(encoder.encode(stalled ? REFUSE.originSlow + "\r\n" : "421 4.7.0 Error: too much pipelined input, try again later\r\n"));
      this.finish(1000, stalled ? "origin not draining" : "held too much");
      return;
    }
    this.chain = this.chain
      .then(async () => {
        this.queued -= size;
        if (!this.done) await step();
      })
      .catch((e) => {
        console.error(`edge: relay: ${String(e)}`);
        this.finish(1011, "relay error");
      });
  }

  private async perform(actions: WatcherAction[]): Promise<void> {
    for (const a of actions) {
      if (this.done) return;
      switch (a.kind) {
        case "toServer":
          this.origin.send(a.data);
          if ("drained" in this.origin && this.origin.bufferedAmount > this.s.relayWindowBytes) {
            if (!(await this.originDrained(this.origin))) return;
          }
          break;
        case "toClient":
          this.sendClient(a.data);
          break;
        case "check":
          await this.perform(this.watcher.answer(await this.judge(a.check)));
          break;
        case "close":
          this.finish(1000, a.reason);
          return;
      }
    }
  }

  // Waits (holding the chain: client input queues behind it) until half the window is
  // written; false when the origin wrote nothing for the origin timeout (the relay is over).
  private async originDrained(origin: OriginSocket): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const slow = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.s.ingestTimeoutMs);
    });
    const ok = await Promise.race([origin.drained(this.s.relayWindowBytes / 2).then(() => true), slow]);
    if (timer !== null) clearTimeout(timer);
    if (!ok) {
      this.sendClient(encoder.encode(REFUSE.originSlow + "\r\n"));
      this.finish(1000, "origin not draining");
    }
    return ok && !this.done;
  }

  private sendClient(data: Uint8Array): void {
    try {
      this.client.send(data);
    } catch {
      // closed underneath us: finish() follows from the close event
    }
  }

  // MAIL: blocklist, then the sender domain's message rate; RCPT: its recipient rate.
  private async judge(check: SenderCheck): Promise<CheckVerdict> {
    try {
      if (check.stage === "mail") {
        if (await blockedSender(this.env, check.sender)) return { kind: "refuse", reply: REFUSE.senderBlocked };
        if (check.domain === "" || !this.s.senderMessages) return { kind: "allow" };
        const d = await limiterFor(this.env.RATE_LIMITER, `sender:${check.domain}`).decide([{ name: "messages", ...this.s.senderMessages }]);
        return d.allowed ? { kind: "allow" } : { kind: "close", reply: REFUSE.senderMessages };
      }
      if (!check.senderDomain || !this.s.senderRecipients) return { kind: "allow" };
      const d = await limiterFor(this.env.RATE_LIMITER, `sender:${check.senderDomain}`).decide([{ name: "recipients", ...this.s.senderRecipients }]);
      return d.allowed ? { kind: "allow" } : { kind: "close", reply: REFUSE.senderRecipients };
    } catch (e) {
      console.error(`edge: sender check unavailable: ${String(e)}`);
      return { kind: "allow" }; // fail open: mxgate applies its own limits
    }
  }

  private finish(code: number, reason: string): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== null) clearTimeout(this.timer);
    for (const ws of [this.client, this.origin]) {
      try {
        ws.close(code, reason.slice(0, 120));
      } catch {
        // already closed
      }
    }
    this.onEnd();
  }
}
