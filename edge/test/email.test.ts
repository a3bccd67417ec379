// email(): Email Routing → mxgate HTTP ingest, against the loopback origins (which check the
// contract's signature, envelope headers and idempotency on the Node side).
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { forwardEmail, REJECT, receivedClient, TemporaryFailure } from "../src/forward";
import worker from "../src/index";
import { CLOSED, CLOSED2, configure, emailMessage, fromBase64, ORIGIN_A, ORIGIN_B, region, resetOrigins, setMode, sha256hex, stored } from "./helpers";

const enc = new TextEncoder();

// A message with everything that must survive byte for byte: CR LF and bare LF, lines of a
// single dot, a leading dot, 8-bit octets, NUL, no final line end.
function sampleMessage(): Uint8Array {
  const head =
    "Received: from mail-ej1-f44.example.net (mail-ej1-f44.example.net [209.85.218.44])\r\n" +
    "\tby mx.cloudflare.net (Postfix) with ESMTPS id 4Xy\r\n\tfor <x@acme.test>; Tue, 6 Jan 2026 10:00:00 +0000\r\n" +
    "From: Alice <alice@sender.test>\r\nTo: x@acme.test\r\nSubject: edge test\r\nMessage-ID: <1@sender.test>\r\n\r\n";
  const body = new Uint8Array(600);
  for (let i = 0; i < 256; i++) body[i] = i;
  body.set(enc.encode("\r\n.\r\n..\r\n.\n\n.x\r\nend without line end"), 256);
  const all = new Uint8Array(head.length + 256 + 48);
  all.set(enc.encode(head), 0);
  all.set(body.subarray(0, 256 + 48), head.length);
  return all;
}

beforeEach(async () => {
  await resetOrigins();
});

