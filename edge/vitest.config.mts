// Vitest on @cloudflare/vitest-pool-workers: the tests run inside workerd with the bindings of
// wrangler.toml; global-setup.mjs starts the loopback origins (Node) the Worker talks to.
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      main: "./src/index.ts",
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          MXGATE_EDGE_SECRET: inject("secret"),
          CONFIG_CACHE_SECONDS: "0",
          INGEST_TIMEOUT_MS: "10000",
        },
      },
    })),
  ],
  test: {
    globalSetup: ["./test/global-setup.mjs"],
    include: ["test/**/*.test.ts"],
    // The loopback origins are shared: one test file at a time.
    fileParallelism: false,
  },
});
