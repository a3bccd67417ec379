#!/usr/bin/env bash
# Builds the mxgate Debian package from a built binary, with dpkg-deb (no debhelper, no
# source package): the binary (stripped), the hardened unit (deploy/systemd), the shipped
# config as a conffile (deploy/config/mxgate.toml -> /etc/mxgate/mxgate.toml), the
# maintainer scripts of this directory (postinst creates the mxgate system user), docs and
# a man page. lintian passes it without overrides (tests/deploy/test_debian_package.py).
#
# Usage: deploy/debian/build-deb.sh BINARY OUTDIR      prints the path of the .deb
# Depends: is computed from the binary's libraries with dpkg-shlibdeps (dpkg-dev).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:?usage: build-deb.sh BINARY OUTDIR}
out=${2:?usage: build-deb.sh BINARY OUTDIR}
mkdir -p "$out"

version=$("$bin" version | sed -n 's/^mxgate //p')
arch=$(dpkg --print-architecture)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pkg="$work/pkg"

install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/etc/mxgate" "$pkg/lib/systemd/system" \
  "$pkg/usr/share/doc/mxgate" "$pkg/usr/share/man/man1"
install -m 0755 "$bin" "$pkg/usr/bin/mxgate"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$pkg/usr/bin/mxgate"
install -m 0644 "$root/deploy/systemd/mxgate.service" "$pkg/lib/systemd/system/mxgate.service"
install -m 0644 "$root/deploy/config/mxgate.toml" "$pkg/etc/mxgate/mxgate.toml"
install -m 0644 "$here/copyright" "$pkg/usr/share/doc/mxgate/copyright"
for doc in config.md operations.md; do
  gzip -9n < "$root/docs/$doc" > "$pkg/usr/share/doc/mxgate/$doc.gz"
done
sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$(date -R -u -d @"${SOURCE_DATE_EPOCH:-0}")/" "$here/changelog" |
  gzip -9n > "$pkg/usr/share/doc/mxgate/changelog.gz"
gzip -9n < "$here/mxgate.1" > "$pkg/usr/share/man/man1/mxgate.1.gz"
for s in postinst prerm postrm; do install -m 0755 "$here/$s" "$pkg/DEBIAN/$s"; done
echo /etc/mxgate/mxgate.toml > "$pkg/DEBIAN/conffiles"

# Depends from the binary's shared libraries (dpkg-shlibdeps wants a debian/control).
mkdir -p "$work/src/debian"
printf 'Source: mxgate\n\nPackage: mxgate\nArchitecture: any\n' > "$work/src/debian/control"
depends=$(cd "$work/src" && dpkg-shlibdeps -O "$pkg/usr/bin/mxgate" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
size=$(du -k -s --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
  "$here/control.in" > "$pkg/DEBIAN/control"
(cd "$pkg" && find usr lib -type f -print0 | sort -z | xargs -0 md5sum > DEBIAN/md5sums)

deb="$out/mxgate_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zgzip --build "$pkg" "$deb" >/dev/null
echo "$deb"
