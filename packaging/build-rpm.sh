#!/bin/sh
# `make rpm`: builds the RPM from this tree with rpmbuild and
# packaging/rpm/srs-proxy.spec. The working tree is packed into the spec's
# Source0 tarball (srs-proxy-VERSION.tar.gz) under OUTDIR/rpmbuild, so the
# package has what is in the tree, committed or not. The .rpm ends up in
# OUTDIR.
#
# On Debian (where the test suite builds it) the BuildRequires, which name
# Fedora packages, are unknown to rpm's empty database, so --nodeps is added.
#
# Usage: build-rpm.sh OUTDIR
# Environment: RPMBUILD_FLAGS (extra flags), SP_RPM_JOBS (parallel jobs,
#              default nproc).
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd -P)
outdir=$1
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd -P)

command -v rpmbuild >/dev/null 2>&1 || {
    echo "build-rpm.sh: rpmbuild not found; install the Debian package rpm (or rpm-build on Fedora)" >&2
    exit 1
}

version=$(sed -n 's/^project(srs-proxy VERSION \([0-9.]*\).*/\1/p' "$srcdir/CMakeLists.txt")
spec_version=$(sed -n 's/^Version: *//p' "$srcdir/packaging/rpm/srs-proxy.spec")
if [ "$version" != "$spec_version" ]; then
    echo "build-rpm.sh: CMakeLists.txt says $version, the spec $spec_version; update the spec" >&2
    exit 1
fi

top=$outdir/rpmbuild
rm -rf "$top"
mkdir -p "$top/SOURCES" "$top/SPECS"
sh "$srcdir/packaging/stage-tree.sh" "$srcdir" "$top/stage/srs-proxy-$version" "$outdir"
tar -C "$top/stage" -czf "$top/SOURCES/srs-proxy-$version.tar.gz" "srs-proxy-$version"
rm -rf "$top/stage"
cp "$srcdir/packaging/rpm/srs-proxy.spec" "$top/SPECS/"

nodeps=
if [ -f /etc/debian_version ]; then
    nodeps=--nodeps
fi
jobs=${SP_RPM_JOBS:-$(nproc 2>/dev/null || echo 2)}
echo "building the .rpm in $top ($jobs jobs)"
# shellcheck disable=SC2086
rpmbuild -bb $nodeps --define "_topdir $top" --define "_smp_build_ncpus $jobs" \
    ${RPMBUILD_FLAGS:-} "$top/SPECS/srs-proxy.spec"

find "$top/RPMS" -name '*.rpm' -exec mv -f {} "$outdir/" \;
ls -1 "$outdir"/*.rpm