describe("email() forwarding", () => {
  it("stores the message byte-exact with a verified signature and the envelope in headers", async () => {
    await configure([region("a", ORIGIN_A)]);
    const raw = sampleMessage();
    const { message, state } = emailMessage("alice@sender.test", "x@acme.test", raw, 7); // odd chunks
    await worker.email!(message, env, createExecutionContext());
    expect(state.rejected).toBeNull();
    const got = await stored(ORIGIN_A);
    expect(got).toHaveLength(1);
    const m = got[0]!;
    expect(fromBase64(m.bodyBase64!)).toEqual(raw);
    expect(m.contentLength).toBe(String(raw.length));
    expect(m.mailFrom).toBe("<alice@sender.test>");
    expect(m.rcptTo).toEqual(["x@acme.test"]);
    expect(m.clientIp).toBe("209.85.218.44");
    expect(m.clientHelo).toBe("mail-ej1-f44.example.net");
    expect(m.webhookId).toMatch(/^em_[0-9a-f]{48}$/);
  });

  it("streams a large message through in chunks and stores it whole", async () => {
    await configure([region("a", ORIGIN_A)]);
    const raw = new Uint8Array(8 * 1024 * 1024 + 3);
    for (let i = 0; i < raw.length; i += 65536) crypto.getRandomValues(raw.subarray(i, Math.min(raw.length, i + 65536)));
    const { message, state } = emailMessage("bob@sender.test", "x@acme.test", raw, 60_000);
    await worker.email!(message, env, createExecutionContext());
    expect(state.rejected).toBeNull();
    const [m] = await stored(ORIGIN_A);
    expect(m!.size).toBe(raw.length);
    expect(m!.sha256).toBe(await sha256hex(raw));
  });

  it("fails over to the next region when the first is a closed port", async () => {
    await configure([region("down", CLOSED), region("a", ORIGIN_A)]);
    const raw = sampleMessage();
    const { message, state } = emailMessage("alice@sender.test", "x@acme.test", raw);
    const attempts = await forwardEmail(message, env);
    expect(attempts.map((a) => [a.region, a.status])).toEqual([["down", 0], ["a", 201]]);
    expect(state.rejected).toBeNull();
    const [m] = await stored(ORIGIN_A);
    expect(fromBase64(m!.bodyBase64!)).toEqual(raw);
  });

  it("fails over on 503 and 429 answers", async () => {
    await configure([region("a", ORIGIN_A), region("b", ORIGIN_B)]);
    for (const status of [503, 429]) {
      await resetOrigins();
      await setMode(ORIGIN_A, { ingest: status });
      const { message } = emailMessage("alice@sender.test", "x@acme.test", sampleMessage());
      const attempts = await forwardEmail(message, env);
      expect(attempts.map((a) => a.status)).toEqual([status, 201]);
      expect(await stored(ORIGIN_A)).toHaveLength(0);
      expect(await stored(ORIGIN_B)).toHaveLength(1);
    }
  });

  it("throws (temporary failure) when no region takes the message, and never rejects", async () => {
    await configure([region("down1", CLOSED), region("down2", CLOSED2), region("a", ORIGIN_A)]);
    await setMode(ORIGIN_A, { ingest: 503 });
    const { message, state } = emailMessage("alice@sender.test", "x@acme.test", sampleMessage());
    await expect(worker.email!(message, env, createExecutionContext())).rejects.toThrow(/451 4\.3\.0 .*down1: no answer; down2: no answer; a: 503/);
    expect(state.rejected).toBeNull();
  });

  it("treats a wrong secret at the origin (401) as temporary, not as a rejection", async () => {
    await configure([region("a", ORIGIN_A)]);
    const { message, state } = emailMessage("alice@sender.test", "x@acme.test", sampleMessage());
    const wrong = { ...env, MXGATE_EDGE_SECRET: `whsec_${btoa("another key entirely")}` };
    await expect(forwardEmail(message, wrong)).rejects.toBeInstanceOf(TemporaryFailure);
    expect(state.rejected).toBeNull();
    expect(await stored(ORIGIN_A)).toHaveLength(0);
  });

  it("sends a retried delivery with the same webhook-id, so the origin stores it once", async () => {
    await configure([region("a", ORIGIN_A)]);
    const ids: (string | undefined)[] = [];
    for (let i = 0; i < 2; i++) {
      const { message } = emailMessage("alice@sender.test", "x@acme.test", sampleMessage());
      const attempts = await forwardEmail(message, env);
      ids.push(attempts[0]!.id);
    }
    expect(ids[0]).toBe(ids[1]);
    expect(await stored(ORIGIN_A)).toHaveLength(1);
  });

  it("rejects (policy) a blocklisted sender, a domain no tenant owns, and an oversized message", async () => {
    await configure([region("a", ORIGIN_A)]);
    await env.EDGE_KV.put("block:domain:spam.test", "1");
    const cases: [string, string, Uint8Array, typeof env, string][] = [
      ["x@spam.test", "x@acme.test", sampleMessage(), env, REJECT.blocked],
      ["alice@sender.test", "x@nobody.test", sampleMessage(), env, REJECT.unknownTenant],
      ["alice@sender.test", "x@acme.test", new Uint8Array(2000), { ...env, MAX_MESSAGE_BYTES: "1999" }, REJECT.tooBig],
    ];
    for (const [from, to, raw, e, reject] of cases) {
      const { message, state } = emailMessage(from, to, raw);
      await worker.email!(message, e, createExecutionContext());
      expect(state.rejected).toBe(reject);
    }
    expect(await stored(ORIGIN_A)).toHaveLength(0);
    await env.EDGE_KV.delete("block:domain:spam.test");
  });

  it("rejects when the origin answers 413 (too large there)", async () => {
    await configure([region("a", ORIGIN_A), region("b", ORIGIN_B)]);
    await setMode(ORIGIN_A, { ingest: 413 });
    const { message, state } = emailMessage("alice@sender.test", "x@acme.test", sampleMessage());
    await forwardEmail(message, env);
    expect(state.rejected).toBe(REJECT.tooBig);
    expect(await stored(ORIGIN_B)).toHaveLength(0);
  });

  it("sends a tenant's mail only to its own regions (data residency)", async () => {
    await configure([region("a", ORIGIN_A), region("b", ORIGIN_B)], { eu: { domains: ["eu.test"], regions: ["b"] } });
    const { message } = emailMessage("alice@sender.test", "x@eu.test", sampleMessage());
    await forwardEmail(message, env);
    expect(await stored(ORIGIN_A)).toHaveLength(0);
    expect(await stored(ORIGIN_B)).toHaveLength(1);
    // ... and throws rather than leave them when they are down.
    await setMode(ORIGIN_B, { ingest: 503 });
    const second = emailMessage("alice@sender.test", "y@eu.test", sampleMessage());
    await expect(forwardEmail(second.message, env)).rejects.toBeInstanceOf(TemporaryFailure);
    expect(await stored(ORIGIN_A)).toHaveLength(0);
  });

  it("applies the sender domain's message rate as a temporary failure", async () => {
    await configure([region("a", ORIGIN_A)]);
    const limited = { ...env, LIMIT_SENDER_MESSAGES: "2/1h" };
    const send = (i: number) => forwardEmail(emailMessage(`u${i}@rate.test`, "x@acme.test", enc.encode(`Subject: ${i}\r\n\r\nbody ${i}\r\n`)).message, limited);
    await send(1);
    await send(2);
    await expect(send(3)).rejects.toThrow(/451 4\.7\.1 rate limit exceeded for rate\.test/);
    expect(await stored(ORIGIN_A)).toHaveLength(2);
  });
});

describe("Received parsing", () => {
  it("takes the client address and HELO of the topmost Received field, IPv6 too", () => {
    const c = (s: string) => receivedClient([enc.encode(s)]);
    expect(c("Received: from a.example (b.example [192.0.2.1])\r\n by x; date\r\n\r\nbody")).toEqual({ ip: "192.0.2.1", helo: "a.example" });
    expect(c("Received: from a.example\r\n\t(b.example [IPv6:2001:db8::25])\r\n by x\r\nReceived: from old (o [198.51.100.9])\r\n\r\n")).toEqual({ ip: "2001:db8::25", helo: "a.example" });
    expect(c("Subject: none\r\n\r\nReceived: from body (b [203.0.113.1])\r\n")).toEqual({ ip: "0.0.0.0", helo: null });
  });
});
