// The rate-limit Durable Object: sliding-window maths at the window edges, all-or-nothing
// decisions, leases; and limits that hold across connections of the bridge.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { limiterFor, roll, type WindowState, allows, estimate } from "../src/rate-limiter";
import { bridgeClient, configure, ORIGIN_A, region, resetOrigins } from "./helpers";

let keyCounter = 0;
const fresh = (prefix: string) => limiterFor(env.RATE_LIMITER, `${prefix}:${Date.now()}:${keyCounter++}`);

describe("sliding-window counter", () => {
  it("estimates the last window from the previous and current counts", () => {
    const s: WindowState = { index: 0, current: 0, previous: 0 };
    roll(s, 10_000, 60_000);
    s.current = 10;
    roll(s, 60_000, 60_000); // next window: previous = 10
    expect(s).toEqual({ index: 1, current: 0, previous: 10 });
    expect(estimate(s, 60_000, 60_000)).toBe(10);
    expect(estimate(s, 90_000, 60_000)).toBe(5);
    expect(allows(s, 90_000, 60_000, 10, 5)).toBe(true);
    expect(allows(s, 90_000, 60_000, 10, 6)).toBe(false);
    expect(allows(s, 90_000, 60_000, 3, 100)).toBe(false); // min(cost, limit) = 3 > 10-5? no: 5 + 3 > 3
    roll(s, 200_000, 60_000); // two windows later: all forgotten
    expect(s).toEqual({ index: 3, current: 0, previous: 0 });
    expect(allows(s, 200_000, 60_000, 3, 100)).toBe(true); // a unit larger than the budget passes an empty window
  });
});

describe("RateLimiter Durable Object", () => {
  it("allows exactly the limit within a window, across the edge of the window", async () => {
    const l = fresh("t");
    const check = [{ name: "m", limit: 3, windowMs: 60_000 }];
    const at = async (t: number) => (await l.decide(check, t)).allowed;
    expect([await at(1_000), await at(2_000), await at(3_000), await at(4_000)]).toEqual([true, true, true, false]);
    // Just after the edge the previous window still counts almost fully.
    expect(await at(60_001)).toBe(false);
    // Half a window later half of it has aged out: 3 * 0.5 = 1.5, so one more fits.
    expect(await at(90_000)).toBe(true);
    expect(await at(90_001)).toBe(false);
    const refused = await l.decide(check, 90_002);
    expect(refused).toMatchObject({ allowed: false, refused: "m" });
    expect(refused.retryAfterSeconds).toBeGreaterThan(0);
  });

  it("charges all checks of a decision or none", async () => {
    const l = fresh("t");
    const both = [
      { name: "small", limit: 1, windowMs: 60_000 },
      { name: "big", limit: 100, windowMs: 60_000 },
    ];
    expect((await l.decide(both, 1000)).allowed).toBe(true);
    expect(await l.decide(both, 1001)).toMatchObject({ allowed: false, refused: "small" });
    // "big" was not charged by the refused decision: 99 more fit.
    for (let i = 0; i < 99; i++) expect((await l.decide([both[1]!], 1002)).allowed).toBe(true);
    expect((await l.decide([both[1]!], 1003)).allowed).toBe(false);
  });

  it("holds concurrent-connection leases until released or expired", async () => {
    const l = fresh("ip");
    expect((await l.admit("c1", 2, 10_000, [], 0)).allowed).toBe(true);
    expect((await l.admit("c2", 2, 10_000, [], 0)).allowed).toBe(true);
    expect(await l.admit("c3", 2, 10_000, [], 0)).toMatchObject({ allowed: false, refused: "concurrent" });
    await l.release("c1", 1);
    expect((await l.admit("c3", 2, 10_000, [], 2)).allowed).toBe(true);
    expect((await l.admit("c4", 2, 10_000, [], 10_001)).allowed).toBe(true); // c2 expired
    expect(await l.leaseCount(10_001)).toBe(2); // c3, c4
    expect(await l.leaseCount(10_002)).toBe(1); // c3 expired too
  });
});

