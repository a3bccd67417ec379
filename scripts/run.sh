#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running gateway on the embedded defaults:
# installs the build dependencies, builds, and runs `mxgate serve` in the foreground.
#   SMTP 127.0.0.1:2525, submission (STARTTLS + AUTH) 2587, implicit TLS 2465,
#   HTTP 127.0.0.1:8025 (/healthz, /readyz, /metrics); spool, store, TLS files and
#   events (var/events.jsonl) under ./var. Extra arguments go to `mxgate serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh --build-only
./scripts/build.sh
exec ./build/src/app/mxgate serve "$@"
