// fetch() /v1/smtp: the WebSocket bridge, driven as `mxgate bridge` drives it (subprotocol,
// bearer token, binary frames), relaying to the loopback origins, which check the edge token
// and record every client octet they receive.
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import worker from "../src/index";
import { bridgeClient, type Cf, CLOSED, configure, fromBase64, openBridge, ORIGIN_A, ORIGIN_B, region, resetOrigins, sessions, TOKEN } from "./helpers";

beforeEach(async () => {
  await resetOrigins();
  await configure([region("a", ORIGIN_A), region("b", ORIGIN_B)]);
});

describe("the /v1/smtp bridge", () => {
  it("relays a whole SMTP session, with the client IP in a verified edge token", async () => {
    const c = await bridgeClient({ ip: "203.0.113.9" });
    expect(await c.reply()).toBe("220 fake.test ESMTP origin\r\n");
    c.send("EHLO client.test\r\n");
    const ehlo = await c.reply();
    expect(ehlo).toContain("250-PIPELINING");
    expect(ehlo).not.toContain("STARTTLS");
    const data = "Subject: via edge\r\n\r\nline one\r\n..dot line\r\nRCPT TO:<not-a-command@x>\r\n";
    c.send(`MAIL FROM:<alice@sender.test>\r\nRCPT TO:<x@acme.test>\r\nDATA\r\n`);
    expect(await c.replies(3)).toEqual(["250 2.1.0 Ok\r\n", "250 2.1.5 Ok\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n"]);
    // The data split over many frames, the terminator across two.
    for (let i = 0; i < data.length; i += 5) c.send(data.slice(i, i + 5));
    c.send("\r");
    c.send("\n.\r\nQUIT\r\n");
    expect(await c.replies(2)).toEqual(["250 2.0.0 Ok: queued as q1\r\n", "221 2.0.0 Bye\r\n"]);
    expect((await c.waitClosed()).code).toBe(1000);
    const [s] = await sessions(ORIGIN_A);
    expect(s!.clientIp).toBe("203.0.113.9");
    expect(s!.authorization).toBe(`Bearer ${TOKEN}`);
    expect(s!.messages).toHaveLength(1);
    expect(new TextDecoder().decode(fromBase64(s!.messages[0]!.body))).toBe(data + "\r\n");
    expect(s!.messages[0]!.rcpt).toEqual(["x@acme.test"]);
  });

  it("relays BDAT chunks and answers STARTTLS itself", async () => {
    const c = await bridgeClient();
    await c.reply();
    c.send("EHLO c\r\nSTARTTLS\r\n");
    expect((await c.replies(2))[1]).toMatch(/^454 4\.7\.0 /);
    const chunk = "Subject: bdat\r\n\r\nbody\r\n";
    c.send(`MAIL FROM:<a@b.test>\r\nRCPT TO:<x@acme.test>\r\nBDAT ${chunk.length} LAST\r\n${chunk}`);
    expect((await c.replies(3))[2]).toBe("250 2.0.0 Ok: queued as q1\r\n");
    const [s] = await sessions(ORIGIN_A);
    expect(s!.received).not.toContain("STARTTLS");
    expect(atob(s!.messages[0]!.body)).toBe(chunk);
  });

  it("refuses an early talker before anything reaches the origin", async () => {
    const c = await bridgeClient();
    c.send("EHLO too.early\r\n"); // sent at once: the origin's greeting cannot have passed yet
    const r = await c.reply();
    // Either the refusal alone, or (if the greeting won the race) the greeting and a normal session.
    if (r.startsWith("554")) {
      expect(r).toMatch(/^554 5\.5\.1 /);
      await c.waitClosed();
      const [s] = await sessions(ORIGIN_A);
      expect(s!.received).toBe("");
    } else {
      expect(r).toMatch(/^220 /);
    }
  });

  it("refuses non-SMTP garbage and text frames", async () => {
    let c = await bridgeClient();
    await c.reply();
    c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(await c.reply()).toMatch(/^554 5\.5\.1 /);
    await c.waitClosed();
    expect((await sessions(ORIGIN_A))[0]!.received).toBe("");
    c = await bridgeClient();
    await c.reply();
    c.ws.send("NOOP\r\n"); // a text frame
    expect((await c.waitClosed()).code).toBe(1003);
  });

  it("closes with 421 at the per-connection recipient limit", async () => {
    const c = await bridgeClient({ e: { ...env, LIMIT_RECIPIENTS_PER_CONNECTION: "2" } });
    await c.reply();
    c.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<1@acme.test>\r\nRCPT TO:<2@acme.test>\r\nRCPT TO:<3@acme.test>\r\n");
    // 421 may come at any point (RFC 5321 3.8): the edge sends it at once and closes, even
    // with origin replies to earlier commands still due.
    expect(await c.reply()).toMatch(/^421 4\.7\.0 Error: too many recipients/);
    await c.waitClosed();
    expect((await sessions(ORIGIN_A))[0]!.received).not.toContain("3@acme.test");
  });

  it("answers a blocklisted sender with 550 and carries on", async () => {
    await env.EDGE_KV.put("block:sender:bad@spam.test", "1");
    const c = await bridgeClient();
    await c.reply();
    c.send("MAIL FROM:<bad@spam.test>\r\n");
    expect(await c.reply()).toBe("550 5.7.1 Error: sender address rejected\r\n");
    c.send("MAIL FROM:<good@ok.test>\r\n");
    expect(await c.reply()).toBe("250 2.1.0 Ok\r\n");
    expect((await sessions(ORIGIN_A))[0]!.received).toBe("MAIL FROM:<good@ok.test>\r\n");
    await env.EDGE_KV.delete("block:sender:bad@spam.test");
  });

  it("fails over to the next region, and says 421 in SMTP when none answers", async () => {
    await configure([region("down", CLOSED), region("b", ORIGIN_B)]);
    const c = await bridgeClient();
    expect(await c.reply()).toMatch(/^220 /);
    expect(await sessions(ORIGIN_B)).toHaveLength(1);
    await configure([region("down", CLOSED)]);
    const d = await bridgeClient();
    expect(await d.reply()).toMatch(/^421 4\.3\.0 /);
    expect((await d.waitClosed()).code).toBe(1000);
  });

  it("answers 401 without a known token, 400 without the subprotocol, 426 without an upgrade", async () => {
    expect((await openBridge({ token: null })).status).toBe(401);
    expect((await openBridge({ token: "wrong" })).status).toBe(401);
    expect((await openBridge({ protocol: null })).status).toBe(400);
    const plain = await worker.fetch!(new Request("https://edge.test/v1/smtp") as Request<unknown, IncomingRequestCfProperties>, env, createExecutionContext());
    expect(plain.status).toBe(426);
    const health = await worker.fetch!(new Request("https://edge.test/healthz") as Request<unknown, IncomingRequestCfProperties>, env, createExecutionContext());
    expect(health.status).toBe(200);
  });

  it("chooses the region by request.cf: nearest, or the one mapped to the client's country", async () => {
    // a: Frankfurt, b: Virginia (mapped for BR).
    await configure([region("a", ORIGIN_A, 50.11, 8.68), region("b", ORIGIN_B, 38.9, -77.0, { countries: ["BR"] })]);
    const cases: [Cf, string][] = [
      [{ latitude: "48.85", longitude: "2.35", country: "FR", continent: "EU" }, "a"], // Paris
      [{ latitude: "40.71", longitude: "-74.0", country: "US", continent: "NA" }, "b"], // New York
      [{ latitude: "-23.55", longitude: "-46.63", country: "BR", continent: "SA" }, "b"], // São Paulo, mapped
      [{ latitude: "-33.92", longitude: "18.42", country: "ZA", continent: "AF" }, "a"], // Cape Town
    ];
    for (const [cf, want] of cases) {
      await resetOrigins();
      const c = await bridgeClient({ cf });
      await c.reply();
      const onA = (await sessions(ORIGIN_A)).length;
      const onB = (await sessions(ORIGIN_B)).length;
      expect({ cf, region: onA ? "a" : onB ? "b" : "none" }).toEqual({ cf, region: want });
      c.ws.close(1000);
    }
  });

  it("keeps a relayed session open longer than the upgrade timeout", async () => {
    const c = await bridgeClient({ e: { ...env, INGEST_TIMEOUT_MS: "300" } });
    expect(await c.reply()).toMatch(/^220 /);
    await new Promise((r) => setTimeout(r, 1000));
    c.send("NOOP\r\n");
    expect(await c.reply()).toBe("250 2.0.0 Ok\r\n");
  });
});
