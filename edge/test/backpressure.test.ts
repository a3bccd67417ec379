// Relay backpressure (src/relay.ts, src/origin-socket.ts): the relay's own WebSocket client
// over connect() — its frames against an independent encoder, at every split — and, through
// the relay, an origin that stops reading: with the socket transport the relay stops taking
// client input once RELAY_WINDOW_BYTES are unwritten and ends the session with 421 4.4.5
// when MAX_HELD_BYTES pile up or nothing is written for the origin timeout; with the
// runtime's WebSocket (ORIGIN_TRANSPORT = "fetch") the same client is taken without limit.
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { clientFrame, FrameReader, type FrameEvent, MAX_FRAME } from "../src/origin-socket";
import { bridgeClient, configure, ORIGIN_A, region, resetOrigins, sessions, setMode } from "./helpers";

// A server frame as RFC 6455 section 5.2 lays it out (unmasked), written here independently.
function serverFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  const n = payload.length;
  const len = n < 126 ? [n] : n < 65536 ? [126, n >> 8, n & 255] : [127, 0, 0, 0, 0, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255];
  return new Uint8Array([(fin ? 0x80 : 0) | opcode, ...len, ...payload]);
}

const bytes = (s: string) => new TextEncoder().encode(s);

function feed(chunks: Uint8Array[]): FrameEvent[] {
  const r = new FrameReader();
  return chunks.flatMap((c) => r.push(c));
}

function splitEvery(all: Uint8Array, n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < all.length; i += n) out.push(all.slice(i, i + n));
  return out;
}

// What the relay sees: data octets joined, other events as they are.
function summary(events: FrameEvent[]): unknown[] {
  const out: unknown[] = [];
  let data = "";
  for (const e of events) {
    if (e.kind === "data") {
      data += new TextDecoder("latin1").decode(e.bytes);
      continue;
    }
    if (data) out.push({ data });
    data = "";
    out.push(e.kind === "ping" ? { ping: Array.from(e.payload) } : e);
  }
  if (data) out.push({ data });
  return out;
}

describe("the relay's WebSocket client frames", () => {
  it("masks its frames (RFC 6455 5.3) at every length form", () => {
    const mask = new Uint8Array([1, 2, 3, 4]);
    for (const n of [0, 1, 125, 126, 65535, 65536, 70000]) {
      const payload = new Uint8Array(n).map((_, i) => i & 255);
      const f = clientFrame(0x2, payload, mask);
      expect(f[0]).toBe(0x82);
      expect(f[1]! & 0x80).toBe(0x80);
      const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
      const len = n < 126 ? f[1]! & 0x7f : n < 65536 ? (f[2]! << 8) | f[3]! : Number(new DataView(f.buffer).getBigUint64(2));
      expect(len).toBe(n);
      expect(Array.from(f.subarray(head, head + 4))).toEqual([1, 2, 3, 4]);
      const unmasked = f.subarray(head + 4).map((b, i) => b ^ mask[i & 3]!);
      expect(unmasked).toEqual(payload);
    }
  });

  it("reads server frames the same at every split", () => {
    const stream = new Uint8Array([
      ...serverFrame(0x2, bytes("220 mx ESMTP\r\n")),
      ...serverFrame(0x9, bytes("hi")),
      ...serverFrame(0x2, bytes("250-first\r\n"), false),
      ...serverFrame(0x0, bytes("250 last\r\n")),
      ...serverFrame(0x2, new Uint8Array(70000).fill(0x61)),
      ...serverFrame(0x1, bytes("te"), false),
      ...serverFrame(0xa, new Uint8Array(0)),
      ...serverFrame(0x0, bytes("xt")),
      ...serverFrame(0x8, new Uint8Array([0x03, 0xe8, ...bytes("bye")])),
      ...serverFrame(0x2, bytes("after close: ignored")),
    ]);
    const want = [
      { data: "220 mx ESMTP\r\n" },
      { ping: Array.from(bytes("hi")) },
      { data: "250-first\r\n250 last\r\n" + "a".repeat(70000) },
      { kind: "text", text: "text" },
      { kind: "close", code: 1000, reason: "bye" },
    ];
    expect(summary(feed([stream]))).toEqual(want);
    for (const n of [1, 2, 3, 7, 125, 4096]) expect(summary(feed(splitEvery(stream, n))), `split ${n}`).toEqual(want);
  });

  it("refuses what a server must not send: masked, reserved bits or opcodes, long or fragmented control frames, oversize", () => {
    const masked = new Uint8Array([0x82, 0x81, 0, 0, 0, 0, 0x41]);
    const cases: [Uint8Array, number][] = [
      [masked, 1002],
      [new Uint8Array([0xc2, 0x00]), 1002], // RSV1
      [new Uint8Array([0x83, 0x00]), 1002], // opcode 3
      [new Uint8Array([0x89, 126, 0, 126, ...new Uint8Array(126)]), 1002], // ping > 125
      [new Uint8Array([0x09, 0x00]), 1002], // fragmented ping
      [new Uint8Array([0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0]), 1009], // 4 GiB
      [serverFrame(0x2, new Uint8Array(MAX_FRAME + 1)).subarray(0, 10), 1009],
      [new Uint8Array([...serverFrame(0x1, bytes("a"), false), ...serverFrame(0x2, bytes("b"))]), 1002],
    ];
    for (const [input, code] of cases) {
      const events = feed([input]);
      expect(events.at(-1), Array.from(input.subarray(0, 4)).join(",")).toMatchObject({ kind: "error", code });
      expect(events.filter((e) => e.kind === "data")).toEqual([]);
    }
  });
});

