// forward.ts — the email() handler's work: a message Cloudflare Email Routing received goes
// to mxgate's HTTP ingest (contract section 1: POST <region>/v1/messages, the raw message
// as the body, the envelope in MX-* headers, Standard Webhooks signature over the body).
//
// Outcomes (the sending MTA sees them through Email Routing):
//   - stored: some region answered 201 (mxgate answers 2xx only once the message is durable);
//   - setReject (permanent, 5xx) only for policy: a blocklisted sender, a recipient domain
//     no tenant owns, a message over the size limit (the edge's MAX_MESSAGE_BYTES or a
//     region's 413 — retrying cannot make it smaller);
//   - a thrown error (temporary, 4xx: the MTA retries) for everything else: the sender
//     domain's rate limit, every region down or refusing (429, 503, 5xx, 401, timeouts,
//     refused connections), a misconfigured secret. The message is never dropped.
//
// Why the message is buffered and not streamed: the signature is a header, so it must be
// known before the first body byte is sent, and it covers the whole body; and failover to
// the next region needs the bytes again. So the body is read once into a list of chunks
// (no contiguous copy), capped at MAX_MESSAGE_BYTES (default 25 MiB, Email Routing's own
// ceiling), hashed as it arrives; each attempt signs the chunks with an incremental
// HMAC (signing.ts: two native SHA-256 DigestStreams, no second copy) and sends them through
// a FixedLengthStream (so mxgate gets a Content-Length). Peak memory per message is about
// its size, within a Worker's 128 MB; the cap bounds it.
//
// Idempotency: webhook-id is derived from the envelope and the body (SHA-256), so a
// delivery Email Routing retries with the same bytes after a lost answer is not stored
// twice by a region (mxgate keeps the first answer for 24 h). Different regions do not share
// that memory: a region that stored the message but whose answer was lost, followed by a
// second region, gives two copies — at least once, never zero.
//
// MX-Client-IP / MX-Client-Helo: Email Routing does not hand the Worker the sending MTA's
// address; they are read from the topmost Received header field (the one Cloudflare's MX
// adds: "from <helo> (<name> [<ip>])"). Without one the address is "0.0.0.0" (unspecified)
// and no HELO is sent.
//
// Trust: the message bytes are untrusted and opaque (only the top of the header section is
// looked at); envelope addresses come from Email Routing.

import { blockedSender, domainOf, loadConfig, type Region, tenantForDomain } from "./config";
import { type Env, settings } from "./env";
import { routeOrder } from "./geo-router";
import { limiterFor } from "./rate-limiter";
import { hex, INGEST_SIGNATURE_VERSION, parseSecret, signedEnvelope, signHeaders } from "./signing";

export class TemporaryFailure extends Error {}

export const REJECT = {
  blocked: "550 5.7.1 Error: sender address rejected",
  unknownTenant: "550 5.1.2 Error: recipient domain not served here",
  tooBig: "552 5.3.4 Error: message file too big",
};

const encoder = new TextEncoder();

export interface BufferedBody {
  chunks: Uint8Array[];
  size: number;
  sha256: Uint8Array; // of the envelope prefix and the body (the idempotency key)
}

// Reads `raw` into chunks, at most `cap` octets; null when it is longer.
export async function readCapped(raw: ReadableStream<Uint8Array>, cap: number, prefix: Uint8Array): Promise<BufferedBody | null> {
  const digest = new crypto.DigestStream("SHA-256");
  const dw = digest.getWriter();
  await dw.write(prefix);
  const reader = raw.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const chunk = value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBuffer);
    size += chunk.byteLength;
    if (size > cap) {
      await reader.cancel("over the size limit");
      await dw.abort("over the size limit");
      return null;
    }
    if (chunk.byteLength === 0) continue;
    chunks.push(chunk);
    await dw.write(chunk);
  }
  await dw.close();
  return { chunks, size, sha256: new Uint8Array(await digest.digest) };
}

// The client of the topmost Received field: "from <helo> (... [<ip>] ...)".
export function receivedClient(chunks: Uint8Array[]): { ip: string; helo: string | null } {
  const head = new Uint8Array(Math.min(64 * 1024, chunks.reduce((n, c) => n + c.byteLength, 0)));
  let off = 0;
  for (const c of chunks) {
    if (off >= head.length) break;
    const part = c.subarray(0, head.length - off);
    head.set(part, off);
    off += part.length;
  }
  const text = new TextDecoder("latin1").decode(head);
  const headerEnd = text.search(/\r?\n\r?\n/);
  const headers = (headerEnd < 0 ? text : text.slice(0, headerEnd)).replace(/\r?\n[ \t]+/g, " "); // unfold
  const m = /^Received:\s*from\s+(\S+)\s*\(([^)]*)\)/im.exec(headers);
  if (!m) return { ip: "0.0.0.0", helo: null };
  const literal = /\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]/.exec(m[2]!);
  const ip = literal && (/^\d{1,3}(\.\d{1,3}){3}$/.test(literal[1]!) || literal[1]!.includes(":")) ? literal[1]! : "0.0.0.0";
  const helo = /^[A-Za-z0-9.\-_:[\]]{1,255}$/.test(m[1]!) ? m[1]! : null;
  return { ip, helo };
}

