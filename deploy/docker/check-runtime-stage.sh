#!/usr/bin/env bash
# Checks the Dockerfile's runtime stage without a container registry or engine: builds the
# Debian package from BINARY, makes a Debian 12 minbase root with mmdebstrap (from the
# Debian mirror), and inside it does what the stage does — create mxgate with UID/GID 10001,
# apt-install the package (its Depends must resolve on a clean system), install the
# container config — then runs `mxgate check-config` and `mxgate serve` as 10001 and the
# image's HEALTHCHECK command against it. Needs root, mmdebstrap and the mirror; ~2 min, so
# it is not part of ctest (docs/operations.md "Container").
# Usage: sudo deploy/docker/check-runtime-stage.sh build/src/app/mxgate
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(realpath "${1:?usage: check-runtime-stage.sh BINARY}")
work=$(mktemp -d)
root="$work/root"
cleanup() {
  [ -f "$work/pid" ] && kill "$(cat "$work/pid")" 2>/dev/null || true
  mountpoint -q "$root/proc" && umount "$root/proc"
  rm -rf "$work"
}
trap cleanup EXIT

deb=$("$here/../debian/build-deb.sh" "$bin" "$work/deb")
mkdir -p "$root"
mmdebstrap --quiet --variant=minbase --mode=root bookworm "$root" http://deb.debian.org/debian
cp "$deb" "$root/tmp/mxgate.deb"
cp "$here/mxgate.toml" "$root/tmp/container.toml"
chroot "$root" sh -ec '
  groupadd --system --gid 10001 mxgate
  useradd --system --uid 10001 --gid mxgate --home-dir /var/lib/mxgate --no-create-home --shell /usr/sbin/nologin mxgate
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates /tmp/mxgate.deb >/dev/null
  install -m 0640 -o root -g mxgate /tmp/container.toml /etc/mxgate/mxgate.toml
  test "$(id -u mxgate)" = 10001
  runuser -u mxgate -- mxgate check-config -c /etc/mxgate/mxgate.toml'
mount -t proc proc "$root/proc"
chroot --userspec=10001:10001 "$root" sh -c 'cd /var/lib/mxgate && exec mxgate serve -c /etc/mxgate/mxgate.toml' \
  > "$work/serve.log" 2>&1 &
echo $! > "$work/pid"
for _ in $(seq 50); do
  if chroot --userspec=10001:10001 "$root" bash -c \
      "exec 3<>/dev/tcp/127.0.0.1/8025 && printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3 && head -n1 <&3 | grep -q ' 200 '" 2>/dev/null; then
    echo "runtime stage ok: package installed on Debian 12 minbase, check-config and HEALTHCHECK pass as UID 10001"
    exit 0
  fi
  sleep 0.2
done
cat "$work/serve.log" >&2
echo "HEALTHCHECK never passed" >&2
exit 1