describe("the relay's WebSocket client frames, random input", () => {
  // Random server streams (well-formed frames of random kinds mixed with random octets), fed
  // at random splits: the reader never throws, passes on no more octets than came in, and
  // says nothing after a close or an error.
  it("never throws and stops after a close or an error", () => {
    let seed = 99;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 400; round++) {
      const parts: number[] = [];
      while (parts.length < 2000) {
        const k = rnd(6);
        const payload = new Uint8Array(rnd(k === 0 ? 300 : 130)).map(() => rnd(256));
        if (k === 5) parts.push(...payload); // junk
        else parts.push(...serverFrame([0x2, 0x0, 0x1, 0x9, 0xa][k]!, k >= 3 ? payload.subarray(0, 125) : payload, rnd(4) !== 0));
        if (rnd(40) === 0) parts.push(...serverFrame(0x8, new Uint8Array([0x03, 0xe8])));
      }
      const input = new Uint8Array(parts);
      const r = new FrameReader();
      let events: FrameEvent[] = [];
      for (let i = 0; i < input.length; ) {
        const n = 1 + rnd(300);
        events = events.concat(r.push(input.subarray(i, i + n)));
        i += n;
      }
      const end = events.findIndex((e) => e.kind === "close" || e.kind === "error");
      if (end >= 0) expect(events.length, `round ${round}`).toBe(end + 1);
      const data = events.reduce((n, e) => n + (e.kind === "data" ? e.bytes.length : 0), 0);
      expect(data).toBeLessThanOrEqual(input.length);
    }
  });
});

describe("backpressure through the relay", () => {
  beforeEach(async () => {
    await resetOrigins();
    await configure([region("a", ORIGIN_A)]);
  });

  async function toData(e: typeof env) {
    const c = await bridgeClient({ ip: "192.0.2.60", e });
    expect(await c.reply()).toMatch(/^220 /);
    c.send("EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<x@acme.test>\r\nDATA\r\n");
    const r = await c.replies(4);
    expect(r[3]).toMatch(/^354 /);
    return c;
  }

  const chunk = new Uint8Array(64 * 1024).fill(0x78);

  it("carries a message larger than the hold bound, sent at once, when the origin keeps up (default window)", async () => {
    const c = await toData(env);
    for (let i = 0; i < 64; i++) c.send(chunk); // 4 MiB at once, 16 times MAX_HELD_BYTES
    c.send("\r\n.\r\n");
    expect(await c.reply()).toMatch(/^250 /);
    const s = (await sessions(ORIGIN_A)).at(-1)!;
    expect(s.messages.at(-1)!.body.length).toBeGreaterThanOrEqual(64 * chunk.length);
  });

  it("stops taking input from the client when the origin stops reading: 421 4.4.5 at the hold bound", async () => {
    await setMode(ORIGIN_A, { stallData: true });
    const e = { ...env, RELAY_WINDOW_BYTES: "65536", MAX_HELD_BYTES: "262144" };
    const c = await toData(e);
    // Far more than the kernel's socket buffers, the window and the hold bound together.
    for (let i = 0; i < 512 && !c.closed; i++) {
      c.send(chunk);
      if (i % 16 === 15) await new Promise((r) => setTimeout(r, 5));
    }
    expect((await c.replies(1, 15_000))[0]).toMatch(/^421 4\.4\.5 /);
    expect((await c.waitClosed()).code).toBe(1000);
    expect((await sessions(ORIGIN_A)).at(-1)!.stalled).toBe(true);
  }, 30_000);

  it("ends the session with 421 4.4.5 when the origin writes nothing for the origin timeout", async () => {
    await setMode(ORIGIN_A, { stallData: true });
    const e = { ...env, RELAY_WINDOW_BYTES: "65536", MAX_HELD_BYTES: String(256 * 1024 * 1024), INGEST_TIMEOUT_MS: "1000" };
    const c = await toData(e);
    // Enough to fill the socket buffers and pass the window, well below the hold bound.
    for (let i = 0; i < 256; i++) c.send(chunk);
    expect((await c.replies(1, 15_000))[0]).toMatch(/^421 4\.4\.5 /);
    expect((await c.waitClosed()).code).toBe(1000);
  }, 30_000);

  it("with the runtime's WebSocket (ORIGIN_TRANSPORT = fetch) the same client is taken without limit", async () => {
    await setMode(ORIGIN_A, { stallData: true });
    const e = { ...env, ORIGIN_TRANSPORT: "fetch", RELAY_WINDOW_BYTES: "65536", MAX_HELD_BYTES: "262144" };
    const c = await toData(e);
    for (let i = 0; i < 512; i++) {
      c.send(chunk);
      if (i % 16 === 15) await new Promise((r) => setTimeout(r, 5));
    }
    // 32 MiB later: no refusal; the runtime holds what the origin does not read.
    await new Promise((r) => setTimeout(r, 500));
    expect(c.closed).toBeNull();
    expect(c.buf).toBe("");
  }, 30_000);
});
