// rate-limiter.ts — exact, global rate-limit counters: one Durable Object per key
// ("ip:<client ip>" — an IPv6 client's /64, see ip.ts — and "sender:<domain>"), so every
// Worker instance in every location that checks a key talks to the same single-threaded
// object and no update is lost (KV is eventually consistent: it holds the blocklist and the
// region table, never counters).
//
// The window is a sliding-window counter, the same maths as mxgate's own limiter
// (src/policy/rate_limits/rate_limiter.h), so that "100/1h" means the same thing at the
// edge and at the origin: a limit of N per window W keeps the count of the current fixed
// window and of the previous one and estimates the last W as
//   previous * (W - elapsed) / W + current.
// Why not a fixed window: it lets 2N through around each window edge. Why not an exact
// sliding log: its state is one timestamp per counted event (N per key, rewritten on
// every check), where this is three numbers. The counts themselves are exact (one writer).
// A check of cost c passes when estimate + min(c, N) <= N; a refused decision charges
// nothing; an allowed one charges every check of the decision (all or nothing).
//
// Concurrent connections are leases: acquire(id, max, ttl) holds a slot until release(id)
// or until the lease expires (a relay that dies without releasing cannot leak a slot for
// longer than its ttl, which the relay enforces as its maximum session age).
//
// Storage: SQLite-backed Durable Object, synchronous KV API (ctx.storage.kv), so a check
// is one in-memory transaction; an alarm deletes the state of a key that went idle.
// Trust: keys and names are opaque strings from our own Worker; costs/limits are checked.

import { DurableObject } from "cloudflare:workers";

export interface RateCheck {
  name: string; // which limit ("messages", "recipients", "connections")
  limit: number; // per window
  windowMs: number;
  cost?: number; // default 1
}

export interface RateDecision {
  allowed: boolean;
  refused?: string; // the name of the first refusing check
  retryAfterSeconds?: number;
}

export interface WindowState {
  index: number; // floor(now / windowMs) when `current` was last charged
  current: number;
  previous: number;
}

// Moves `s` to `nowMs`; a count older than one window is forgotten.
export function roll(s: WindowState, nowMs: number, windowMs: number): void {
  const index = Math.floor(nowMs / windowMs);
  if (index === s.index) return;
  s.previous = index === s.index + 1 ? s.current : 0;
  s.current = 0;
  s.index = index;
}

export function estimate(s: WindowState, nowMs: number, windowMs: number): number {
  const elapsed = nowMs - s.index * windowMs;
  return (s.previous * (windowMs - elapsed)) / windowMs + s.current;
}

export function allows(s: WindowState, nowMs: number, windowMs: number, limit: number, cost: number): boolean {
  return estimate(s, nowMs, windowMs) + Math.min(cost, limit) <= limit;
}

// When the estimate falls far enough for `cost` (a hint for Retry-After, seconds, >= 1).
export function retryAfterSeconds(s: WindowState, nowMs: number, windowMs: number, limit: number, cost: number): number {
  const need = Math.min(cost, limit);
  const windowEnd = (s.index + 1) * windowMs;
  // Within this window only `previous` decays; if current alone is too big, wait for the roll.
  if (s.previous > 0 && s.current + need <= limit) {
    // previous * (W - e) / W + current + need <= limit  =>  e >= W * (1 - (limit - current - need) / previous)
    const e = windowMs * (1 - (limit - s.current - need) / s.previous);
    const at = s.index * windowMs + Math.ceil(e);
    return Math.max(1, Math.ceil((at - nowMs) / 1000));
  }
  return Math.max(1, Math.ceil((windowEnd - nowMs) / 1000));
}

interface Leases {
  [id: string]: number; // expiry, ms since the epoch
}

export class RateLimiter extends DurableObject {
  // Checks every entry and charges them only if all pass. `nowMs` is for tests only.
  decide(checks: RateCheck[], nowMs?: number): RateDecision {
    const now = nowMs ?? Date.now();
    const kv = this.ctx.storage.kv;
    const states: WindowState[] = [];
    let longest = 0;
    for (const c of checks) {
      if (!(c.limit > 0) || !(c.windowMs > 0)) throw new RangeError(`bad limit ${c.name}`);
      const key = `w:${c.name}:${c.windowMs}`;
      const s = kv.get<WindowState>(key) ?? { index: 0, current: 0, previous: 0 };
      roll(s, now, c.windowMs);
      const cost = c.cost ?? 1;
      if (!allows(s, now, c.windowMs, c.limit, cost)) {
        return { allowed: false, refused: c.name, retryAfterSeconds: retryAfterSeconds(s, now, c.windowMs, c.limit, cost) };
      }
      states.push(s);
      longest = Math.max(longest, c.windowMs);
    }
    checks.forEach((c, i) => {
      const s = states[i]!;
      s.current += c.cost ?? 1;
      kv.put(`w:${c.name}:${c.windowMs}`, s);
    });
    if (checks.length > 0) this.armCleanup(2 * longest);
    return { allowed: true };
  }

