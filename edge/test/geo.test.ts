// Geo routing (great-circle order, country/continent mapping, residency, health) for injected
// request.cf values, and the scheduled() health probes against the loopback origins.
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { type EdgeConfig, parseRegions, parseTenants } from "../src/config";
import { distanceKm, locationFromCf, routeOrder } from "../src/geo-router";
import worker from "../src/index";
import { CLOSED, configure, ORIGIN_A, ORIGIN_B, region, resetOrigins, setMode } from "./helpers";

const REGIONS = parseRegions([
  { name: "eu-west", ingest: "https://eu-west.test", websocket: "wss://eu-west.test/v1/smtp", lat: 53.35, lon: -6.26 }, // Dublin
  { name: "eu-central", ingest: "https://eu-central.test", websocket: "wss://eu-central.test/v1/smtp", lat: 50.11, lon: 8.68 }, // Frankfurt
  { name: "us-east", ingest: "https://us-east.test", websocket: "wss://us-east.test/v1/smtp", lat: 38.9, lon: -77.04, countries: ["br"] }, // Virginia
  { name: "ap-southeast", ingest: "https://ap.test", websocket: "wss://ap.test/v1/smtp", lat: 1.29, lon: 103.85, continents: ["oc"] }, // Singapore
]);

function config(health: EdgeConfig["health"] = {}): EdgeConfig {
  return { regions: REGIONS, tenants: [], health };
}

const order = (cf: Record<string, unknown>, c = config(), tenant = null as ReturnType<typeof parseTenants>[number] | null) =>
  routeOrder(c, locationFromCf(cf), tenant, 1_000_000, 600_000).map((r) => r.name);

describe("geo routing", () => {
  it("measures great-circle distances", () => {
    expect(distanceKm(51.5074, -0.1278, 48.8566, 2.3522)).toBeCloseTo(343.5, 0); // London–Paris
    expect(distanceKm(40.7128, -74.006, 51.5074, -0.1278)).toBeCloseTo(5570, -1); // New York–London
    expect(distanceKm(0, 0, 0, 180)).toBeCloseTo(Math.PI * 6371.0088, 3);
  });

  it("orders regions by distance from the client, with country and continent mappings first", () => {
    expect(order({ latitude: "48.8566", longitude: "2.3522", country: "FR", continent: "EU" })).toEqual(["eu-central", "eu-west", "us-east", "ap-southeast"]);
    expect(order({ latitude: "53.0", longitude: "-8.0", country: "IE", continent: "EU" })[0]).toBe("eu-west");
    expect(order({ latitude: "37.77", longitude: "-122.42", country: "US", continent: "NA" })[0]).toBe("us-east");
    expect(order({ latitude: "35.68", longitude: "139.69", country: "JP", continent: "AS" })[0]).toBe("ap-southeast");
    // Brazil is mapped to us-east; Oceania to ap-southeast (Sydney is nearer Singapore anyway).
    expect(order({ latitude: "-23.55", longitude: "-46.63", country: "BR", continent: "SA" })[0]).toBe("us-east");
    expect(order({ latitude: "-33.87", longitude: "151.21", country: "AU", continent: "OC" })[0]).toBe("ap-southeast");
    // A mapping wins over distance: a Portuguese-speaking client in Lisbon tagged BR goes west.
    expect(order({ latitude: "38.72", longitude: "-9.14", country: "BR" })[0]).toBe("us-east");
  });

  it("keeps table order when the location is unknown or malformed", () => {
    expect(order({})).toEqual(["eu-west", "eu-central", "us-east", "ap-southeast"]);
    expect(order({ latitude: "north", longitude: "2" })).toEqual(["eu-west", "eu-central", "us-east", "ap-southeast"]);
    expect(order({ latitude: "95", longitude: "2" })).toEqual(["eu-west", "eu-central", "us-east", "ap-southeast"]);
  });

  it("moves unhealthy regions last, and ignores stale health records", () => {
    const paris = { latitude: "48.8566", longitude: "2.3522" };
    expect(order(paris, config({ "eu-central": { ok: false, checked_at: 999_000 } }))).toEqual(["eu-west", "us-east", "ap-southeast", "eu-central"]);
    expect(order(paris, config({ "eu-central": { ok: false, checked_at: 1 } }))[0]).toBe("eu-central"); // stale
  });

  it("restricts a tenant with data residency to its regions, in its order", () => {
    const [t] = parseTenants({ t: { domains: ["t.test"], regions: ["eu-west", "eu-central", "nowhere"] } });
    expect(order({ latitude: "37.77", longitude: "-122.42" }, config(), t)).toEqual(["eu-west", "eu-central"]);
    expect(order({}, config({ "eu-west": { ok: false, checked_at: 999_000 } }), t)).toEqual(["eu-central", "eu-west"]);
  });

  it("skips malformed region entries", () => {
    expect(parseRegions([{ name: "x", ingest: "ftp://x", websocket: "wss://x", lat: 1, lon: 2 }, { name: "y" }, "z"])).toEqual([]);
  });
});

describe("scheduled() health probes", () => {
  beforeEach(resetOrigins);

  it("records each region's /readyz, and rewrites the record only on a change or when due", async () => {
    await configure([region("a", ORIGIN_A), region("b", ORIGIN_B), region("down", CLOSED)]);
    await setMode(ORIGIN_B, { readyz: 503 });
    const run = async () => {
      const ctx = createExecutionContext();
      await worker.scheduled!(createScheduledController({ cron: "* * * * *" }), env, ctx);
      await waitOnExecutionContext(ctx);
      return (await env.EDGE_KV.get("health", "json")) as Record<string, { ok: boolean; checked_at: number; status?: number }>;
    };
    const first = await run();
    expect({ a: first.a!.ok, b: first.b!.ok, down: first.down!.ok, bStatus: first.b!.status }).toEqual({ a: true, b: false, down: false, bStatus: 503 });
    const second = await run();
    expect(second.a!.checked_at).toBe(first.a!.checked_at); // nothing changed: not rewritten
    await setMode(ORIGIN_B, { readyz: 200 });
    const third = await run();
    expect(third.b!.ok).toBe(true);
    // The bridge now prefers the healthy regions.
    await setMode(ORIGIN_A, { readyz: 503 });
    await run();
    const cfg = { regions: parseRegions(JSON.parse((await env.EDGE_KV.get("regions"))!)), tenants: [], health: (await env.EDGE_KV.get("health", "json")) as EdgeConfig["health"] };
    expect(routeOrder(cfg, {}, null, Date.now(), 600_000).map((r) => r.name)).toEqual(["b", "a", "down"]);
  });
});
