// config.ts — what the operator keeps in the EDGE_KV namespace, read and checked here:
//   "regions"  the region table: [{ name, ingest, websocket, lat, lon, countries?, continents? }]
//   "tenants"  { "<tenant>": { domains: [...], regions?: [...], token_sha256?: [...] } }
//   "health"   written by scheduled() (geo-router.ts): { "<region>": { ok, checked_at, ... } }
//   "block:sender:<address>", "block:domain:<domain>", "block:ip:<ip>"  blocklist entries
//              (any value; present = blocked)
// The JSON documents are cached per isolate for CONFIG_CACHE_SECONDS (KV itself is
// eventually consistent, ~60 s, so a short cache changes nothing an operator can see).
//
// Trust: operator input. A region or tenant entry that does not check out is skipped and
// logged, not fatal: the rest of the table keeps working.

import type { Env } from "./env";
import { hex } from "./signing";

export interface Region {
  name: string;
  ingest: string; // base URL of the http_ingest listener ("https://eu1.mx.example:8443")
  websocket: string; // URL of the websocket listener ("wss://eu1.mx.example/v1/smtp")
  lat: number;
  lon: number;
  countries: string[]; // ISO 3166 codes sent here first (request.cf.country), upper case
  continents: string[]; // request.cf.continent codes ("EU", "NA", ...), upper case
}

export interface Tenant {
  name: string;
  domains: string[]; // lower case
  regions: string[] | null; // data residency: only these, in this order of preference
  tokenHashes: Set<string>; // hex SHA-256 of the bridge tokens
}

export interface Health {
  ok: boolean;
  checked_at: number; // ms since the epoch
  status?: number;
  error?: string;
}

export interface EdgeConfig {
  regions: Region[];
  tenants: Tenant[];
  health: Record<string, Health>;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function validUrl(s: unknown, schemes: string[]): s is string {
  if (typeof s !== "string") return false;
  try {
    return schemes.includes(new URL(s).protocol);
  } catch {
    return false;
  }
}

export function parseRegions(doc: unknown): Region[] {
  const out: Region[] = [];
  if (!Array.isArray(doc)) return out;
  for (const r of doc) {
    const e = r as Record<string, unknown>;
    const lat = Number(e.lat);
    const lon = Number(e.lon);
    if (typeof e.name !== "string" || e.name === "" || !validUrl(e.ingest, ["http:", "https:"]) ||
        !validUrl(e.websocket, ["ws:", "wss:", "http:", "https:"]) || !Number.isFinite(lat) || !Number.isFinite(lon)) {
      console.warn(`edge: region entry skipped: ${JSON.stringify(r)}`);
      continue;
    }
    out.push({
      name: e.name,
      ingest: e.ingest.replace(/\/+$/, ""),
      websocket: e.websocket,
      lat,
      lon,
      countries: strings(e.countries).map((c) => c.toUpperCase()),
      continents: strings(e.continents).map((c) => c.toUpperCase()),
    });
  }
  return out;
}

export function parseTenants(doc: unknown): Tenant[] {
  const out: Tenant[] = [];
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return out;
  for (const [name, v] of Object.entries(doc as Record<string, unknown>)) {
    const e = (v ?? {}) as Record<string, unknown>;
    const domains = strings(e.domains).map((d) => d.toLowerCase().replace(/\.$/, ""));
    out.push({
      name,
      domains,
      regions: Array.isArray(e.regions) ? strings(e.regions) : null,
      tokenHashes: new Set(strings(e.token_sha256).map((h) => h.toLowerCase())),
    });
  }
  return out;
}

let cache: { at: number; kv: KVNamespace; config: EdgeConfig } | null = null;

export async function loadConfig(env: Env, cacheMs: number): Promise<EdgeConfig> {
  const now = Date.now();
  if (cache && cache.kv === env.EDGE_KV && now - cache.at < cacheMs) return cache.config;
  const [regions, tenants, health] = await Promise.all([
    env.EDGE_KV.get("regions", "json"),
    env.EDGE_KV.get("tenants", "json"),
    env.EDGE_KV.get("health", "json"),
  ]);
  const config: EdgeConfig = {
    regions: parseRegions(regions),
    tenants: parseTenants(tenants),
    health: (health ?? {}) as Record<string, Health>,
  };
  cache = { at: now, kv: env.EDGE_KV, config };
  return config;
}

// The domain of an address, lower case, without a trailing dot ("" for "<>").
export function domainOf(address: string): string {
  const a = address.trim().replace(/^<|>$/g, "");
  const at = a.lastIndexOf("@");
  return (at < 0 ? "" : a.slice(at + 1)).toLowerCase().replace(/\.$/, "");
}

export function tenantForDomain(config: EdgeConfig, domain: string): Tenant | null {
  return config.tenants.find((t) => t.domains.includes(domain)) ?? null;
}

export async function tenantForToken(config: EdgeConfig, token: string): Promise<Tenant | null> {
  if (token === "") return null;
  const digest = hex(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))));
  return config.tenants.find((t) => t.tokenHashes.has(digest)) ?? null;
}

// Blocklist: exact sender address, its domain, or a client IP.
export async function blockedSender(env: Env, address: string): Promise<string | null> {
  const a = address.trim().replace(/^<|>$/g, "").toLowerCase();
  const d = domainOf(a);
  const [byAddress, byDomain] = await Promise.all([
    a === "" ? null : env.EDGE_KV.get(`block:sender:${a}`),
    d === "" ? null : env.EDGE_KV.get(`block:domain:${d}`),
  ]);
  if (byAddress !== null) return `sender ${a}`;
  if (byDomain !== null) return `domain ${d}`;
  return null;
}

export async function blockedIp(env: Env, ip: string): Promise<boolean> {
  return (await env.EDGE_KV.get(`block:ip:${ip}`)) !== null;
}
