#!/usr/bin/env bash
# Installs the Debian 12 packages mxgate needs to build, test and benchmark.
# Idempotent: skips apt entirely when every package is already installed.
# Run as root (or with sudo available). Used by the README's commands and by .ci/run.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config clang clang-format clang-tidy libclang-rt-14-dev
  libboost-dev libssl-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev librdkafka-dev libhiredis-dev libsystemd-dev
)
TEST_PKGS=(
  swaks libnet-ssleay-perl libauthen-sasl-perl postfix haproxy openssl python3 libgmime-3.0-dev redis-server
  lintian systemd
)

want=("${BUILD_PKGS[@]}")
if [ "${1:-}" != "--build-only" ]; then want+=("${TEST_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Postfix is used only as a test client and benchmark peer: install it unconfigured
# so that it never starts a system MTA.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
