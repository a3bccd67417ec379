// Types of what global-setup.mjs provides, and of the test env (the Worker's own Env).
import type { Env as WorkerEnv } from "../src/env";

declare module "vitest" {
  export interface ProvidedContext {
    secret: string;
    originA: number;
    originB: number;
    closedPort: number;
    closedPort2: number;
    mxgate: { skip?: string; ingest?: string; websocket?: string; inspect?: string };
  }
}
declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {}
  }
}