  // Takes a connection slot when fewer than `max` unexpired leases are held.
  acquire(leaseId: string, max: number, ttlMs: number, nowMs?: number): RateDecision {
    const now = nowMs ?? Date.now();
    const kv = this.ctx.storage.kv;
    const leases = this.liveLeases(now);
    if (!(leaseId in leases) && Object.keys(leases).length >= max) {
      const soonest = Math.min(...Object.values(leases));
      return { allowed: false, refused: "concurrent", retryAfterSeconds: Math.max(1, Math.ceil((soonest - now) / 1000)) };
    }
    leases[leaseId] = now + ttlMs;
    kv.put("leases", leases);
    this.armCleanup(ttlMs + 1000);
    return { allowed: true };
  }

  // A new connection: a free slot of `maxConcurrent` (0 = no limit; checked first, charging
  // nothing when refused), then `checks` (the connection rate), then the lease — one round trip.
  admit(leaseId: string, maxConcurrent: number, ttlMs: number, checks: RateCheck[], nowMs?: number): RateDecision {
    const now = nowMs ?? Date.now();
    const leases = this.liveLeases(now);
    if (maxConcurrent > 0 && Object.keys(leases).length >= maxConcurrent) {
      const soonest = Math.min(...Object.values(leases));
      return { allowed: false, refused: "concurrent", retryAfterSeconds: Math.max(1, Math.ceil((soonest - now) / 1000)) };
    }
    const d = this.decide(checks, now);
    if (!d.allowed) return d;
    return this.acquire(leaseId, Number.MAX_SAFE_INTEGER, ttlMs, now);
  }

  release(leaseId: string, nowMs?: number): void {
    const leases = this.liveLeases(nowMs ?? Date.now());
    delete leases[leaseId];
    this.ctx.storage.kv.put("leases", leases);
  }

  // Held leases (for tests and diagnostics).
  leaseCount(nowMs?: number): number {
    return Object.keys(this.liveLeases(nowMs ?? Date.now())).length;
  }

  private liveLeases(now: number): Leases {
    const all = this.ctx.storage.kv.get<Leases>("leases") ?? {};
    const live: Leases = {};
    for (const [id, exp] of Object.entries(all)) if (exp > now) live[id] = exp;
    return live;
  }

  // Deletes the key's state once `idleMs` passed without a charge or lease (real time, even
  // when a test passes its own `nowMs`).
  // One alarm is kept pending, not moved on every charge: an alarm that fires before
  // "idle-at" sets itself again for "idle-at" (alarm()), so it is set here only when none is
  // pending ("alarm-at" absent). Setting it on every call cost a storage write of its own per
  // MAIL/RCPT check, the Worker's hottest path (bench/edge/RESULTS.md).
  private armCleanup(idleMs: number): void {
    const kv = this.ctx.storage.kv;
    const idleAt = Math.max(Date.now() + idleMs, kv.get<number>("idle-at") ?? 0);
    kv.put("idle-at", idleAt);
    if (kv.get<number>("alarm-at") === undefined) {
      kv.put("alarm-at", idleAt);
      void this.ctx.storage.setAlarm(idleAt);
    }
  }

  // Every count has aged out (or the alarm came early): drop the key's state, or wait on.
  async alarm(): Promise<void> {
    const kv = this.ctx.storage.kv;
    const idleAt = kv.get<number>("idle-at") ?? 0;
    if (Date.now() >= idleAt) {
      await this.ctx.storage.deleteAll();
      return;
    }
    kv.put("alarm-at", idleAt);
    await this.ctx.storage.setAlarm(idleAt);
  }
}

// The caller's side: one stub per key.
export function limiterFor(ns: DurableObjectNamespace<RateLimiter>, key: string): DurableObjectStub<RateLimiter> {
  return ns.get(ns.idFromName(key));
}
