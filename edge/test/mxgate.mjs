// mxgate.mjs — a real mxgate for the end-to-end tests, when MXGATE_BIN points at a built
// binary that has the http_ingest and websocket listeners (docs/edge.md). It runs on loopback
// with its own directory and free ports (tenant "acme": acme.test; the edge token required),
// and a small Node "inspector" serves what it stored to the tests (which run inside workerd
// and cannot read files): GET /raw/<message id> → the .eml (404 until stored), GET /events →
// the events file (one CloudEvents JSON line per message).
// Without MXGATE_BIN, or when the binary refuses the configuration, { info: { skip } } says
// why, and the end-to-end tests skip with that reason.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as netServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

function freePort() {
  return new Promise((resolve) => {
    const s = netServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// <store>/<tenant>/raw/yyyy/mm/dd/<id>.eml
function findRaw(storeDir, id) {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id) || !existsSync(storeDir)) return null;
  for (const tenant of readdirSync(storeDir)) {
    const raw = join(storeDir, tenant, "raw");
    if (!existsSync(raw)) continue;
    for (const y of readdirSync(raw)) for (const m of readdirSync(join(raw, y))) for (const d of readdirSync(join(raw, y, m))) {
      const p = join(raw, y, m, d, `${id}.eml`);
      if (existsSync(p)) return p;
    }
  }
  return null;
}

export async function startMxgate(secret) {
  const bin = process.env.MXGATE_BIN;
  const none = async () => {};
  if (!bin) return { info: { skip: "MXGATE_BIN is not set (point it at a built mxgate to run the end-to-end tests)" }, stop: none };
  if (!existsSync(bin)) return { info: { skip: `MXGATE_BIN=${bin} does not exist` }, stop: none };
  const dir = mkdtempSync(join(tmpdir(), "mxgate-edge-"));
  const ports = { http: await freePort(), ingest: await freePort(), ws: await freePort() };
  const config = join(dir, "mxgate.toml");
  writeFileSync(
    config,
    `[server]
hostname = "mx.edge.test"
threads = 2
drain_timeout = "2s"

[tls]
enabled = false

[spool]
dir = "${dir}/spool"

[store]
dir = "${dir}/store"

[events]
file = "${dir}/events.jsonl"

[http]
listen = "127.0.0.1:${ports.http}"

[log]
file = "${dir}/mxgate.log"

[[tenant]]
name = "acme"
domains = ["acme.test"]

[[listener]]
name = "ingest"
kind = "http_ingest"
listen = "127.0.0.1:${ports.ingest}"
secret = "${secret}"

[[listener]]
name = "edge-smtp"
kind = "websocket"
listen = "127.0.0.1:${ports.ws}"
secret = "${secret}"
require_edge_token = true
`,
  );
  // mxgate reads every MXGATE_* variable as a config override (MXGATE_BIN is not one).
  const childEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MXGATE_")));
  const check = spawnSync(bin, ["check-config", "-c", config], { encoding: "utf8", env: childEnv });
  if (check.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { info: { skip: `this mxgate does not take the edge listeners: ${(check.stderr || check.stdout).trim().slice(0, 300)}` }, stop: none };
  }
  const proc = spawn(bin, ["serve", "-c", config], { cwd: dir, env: childEnv, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`mxgate exited (${proc.exitCode}): ${stderr}`);
    try {
      if ((await fetch(`http://127.0.0.1:${ports.ingest}/readyz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`mxgate did not become ready: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const inspector = createServer((req, res) => {
    if (req.url === "/events") {
      const p = join(dir, "events.jsonl");
      res.writeHead(200, { "Content-Type": "application/x-ndjson" }).end(existsSync(p) ? readFileSync(p) : "");
      return;
    }
    const m = /^\/raw\/([^/]+)$/.exec(req.url ?? "");
    const p = m ? findRaw(join(dir, "store"), m[1]) : null;
    if (!p) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": "message/rfc822" }).end(readFileSync(p));
  });
  await new Promise((r) => inspector.listen(0, "127.0.0.1", r));
  return {
    info: {
      ingest: `http://127.0.0.1:${ports.ingest}`,
      websocket: `ws://127.0.0.1:${ports.ws}/v1/smtp`,
      inspect: `http://127.0.0.1:${inspector.address().port}`,
    },
    stop: async () => {
      inspector.close();
      if (proc.exitCode === null) {
        proc.kill("SIGTERM");
        await Promise.race([new Promise((r) => proc.once("exit", r)), new Promise((r) => setTimeout(r, 5000))]);
        if (proc.exitCode === null) proc.kill("SIGKILL");
      }
      if (!process.env.MXGATE_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
      else console.log(`kept ${dir}`);
    },
  };
}
