// End to end against a real mxgate (MXGATE_BIN; started by global-setup.mjs → mxgate.mjs):
// email() → http_ingest (stored byte-exact, signature verified by mxgate, failover past a
// closed port, idempotent retry, temporary failure when every region is down or refuses the
// signature) and the /v1/smtp bridge → websocket listener (a whole SMTP session stored, the
// edge token's client address used). Skips, saying why, without MXGATE_BIN.
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, inject, it } from "vitest";
import { forwardEmail, TemporaryFailure } from "../src/forward";
import { bridgeClient, CLOSED, CLOSED2, configure, emailMessage, type RegionEntry } from "./helpers";

const mx = inject("mxgate");
if (mx.skip) console.warn(`edge e2e: skipped: ${mx.skip}`);

const MXGATE: RegionEntry = { name: "mx", ingest: mx.ingest ?? "", websocket: mx.websocket ?? "", lat: 50, lon: 8 };

async function storedRaw(id: string): Promise<Uint8Array> {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${mx.inspect}/raw/${id}`);
    if (res.status === 200) return new Uint8Array(await res.arrayBuffer());
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`message ${id} not stored`);
}

const enc = new TextEncoder();

function message(tag: string): Uint8Array {
  const head = `Received: from mta.sender.test (mta.sender.test [192.0.2.44])\r\n\tby mx.cloudflare.net; Tue, 6 Jan 2026 10:00:00 +0000\r\nFrom: a@sender.test\r\nTo: x@acme.test\r\nSubject: e2e ${tag}\r\nMessage-ID: <${tag}@sender.test>\r\n\r\n`;
  const body = new Uint8Array(300);
  for (let i = 0; i < 256; i++) body[i] = i;
  body.set(enc.encode("\r\n.\r\n..x\nbare LF\r\nend\r\n"), 256);
  const all = new Uint8Array(head.length + body.length);
  all.set(enc.encode(head));
  all.set(body, head.length);
  return all;
}

describe.skipIf(!!mx.skip)(`end to end with a real mxgate${mx.skip ? ` (skipped: ${mx.skip})` : ""}`, () => {
  beforeEach(async () => {
    await configure([{ ...MXGATE }]);
  });

  it("email(): stored byte-exact, signature verified, after failing over past a closed port", async () => {
    await configure([{ ...MXGATE, name: "down", ingest: CLOSED }, MXGATE]);
    const raw = message(`fo-${Date.now()}`);
    const { message: m, state } = emailMessage("a@sender.test", "x@acme.test", raw, 97);
    const attempts = await forwardEmail(m, env);
    expect(attempts.map((a) => [a.region, a.status])).toEqual([["down", 0], ["mx", 201]]);
    expect(state.rejected).toBeNull();
    expect(await storedRaw(attempts[1]!.id!)).toEqual(raw);
  });

  it("email(): a retried delivery gets the first id and is stored once", async () => {
    const raw = message(`idem-${Date.now()}`);
    const first = await forwardEmail(emailMessage("a@sender.test", "x@acme.test", raw).message, env);
    const second = await forwardEmail(emailMessage("a@sender.test", "x@acme.test", raw).message, env);
    expect(second[0]!.status).toBe(201);
    expect(second[0]!.id).toBe(first[0]!.id);
  });

  it("email(): temporary failure when every region is down, or refuses the signature", async () => {
    await configure([{ ...MXGATE, name: "down1", ingest: CLOSED }, { ...MXGATE, name: "down2", ingest: CLOSED2 }]);
    const a = emailMessage("a@sender.test", "x@acme.test", message("down"));
    await expect(forwardEmail(a.message, env)).rejects.toBeInstanceOf(TemporaryFailure);
    expect(a.state.rejected).toBeNull();
    await configure([MXGATE]);
    const b = emailMessage("a@sender.test", "x@acme.test", message("badsig"));
    const wrong = { ...env, MXGATE_EDGE_SECRET: `whsec_${btoa("a different key of 32 bytes.....")}` };
    await expect(forwardEmail(b.message, wrong)).rejects.toThrow(/mx: 401/);
    expect(b.state.rejected).toBeNull();
  });

  it("bridge: relays a whole SMTP session to the websocket listener, which stores it", async () => {
    const c = await bridgeClient({ ip: "203.0.113.77" });
    expect(await c.reply()).toMatch(/^220 /);
    c.send("EHLO bridge.client.test\r\n");
    expect(await c.reply()).toMatch(/^250[- ]/);
    const body = `Subject: over the edge ${Date.now()}\r\n\r\nhello\r\n..dotted\r\n`;
    c.send("MAIL FROM:<a@sender.test>\r\nRCPT TO:<x@acme.test>\r\nDATA\r\n");
    expect(await c.replies(3)).toEqual([expect.stringMatching(/^250 /), expect.stringMatching(/^250 /), expect.stringMatching(/^354 /)]);
    c.send(body + ".\r\n");
    const queued = await c.reply();
    const id = /^250 2\.0\.0 Ok: queued as (\S+)/.exec(queued)?.[1];
    expect(id, queued).toBeTruthy();
    c.send("QUIT\r\n");
    expect(await c.reply()).toMatch(/^221 /);
    expect((await c.waitClosed()).code).toBe(1000);
    const stored = new TextDecoder().decode(await storedRaw(id!));
    expect(stored.endsWith("hello\r\n.dotted\r\n")).toBe(true); // dot-unstuffed by mxgate
    // The session's client address is the edge token's, not the Worker's TCP address.
    let event: string | undefined;
    for (let i = 0; i < 100 && !event; i++) {
      event = (await (await fetch(`${mx.inspect}/events`)).text()).split("\n").find((l) => l.includes(id!));
      if (!event) await new Promise((r) => setTimeout(r, 100));
    }
    expect(event).toContain('"client_ip":"203.0.113.77"');
  });
});
