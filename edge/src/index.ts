// index.ts — mxgate's edge Worker (edge/README.md): the entry points and nothing else.
//   email()     Cloudflare Email Routing → mxgate HTTP ingest (forward.ts)
//   fetch()     GET /v1/smtp: the SMTP-over-WebSocket bridge (relay.ts); GET /healthz
//   scheduled() probes each region's /readyz and records health (geo-router.ts)
// The Durable Object class of the rate limits is exported for its binding.
//
// Trust: requests and messages from the Internet; see each module's header.

import { loadConfig } from "./config";
import { type Env, settings } from "./env";
import { forwardEmail } from "./forward";
import { probeRegions } from "./geo-router";
import { handleSmtpUpgrade } from "./relay";

export { RateLimiter } from "./rate-limiter";
export type { Env } from "./env";

export default {
  async fetch(request, env, ctx): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/v1/smtp") return handleSmtpUpgrade(request, env, ctx);
    if (url.pathname === "/healthz") {
      if (request.method !== "GET" && request.method !== "HEAD") return new Response(null, { status: 405, headers: { Allow: "GET, HEAD" } });
      return Response.json({ status: "ok" });
    }
    return Response.json({ error: "not found" }, { status: 404 });
  },

  async email(message, env, _ctx): Promise<void> {
    // A throw is a temporary failure for the sending MTA; policy refusals use setReject.
    await forwardEmail(message, env);
  },

  async scheduled(_controller, env, ctx): Promise<void> {
    const s = settings(env);
    ctx.waitUntil(loadConfig(env, 0).then((config) => probeRegions(env, config, s)));
  },
} satisfies ExportedHandler<Env>;
