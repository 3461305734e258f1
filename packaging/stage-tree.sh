#!/bin/sh
# Copies the source tree (as it is in the working directory, committed or
# not) to DEST, leaving out version control, build directories (objs*,
# build*, and any directory holding a CMakeCache.txt), the generated Makefile
# and the given directories (the package output, when it is inside the tree).
# Shared by build-deb.sh and build-rpm.sh: both build from a clean copy so a
# package build never touches the developer's tree.
#
# Usage: stage-tree.sh SRCDIR DEST [EXCLUDED_DIR...]
set -eu

src=$(cd "$1" && pwd -P)
dest=$2
shift 2

excludes=$(mktemp)
trap 'rm -f "$excludes"' EXIT
(cd "$src" && find . -name CMakeCache.txt -not -path './.git/*' -exec dirname {} \;) > "$excludes"
for dir in "$@"; do
    case $dir in
        "$src"/*) echo ".${dir#"$src"}" >> "$excludes" ;;
    esac
done

rm -rf "$dest"
mkdir -p "$dest"
(cd "$src" && tar -cf - --exclude-vcs --exclude='./objs*' --exclude='./build*' --exclude=./Makefile \
    --exclude=./debian --exclude='__pycache__' --exclude='*.pyc' --exclude-from="$excludes" .) |
    (cd "$dest" && tar -xf -)
