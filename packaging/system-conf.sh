#!/bin/sh
# Turns the configuration `make install` put in place (conf/srs-proxy.conf with
# the compiled-in pid and log paths) into the packaged one: the workers switch
# to the `srs-proxy` system user the packages create. As in Debian's nginx,
# `daemon` and `master_process` are left out of the conffile: the systemd unit
# passes them with -g, so the same file runs in the foreground too
# (`srs-proxy -g 'daemon off;'`: containers, runit/s6, debugging). Deriving it
# keeps one source of truth: a directive added to conf/srs-proxy.conf reaches
# the packages without a second copy to update.
#
# Usage: system-conf.sh FILE   (rewritten in place)
set -eu

file=$1
grep -q '^daemon off;' "$file" || {
    echo "system-conf.sh: no \"daemon off;\" line in $file; update packaging/system-conf.sh" >&2
    exit 1
}
tmp=$file.tmp
{
    cat <<'HEADER'
# srs-proxy configuration of the packaged service (systemctl start srs-proxy).
# The master runs as root, opens the listeners and writes the pid file; the
# workers switch to the srs-proxy user. After changing this file run
# `srs-proxy -t` and `systemctl reload srs-proxy`. Relative paths are
# relative to this file's directory. Every directive is described in
# srs-proxy.conf(5).
HEADER
    # Drop the checkout header (up to the first blank line) and the daemon
    # line with its comment; the unit passes `daemon on; master_process on;`.
    sed -e '1,/^$/{/^#/d}' \
        -e 's/^# Stay in the foreground.*$/# daemon and master_process: given by the systemd unit with -g./' \
        -e 's/^daemon off;/user srs-proxy;/' "$file"
} > "$tmp"
mv "$tmp" "$file"
grep -q '^user srs-proxy;' "$file"
! grep -q '^daemon\|^master_process' "$file"
