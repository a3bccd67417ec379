// Types of what global-setup.mjs provides, and of the test env.
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
declare namespace Cloudflare {
  interface Env extends import("../src/env").Env {}
}
export {};
