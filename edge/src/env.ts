// env.ts — the Worker's bindings (wrangler.toml) and the settings read from its [vars],
// parsed once per request with defaults. Every binding the Worker uses is named here, so
// wrangler.toml, README.md and this file can be checked against one another.
//
// Trust: vars and secrets are operator input; a malformed value falls back to the
// documented default and the problem is logged (a Worker cannot refuse to start).

import type { RateLimiter } from "./rate-limiter";

export interface Env {
  // KV: region table ("regions"), tenants ("tenants"), blocklist ("block:*"), health.
  EDGE_KV: KVNamespace;
  // Durable Object: exact counters per client IP / sender domain.
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
  // Secret: the shared mxgate edge secret, "whsec_<base64>" (contract: Shared secret).
  MXGATE_EDGE_SECRET: string;
  // Vars (all optional, strings as [vars] give them).
  MAX_MESSAGE_BYTES?: string;
  INGEST_TIMEOUT_MS?: string;
  PROBE_TIMEOUT_MS?: string;
  CONFIG_CACHE_SECONDS?: string;
  HEALTH_REFRESH_SECONDS?: string;
  HEALTH_STALE_SECONDS?: string;
  LIMIT_IP_CONCURRENT?: string;
  LIMIT_IP_CONNECTIONS?: string;
  LIMIT_SENDER_MESSAGES?: string;
  LIMIT_SENDER_RECIPIENTS?: string;
  LIMIT_RECIPIENTS_PER_CONNECTION?: string;
  MAX_SESSION_SECONDS?: string;
  MAX_HELD_BYTES?: string;
  RELAY_WINDOW_BYTES?: string;
  ORIGIN_TRANSPORT?: string;
}

// "N/W" with W a number and a unit (s, m, h): a limit of N per window W. "0" or "" = off.
export interface RateSpec {
  limit: number;
  windowMs: number;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

export function parseRate(text: string | undefined, fallback: RateSpec | null): RateSpec | null {
  if (text === undefined) return fallback;
  const t = text.trim();
  if (t === "" || t === "0") return null;
  const m = /^(\d{1,9})\s*\/\s*(\d{1,9})\s*([smh])$/.exec(t);
  if (!m) {
    console.warn(`edge: bad rate "${t}" (want N/<number><s|m|h>), using the default`);
    return fallback;
  }
  const limit = Number(m[1]);
  const windowMs = Number(m[2]) * UNIT_MS[m[3]!]!;
  if (limit === 0) return null;
  if (windowMs === 0) return fallback;
  return { limit, windowMs };
}

export function parseCount(text: string | undefined, fallback: number): number {
  if (text === undefined || text.trim() === "") return fallback;
  const t = text.trim();
  if (!/^\d{1,15}$/.test(t)) {
    console.warn(`edge: bad number "${t}", using the default ${fallback}`);
    return fallback;
  }
  return Number(t);
}

export interface Settings {
  maxMessageBytes: number;
  ingestTimeoutMs: number;
  probeTimeoutMs: number;
  configCacheMs: number;
  healthRefreshMs: number;
  healthStaleMs: number;
  ipConcurrent: number; // 0 = off
  ipConnections: RateSpec | null;
  senderMessages: RateSpec | null;
  senderRecipients: RateSpec | null;
  recipientsPerConnection: number; // 0 = off
  maxSessionMs: number;
  maxHeldBytes: number;
  relayWindowBytes: number; // sent to the origin and not yet written, beyond which client input waits
  originTransport: "socket" | "fetch";
}

export function settings(env: Env): Settings {
  return {
    // Email Routing's own ceiling is 25 MiB; the buffer never holds more (forward.ts).
    maxMessageBytes: parseCount(env.MAX_MESSAGE_BYTES, 25 * 1024 * 1024),
    ingestTimeoutMs: parseCount(env.INGEST_TIMEOUT_MS, 30_000),
    probeTimeoutMs: parseCount(env.PROBE_TIMEOUT_MS, 5_000),
    configCacheMs: parseCount(env.CONFIG_CACHE_SECONDS, 30) * 1000,
    healthRefreshMs: parseCount(env.HEALTH_REFRESH_SECONDS, 240) * 1000, // < stale
    healthStaleMs: parseCount(env.HEALTH_STALE_SECONDS, 600) * 1000,
    ipConcurrent: parseCount(env.LIMIT_IP_CONCURRENT, 10),
    ipConnections: parseRate(env.LIMIT_IP_CONNECTIONS, { limit: 60, windowMs: 60_000 }),
    senderMessages: parseRate(env.LIMIT_SENDER_MESSAGES, { limit: 1000, windowMs: 3_600_000 }),
    senderRecipients: parseRate(env.LIMIT_SENDER_RECIPIENTS, { limit: 5000, windowMs: 3_600_000 }),
    recipientsPerConnection: parseCount(env.LIMIT_RECIPIENTS_PER_CONNECTION, 100),
    maxSessionMs: parseCount(env.MAX_SESSION_SECONDS, 3600) * 1000,
    maxHeldBytes: parseCount(env.MAX_HELD_BYTES, 256 * 1024),
    relayWindowBytes: Math.max(1, parseCount(env.RELAY_WINDOW_BYTES, 4 * 1024 * 1024)),
    originTransport: originTransport(env.ORIGIN_TRANSPORT),
  };
}

// "socket" (default): the relay's own WebSocket client over connect(), with backpressure;
// "fetch": the runtime's WebSocket, for an origin behind Cloudflare's proxy (relay.ts).
function originTransport(text: string | undefined): "socket" | "fetch" {
  const t = (text ?? "").trim().toLowerCase();
  if (t === "" || t === "socket") return "socket";
  if (t === "fetch") return "fetch";
  console.warn(`edge: bad ORIGIN_TRANSPORT "${t}" (want socket or fetch), using socket`);
  return "socket";
}
