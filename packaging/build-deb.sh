#!/bin/sh
# `make deb`: builds the Debian package from this tree with
# `dpkg-buildpackage -us -uc -b`. dpkg-buildpackage wants debian/ at the top
# of the source, so the tree is copied to OUTDIR/deb/srs-proxy-VERSION with
# packaging/debian as its debian/ (the repository keeps one debian/ only, in
# packaging/, next to the RPM spec). The .deb files end up in OUTDIR.
#
# Usage: build-deb.sh OUTDIR
# Environment: DEB_BUILD_OPTIONS (default "parallel=<nproc> nocheck"),
#              DPKG_BUILDPACKAGE_FLAGS (extra flags, e.g. -d to skip the
#              build-dependency check).
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd -P)
outdir=$1
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd -P)

for tool in dpkg-buildpackage dh fakeroot; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "build-deb.sh: $tool not found; install the Debian packages dpkg-dev debhelper fakeroot" >&2
        exit 1
    }
done

version=$(sed -n 's/^project(srs-proxy VERSION \([0-9.]*\).*/\1/p' "$srcdir/CMakeLists.txt")
stage=$outdir/deb/srs-proxy-$version
sh "$srcdir/packaging/stage-tree.sh" "$srcdir" "$stage" "$outdir"
cp -R "$srcdir/packaging/debian" "$stage/debian"

: "${DEB_BUILD_OPTIONS:=parallel=$(nproc 2>/dev/null || echo 2) nocheck}"
export DEB_BUILD_OPTIONS
echo "building the .deb in $stage (DEB_BUILD_OPTIONS=$DEB_BUILD_OPTIONS)"
# shellcheck disable=SC2086
(cd "$stage" && dpkg-buildpackage -us -uc -b ${DPKG_BUILDPACKAGE_FLAGS:-})

# dpkg-buildpackage writes next to the source directory.
for f in "$outdir"/deb/*.deb "$outdir"/deb/*.ddeb "$outdir"/deb/*.buildinfo "$outdir"/deb/*.changes; do
    [ -e "$f" ] && mv -f "$f" "$outdir/"
done
ls -1 "$outdir"/*.deb
