// geo-router.ts — which mxgate region to try first, second, ...; and the health probes.
//
// Order (routeOrder): regions the client's country is mapped to, then its continent, then
// the rest; within each group by great-circle distance (haversine, mean Earth radius) from
// the client's request.cf latitude/longitude, or table order when the location is unknown.
// A tenant's data-residency list restricts the candidates (its order wins over distance:
// the operator listed them by preference). Healthy regions come first; a region whose probe
// failed is still tried last (an unhealthy mark can be wrong, and trying costs less than
// refusing a message). A health record older than HEALTH_STALE_SECONDS counts as unknown
// (healthy): a cron that stopped must not make every region look down.
//
// Health is recorded in KV, not in a Durable Object: it is read on every message and every
// connection, everywhere, and a KV read is served from the local cache, where a DO call
// would cross the world to wherever the object lives; the cost is staleness (KV propagates
// in ~60 s), which the probe interval (1 min) already has. scheduled() writes the key only
// when a region's state changes or HEALTH_REFRESH_SECONDS passed, so a 1-minute cron stays
// far below KV's write limits.
//
// Trust: request.cf values come from Cloudflare; they may be absent (local dev, tests).

import type { EdgeConfig, Health, Region, Tenant } from "./config";
import type { Env, Settings } from "./env";

export interface ClientLocation {
  latitude?: number;
  longitude?: number;
  country?: string;
  continent?: string;
}

const EARTH_RADIUS_KM = 6371.0088;

export function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}

// request.cf → location (strings in cf: "48.85341"); missing or malformed fields stay unset.
export function locationFromCf(cf: Record<string, unknown> | undefined): ClientLocation {
  if (!cf) return {};
  const num = (v: unknown) => {
    const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
    return Number.isFinite(n) ? n : undefined;
  };
  const lat = num(cf.latitude);
  const lon = num(cf.longitude);
  const loc: ClientLocation = {};
  if (lat !== undefined && lon !== undefined && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
    loc.latitude = lat;
    loc.longitude = lon;
  }
  if (typeof cf.country === "string" && cf.country !== "") loc.country = cf.country.toUpperCase();
  if (typeof cf.continent === "string" && cf.continent !== "") loc.continent = cf.continent.toUpperCase();
  return loc;
}

export function isHealthy(h: Health | undefined, nowMs: number, staleMs: number): boolean {
  if (!h || nowMs - h.checked_at > staleMs) return true;
  return h.ok;
}

export function routeOrder(config: EdgeConfig, loc: ClientLocation, tenant: Tenant | null, nowMs: number, staleMs: number): Region[] {
  let candidates: Region[];
  if (tenant?.regions) {
    // Residency: only the tenant's regions, in its order.
    candidates = tenant.regions.map((n) => config.regions.find((r) => r.name === n)).filter((r): r is Region => !!r);
  } else {
    const group = (r: Region) =>
      loc.country && r.countries.includes(loc.country) ? 0 : loc.continent && r.continents.includes(loc.continent) ? 1 : 2;
    const dist = (r: Region) =>
      loc.latitude !== undefined && loc.longitude !== undefined ? distanceKm(loc.latitude, loc.longitude, r.lat, r.lon) : 0;
    candidates = config.regions
      .map((r, i) => ({ r, i, g: group(r), d: dist(r) }))
      .sort((a, b) => a.g - b.g || a.d - b.d || a.i - b.i)
      .map((x) => x.r);
  }
  const healthy = candidates.filter((r) => isHealthy(config.health[r.name], nowMs, staleMs));
  const unhealthy = candidates.filter((r) => !isHealthy(config.health[r.name], nowMs, staleMs));
  return [...healthy, ...unhealthy];
}

// Probes every region's GET <ingest>/readyz (contract: 200 when accepting) and records the
// result in KV under "health" when something changed or the record is due for a refresh.
export async function probeRegions(env: Env, config: EdgeConfig, s: Settings, nowMs = Date.now()): Promise<Record<string, Health>> {
  const results = await Promise.all(
    config.regions.map(async (r): Promise<[string, Health]> => {
      try {
        const res = await fetch(`${r.ingest}/readyz`, { signal: AbortSignal.timeout(s.probeTimeoutMs) });
        await res.body?.cancel();
        return [r.name, { ok: res.status === 200, status: res.status, checked_at: nowMs }];
      } catch (e) {
        return [r.name, { ok: false, error: String(e).slice(0, 200), checked_at: nowMs }];
      }
    }),
  );
  const next = Object.fromEntries(results);
  const prev = ((await env.EDGE_KV.get("health", "json")) ?? {}) as Record<string, Health>;
  const changed =
    Object.keys(next).length !== Object.keys(prev).length ||
    Object.entries(next).some(([n, h]) => !prev[n] || prev[n]!.ok !== h.ok || nowMs - prev[n]!.checked_at >= s.healthRefreshMs);
  if (changed) await env.EDGE_KV.put("health", JSON.stringify(next));
  return next;
}
