#!/usr/bin/env bash
# The edge Worker's tests (edge/): installs its pinned toolchain from the committed lockfile
# (npm ci, preferring the local npm cache; skipped when node_modules already matches the
# lockfile), type-checks (tsc --noEmit), bundles it as for deployment (wrangler deploy
# --dry-run) and runs vitest inside workerd
# (@cloudflare/vitest-pool-workers). Registered in ctest as edge.vitest, which sets
# MXGATE_BIN to the build's mxgate so the end-to-end tests run against the real listeners;
# without MXGATE_BIN they skip and say so. Exits 77 (ctest: skipped) when node/npm are absent.
#   MXGATE_BIN            a built mxgate (optional)
#   MXGATE_EDGE_NPM_CI=1  force npm ci even when node_modules matches the lockfile
set -euo pipefail
cd "$(dirname "$0")/../edge"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node/npm not installed (the image has node 20 + npm)"
  exit 77
fi
ms() { echo $(($(date +%s%N) / 1000000)); }
t0=$(ms)
stamp=node_modules/.mxgate-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "${MXGATE_EDGE_NPM_CI:-0}" = "1" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --prefer-offline --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
t1=$(ms)
npx --no-install tsc --noEmit
# Bundles the Worker as for deployment (checks wrangler.toml and the bindings), uploads nothing.
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
WRANGLER_SEND_METRICS=false npx --no-install wrangler deploy --dry-run --outdir "$out" >/dev/null
t2=$(ms)
npx --no-install vitest run --reporter=default
t3=$(ms)
echo "edge: npm ci $((t1 - t0)) ms, tsc + dry-run $((t2 - t1)) ms, vitest $((t3 - t2)) ms"
