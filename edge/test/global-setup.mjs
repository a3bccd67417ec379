// global-setup.mjs — Node side of the Worker's tests (vitest globalSetup): starts the
// loopback stand-ins for mxgate regions (origin-server.mjs), finds closed ports for the
// "region down" cases, makes the shared whsec_ secret, and — when MXGATE_BIN names a built
// mxgate — a real mxgate with an http_ingest and a websocket listener (mxgate.mjs). What the
// tests need is handed over with project.provide(); everything started here is stopped in
// the teardown.
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { startOrigin } from "./origin-server.mjs";
import { startMxgate } from "./mxgate.mjs";

// A port nothing listens on: bound, then released.
function closedPort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export default async function setup(project) {
  const key = randomBytes(32);
  const secret = `whsec_${key.toString("base64")}`;
  const a = await startOrigin("a", key);
  const b = await startOrigin("b", key);
  const mx = await startMxgate(secret);
  project.provide("secret", secret);
  project.provide("originA", a.port);
  project.provide("originB", b.port);
  project.provide("closedPort", await closedPort());
  project.provide("closedPort2", await closedPort());
  project.provide("mxgate", mx.info);
  return async () => {
    await mx.stop();
    for (const o of [a, b]) await o.stop();
  };
}
