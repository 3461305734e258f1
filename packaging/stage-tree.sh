#!/bin/sh
# Copies the source tree (as it is in the working directory, committed or
# not) to DEST, leaving out version control, build directories and the
# generated Makefile. Shared by build-deb.sh and build-rpm.sh: both build
# from a clean copy so a package build never touches the developer's tree.
#
# Usage: stage-tree.sh SRCDIR DEST
set -eu

src=$1
dest=$2
rm -rf "$dest"
mkdir -p "$dest"
(cd "$src" && tar -cf - --exclude-vcs --exclude='./objs*' --exclude='./build*' --exclude=./Makefile \
    --exclude=./debian --exclude='__pycache__' --exclude='*.pyc' .) | (cd "$dest" && tar -xf -)
