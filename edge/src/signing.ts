// signing.ts — the Standard Webhooks signing the contract with mxgate fixes (edge/README.md,
// "Wire contract"; mxgate's docs/edge.md): key = base64-decoded bytes after "whsec_",
// signature = base64 (standard, padded) of HMAC-SHA256(key, "<id>.<timestamp>.<content>"),
// header "webhook-signature: <version>,<sig>". The HTTP ingest signs as "v1e" with content =
// the envelope lines (signedEnvelope) followed by the message, so that the MX-* headers
// cannot be changed in transit; the WebSocket edge token signs the client IP as "v1".
//
// HMAC-SHA256 (RFC 2104) is computed here over a list of chunks with two native SHA-256
// DigestStreams, because WebCrypto's HMAC sign() takes one contiguous buffer: signing a
// buffered 25 MiB message that way would need a second 25 MiB copy.
//
// Trust: the secret is operator input (checked for the prefix and base64); contents are
// opaque bytes.

const encoder = new TextEncoder();

export class SecretError extends Error {}

// The key bytes of a "whsec_<base64>" secret.
export function parseSecret(secret: string | undefined): Uint8Array {
  if (!secret || !secret.startsWith("whsec_")) throw new SecretError("MXGATE_EDGE_SECRET must be whsec_<base64>");
  let bin: string;
  try {
    bin = atob(secret.slice("whsec_".length).trim());
  } catch {
    throw new SecretError("MXGATE_EDGE_SECRET is not valid base64 after whsec_");
  }
  if (bin.length === 0) throw new SecretError("MXGATE_EDGE_SECRET has an empty key");
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256Chunks(parts: Iterable<Uint8Array>): Promise<Uint8Array> {
  const stream = new crypto.DigestStream("SHA-256");
  const w = stream.getWriter();
  for (const p of parts) if (p.byteLength > 0) await w.write(p);
  await w.close();
  return new Uint8Array(await stream.digest);
}

const BLOCK = 64; // SHA-256 block size (RFC 2104 "B")

// HMAC-SHA256(key, concatenation of parts), RFC 2104 section 2, without concatenating.
export async function hmacSha256(key: Uint8Array, parts: Iterable<Uint8Array>): Promise<Uint8Array> {
  let k = key;
  if (k.length > BLOCK) k = await sha256Chunks([k]);
  const ipad = new Uint8Array(BLOCK);
  const opad = new Uint8Array(BLOCK);
  for (let i = 0; i < BLOCK; i++) {
    const b = i < k.length ? k[i]! : 0;
    ipad[i] = b ^ 0x36;
    opad[i] = b ^ 0x5c;
  }
  const inner = await sha256Chunks((function* () {
    yield ipad;
    yield* parts;
  })());
  return sha256Chunks([opad, inner]);
}

// webhook-id: 1..128 of [A-Za-z0-9_.:-] (contract). Random ids are "msg_" + 24 hex octets.
export function randomId(prefix = "msg_"): string {
  const b = new Uint8Array(24);
  crypto.getRandomValues(b);
  return prefix + hex(b);
}

export interface SignedHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

// The three signing headers for `content` (a list of chunks), with id and time given.
export async function signHeaders(
  key: Uint8Array,
  id: string,
  nowSeconds: number,
  content: Iterable<Uint8Array>,
  version = "v1",
): Promise<SignedHeaders> {
  const ts = String(Math.floor(nowSeconds));
  const sig = await hmacSha256(key, (function* () {
    yield encoder.encode(`${id}.${ts}.`);
    yield* content;
  })());
  return { "webhook-id": id, "webhook-timestamp": ts, "webhook-signature": `${version},${base64(sig)}` };
}

// The HTTP ingest's signature version: the envelope lines, then the message.
export const INGEST_SIGNATURE_VERSION = "v1e";
export const ENVELOPE_HEADERS = ["MX-Mail-From", "MX-Rcpt-To", "MX-Client-IP", "MX-Client-Helo"] as const;

// The envelope as the ingest signature covers it (docs/edge.md): for each of the four
// headers, in that order, "<lower-case name>:<value>\n" (value without outer spaces and
// tabs; absent: empty), then "\n". Header values here are octet strings (one Latin-1 code
// point per octet, see forward.ts octets()), so each code point is one byte.
export function signedEnvelope(headers: Record<string, string>): Uint8Array {
  let text = "";
  for (const name of ENVELOPE_HEADERS) text += `${name.toLowerCase()}:${(headers[name] ?? "").replace(/^[ \t]+|[ \t]+$/g, "")}\n`;
  text += "\n";
  return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
}

// The edge token of the WebSocket upgrade (contract section 2): the client IP is the content.
export async function edgeToken(key: Uint8Array, clientIp: string, nowSeconds: number): Promise<Record<string, string>> {
  const h = await signHeaders(key, randomId("ws_"), nowSeconds, [encoder.encode(clientIp)]);
  return { "MX-Client-IP": clientIp, ...h };
}
