#!/usr/bin/env bash
# deploy/lambda/build.sh [OUT.zip] — the deployable Lambda package: a zip holding one file,
# `bootstrap` (mxgate-lambda, Release, stripped), for the `provided.al2023` runtime (x86_64).
# Configures its own build directory (build-lambda/) without tests, benchmarks or the Kafka
# sink (librdkafka is not on Amazon Linux 2023 and its Debian static archive drags in every
# Cyrus SASL plugin: from Lambda, publish to SQS or a webhook), builds, strips, checks the
# binary against Amazon Linux 2023 (check-binary.sh: GLIBC <= 2.34, static libstdc++, only
# AL2023's libraries) and zips. Needs what scripts/install-deps.sh --build-only installs, and zip
# (or python3).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/dist/mxgate-lambda.zip}
build=${MXGATE_BUILD_LAMBDA_DIR:-$root/build-lambda}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMXGATE_TESTS=OFF -DMXGATE_BENCH=OFF \
  -DMXGATE_WITH_EVENTS_KAFKA=OFF -DMXGATE_WITH_SYSTEMD=OFF -DMXGATE_LAMBDA_STATIC=ON >/dev/null
ninja -C "$build" mxgate-lambda
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$build/src/app/mxgate-lambda" "$stage/bootstrap"
strip "$stage/bootstrap"
chmod 0755 "$stage/bootstrap"
"$root/deploy/lambda/check-binary.sh" "$stage/bootstrap"
mkdir -p "$(dirname "$out")"
rm -f "$out"
if command -v zip >/dev/null; then
  (cd "$stage" && zip -q -X "$out" bootstrap)
else
  python3 - "$stage/bootstrap" "$out" <<'PY'
import sys, zipfile
src, out = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
info.external_attr = 0o100755 << 16  # a regular file, rwxr-xr-x: Lambda runs it
info.compress_type = zipfile.ZIP_DEFLATED
with open(src, "rb") as f, zipfile.ZipFile(out, "w") as z:
    z.writestr(info, f.read())
PY
fi
echo "$out: $(stat -c %s "$out") bytes (bootstrap $(stat -c %s "$stage/bootstrap") bytes)"