describe("RateLimiter idle cleanup", () => {
  it("keeps one alarm pending instead of moving it on every charge, and drops the state once idle", async () => {
    const l = fresh("idle");
    const check = [{ name: "m", limit: 100, windowMs: 60_000 }];
    expect((await l.decide(check)).allowed).toBe(true);
    const first = await runInDurableObject(l, (_o, state) => state.storage.getAlarm());
    expect(first).not.toBeNull();
    await new Promise((r) => setTimeout(r, 20));
    expect((await l.decide(check)).allowed).toBe(true);
    const [alarm, idleAt] = await runInDurableObject(l, async (_o, state) => [await state.storage.getAlarm(), state.storage.kv.get<number>("idle-at")] as const);
    expect(alarm).toBe(first); // not moved
    expect(idleAt!).toBeGreaterThan(first!); // but the idle time was
    // The alarm comes before "idle-at": the state stays and the alarm waits on for "idle-at".
    expect(await runDurableObjectAlarm(l)).toBe(true);
    expect(await runInDurableObject(l, (_o, state) => state.storage.getAlarm())).toBe(idleAt);
    expect(await runInDurableObject(l, (_o, state) => state.storage.kv.get("w:m:60000"))).toBeDefined();
    // Once "idle-at" has passed, the alarm drops the state (and the next charge arms a new one).
    await runInDurableObject(l, (_o, state) => state.storage.kv.put("idle-at", Date.now() - 1));
    expect(await runDurableObjectAlarm(l)).toBe(true);
    expect(await runInDurableObject(l, (_o, state) => [...state.storage.kv.list()].length)).toBe(0);
    expect((await l.decide(check)).allowed).toBe(true);
    expect(await runInDurableObject(l, (_o, state) => state.storage.getAlarm())).not.toBeNull();
  });
});

describe("limits across bridge connections", () => {
  beforeEach(async () => {
    await resetOrigins();
    await configure([region("a", ORIGIN_A)]);
  });

  it("refuses a second concurrent connection from the same address with 421, and admits it after the first closes", async () => {
    const e = { ...env, LIMIT_IP_CONCURRENT: "1" };
    const ip = `192.0.2.${10 + (keyCounter++ % 200)}`;
    const first = await bridgeClient({ ip, e });
    expect(await first.reply()).toMatch(/^220 /);
    const second = await bridgeClient({ ip, e });
    expect(await second.reply()).toMatch(/^421 4\.7\.0 Error: too many connections from your address/);
    await second.waitClosed();
    const other = await bridgeClient({ ip: "192.0.2.250", e });
    expect(await other.reply()).toMatch(/^220 /);
    first.send("QUIT\r\n");
    await first.waitClosed();
    // The lease is released when the relay ends (waitUntil): poll until it is.
    let third = "";
    for (let i = 0; i < 20 && !third.startsWith("220"); i++) {
      third = await (await bridgeClient({ ip, e })).reply();
      if (!third.startsWith("220")) await new Promise((r) => setTimeout(r, 100));
    }
    expect(third).toMatch(/^220 /);
  });

  it("limits the connection rate per address", async () => {
    const e = { ...env, LIMIT_IP_CONNECTIONS: "2/1h" };
    const ip = "192.0.2.251";
    for (let i = 0; i < 2; i++) expect(await (await bridgeClient({ ip, e })).reply()).toMatch(/^220 /);
    expect(await (await bridgeClient({ ip, e })).reply()).toMatch(/^421 4\.7\.0 Error: connection rate limit exceeded/);
  });

  it("counts a sender domain's messages across connections (and addresses)", async () => {
    const e = { ...env, LIMIT_SENDER_MESSAGES: "2/1h" };
    const domain = `d${Date.now()}.test`;
    for (let i = 0; i < 2; i++) {
      const c = await bridgeClient({ ip: `198.51.100.${i + 1}`, e });
      await c.reply();
      c.send(`MAIL FROM:<u${i}@${domain}>\r\n`);
      expect(await c.reply()).toBe("250 2.1.0 Ok\r\n");
    }
    const c = await bridgeClient({ ip: "198.51.100.3", e });
    await c.reply();
    c.send(`MAIL FROM:<u3@${domain}>\r\n`);
    expect(await c.reply()).toMatch(/^421 4\.7\.0 Error: too many messages from your sender domain/);
    expect((await c.waitClosed()).code).toBe(1000);
  });
});
