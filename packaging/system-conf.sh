#!/bin/sh
# Turns the configuration `make install` put in place (conf/srs-proxy.conf with
# the compiled-in pid and log paths) into the packaged one: the master runs as
# a daemon under systemd and the workers switch to the `srs-proxy` system user
# the packages create. Deriving it keeps one source of truth: a directive added
# to conf/srs-proxy.conf reaches the packages without a second copy to update.
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
# `srs-proxy -t` and `systemctl reload srs-proxy`.
# Every directive is described in srs-proxy.conf(5).
HEADER
    # Drop the checkout header (up to the first blank line) and say why the
    # daemon line differs.
    sed -e '1,/^$/{/^#/d}' \
        -e 's/^# Stay in the foreground.*$/# Detach: systemd runs the service as Type=forking with PIDFile./' \
        -e 's/^daemon off;/daemon on;\nuser srs-proxy;/' "$file"
} > "$tmp"
mv "$tmp" "$file"
grep -q '^user srs-proxy;' "$file"