// A header value for a string that may hold UTF-8 (SMTPUTF8 addresses): Headers take
// octets as Latin-1 code points, so the UTF-8 octets go on the wire unchanged.
export function octets(s: string): string {
  return Array.from(encoder.encode(s), (b) => String.fromCharCode(b)).join("");
}

export interface Attempt {
  region: string;
  status: number; // 0: no HTTP answer
  detail: string;
  id?: string;
}

export async function postToRegion(
  region: Region,
  key: Uint8Array,
  webhookId: string,
  body: BufferedBody,
  envelope: Record<string, string>,
  timeoutMs: number,
): Promise<Attempt> {
  // "v1e": the envelope headers and then the message (docs/edge.md), so that neither can be
  // changed on the way without the signature failing.
  const signed = await signHeaders(key, webhookId, Date.now() / 1000, [signedEnvelope(envelope), ...body.chunks], INGEST_SIGNATURE_VERSION);
  const { readable, writable } = new FixedLengthStream(body.size);
  const writer = writable.getWriter();
  writer.closed.catch(() => {}); // a failed attempt errors the stream; that is reported below
  let pumped = false;
  const pump = (async () => {
    for (const c of body.chunks) await writer.write(c);
    await writer.close();
    pumped = true;
  })().catch(() => {});
  try {
    const res = await fetch(`${region.ingest}/v1/messages`, {
      method: "POST",
      headers: { "Content-Type": "message/rfc822", ...envelope, ...signed },
      body: readable,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = (await res.text()).slice(0, 500);
    let id: string | undefined;
    if (res.status === 201) {
      try {
        id = (JSON.parse(text) as { id?: string }).id;
      } catch {
        // a 201 is a 201; the id is for the log only
      }
    }
    return { region: region.name, status: res.status, detail: text, id };
  } catch (e) {
    return { region: region.name, status: 0, detail: String(e).slice(0, 200) };
  } finally {
    if (!pumped) await writer.abort("request over").catch(() => {});
    await pump;
  }
}

// The email() handler. Returns the attempts (for the log and tests); throws for a
// temporary failure; calls setReject for a policy refusal.
export async function forwardEmail(message: ForwardableEmailMessage, env: Env): Promise<Attempt[]> {
  const s = settings(env);
  const config = await loadConfig(env, s.configCacheMs);
  let key: Uint8Array;
  try {
    key = parseSecret(env.MXGATE_EDGE_SECRET);
  } catch (e) {
    throw new TemporaryFailure(`edge misconfigured: ${String(e)}`);
  }
  if (await blockedSender(env, message.from)) {
    message.setReject(REJECT.blocked);
    return [];
  }
  const tenant = tenantForDomain(config, domainOf(message.to));
  if (!tenant) {
    message.setReject(REJECT.unknownTenant);
    return [];
  }
  if (message.rawSize > s.maxMessageBytes) {
    message.setReject(REJECT.tooBig);
    return [];
  }
  const senderDomain = domainOf(message.from);
  if (senderDomain !== "" && s.senderMessages) {
    let allowed = true;
    try {
      allowed = (await limiterFor(env.RATE_LIMITER, `sender:${senderDomain}`).decide([{ name: "messages", ...s.senderMessages }])).allowed;
    } catch (e) {
      console.error(`edge: rate limiter unavailable for sender:${senderDomain}: ${String(e)}`);
    }
    if (!allowed) throw new TemporaryFailure(`451 4.7.1 rate limit exceeded for ${senderDomain}, try again later`);
  }
  const body = await readCapped(message.raw, s.maxMessageBytes, encoder.encode(`${message.from}\n${message.to}\n`));
  if (!body) {
    message.setReject(REJECT.tooBig);
    return [];
  }
  const webhookId = `em_${hex(body.sha256).slice(0, 48)}`;
  const client = receivedClient(body.chunks);
  const envelope: Record<string, string> = {
    "MX-Mail-From": octets(`<${message.from}>`),
    "MX-Rcpt-To": octets(message.to),
    "MX-Client-IP": client.ip,
  };
  if (client.helo) envelope["MX-Client-Helo"] = client.helo;

  const attempts: Attempt[] = [];
  for (const region of routeOrder(config, {}, tenant, Date.now(), s.healthStaleMs)) {
    const a = await postToRegion(region, key, webhookId, body, envelope, s.ingestTimeoutMs);
    attempts.push(a);
    if (a.status === 201) {
      console.log(`edge: ${webhookId} stored by ${a.region} as ${a.id ?? "?"} (${body.size} octets, tenant ${tenant.name})`);
      return attempts;
    }
    if (a.status === 413) {
      message.setReject(REJECT.tooBig);
      return attempts;
    }
    console.warn(`edge: ${webhookId} not taken by ${a.region}: ${a.status} ${a.detail}`);
  }
  const why = attempts.map((a) => `${a.region}: ${a.status || "no answer"}`).join("; ") || "no regions";
  throw new TemporaryFailure(`451 4.3.0 no mail server took the message (${why}), try again later`);
}
