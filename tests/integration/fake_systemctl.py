#!/usr/bin/env python3
"""A `systemctl` stand-in for the package test, on PATH while dpkg runs the
maintainer scripts (deb-systemd-invoke and debhelper's snippets call
`systemctl`), on a machine without systemd as PID 1. It does what systemd
would do with srs-proxy.service, by running the unit's own commands:

  start    ExecStartPre lines, then ExecStart (Type=forking: it returns once
           the master has daemonised and written PIDFile)
  stop     ExecStop with $MAINPID from PIDFile, then waits for the master
  restart  stop (if active), then start
  is-active / is-enabled   from PIDFile / the multi-user.target.wants link
  preset / enable / disable  make or remove the [Install] WantedBy links
                           (deb-systemd-helper enables through `preset`)

Anything else (daemon-reload, ...) succeeds and does nothing. Every call is
appended to $SP_FAKE_SYSTEMCTL_LOG. $SP_FAKE_SYSTEMCTL_CONF, when set, is
passed with -c to the proxy's own commands (the test's copy of the packaged
configuration, with its ports moved to free ones).
"""
import os
import shlex
import subprocess
import sys
import time

UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")


def log(text):
    path = os.environ.get("SP_FAKE_SYSTEMCTL_LOG")
    if path:
        with open(path, "a") as f:
            f.write(text + "\n")


def unit_file(name):
    for d in UNIT_DIRS:
        path = os.path.join(d, name)
        if os.path.isfile(path):
            return path
    return None


def entries(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith(("#", ";", "[")):
                key, value = line.split("=", 1)
                out.setdefault(key, []).append(value)
    return out


def wants_links(name, u):
    return ["/etc/systemd/system/%s.wants/%s" % (target, name)
            for value in u.get("WantedBy", []) for target in value.split()]


def enable(name, path, u):
    for link in wants_links(name, u):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if not os.path.lexists(link):
            os.symlink(path, link)
    return 0


def disable(name, u):
    for link in wants_links(name, u):
        if os.path.lexists(link):
            os.unlink(link)
    return 0


def main_pid(u):
    try:
        with open(u["PIDFile"][0]) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError, KeyError):
        return 0
    return pid if os.path.exists("/proc/%d" % pid) else 0


def command(value, pid):
    value = value.lstrip("-@+!")
    value = value.replace("${MAINPID}", str(pid)).replace("$MAINPID", str(pid))
    argv = shlex.split(value)
    conf = os.environ.get("SP_FAKE_SYSTEMCTL_CONF")
    if conf and os.path.basename(argv[0]) == "srs-proxy":
        argv += ["-c", conf]
    return argv


def run_all(lines, pid):
    for value in lines:
        r = subprocess.run(command(value, pid), stdin=subprocess.DEVNULL, timeout=60)
        if r.returncode != 0 and not value.startswith("-"):
            log("  %s exited %d" % (value, r.returncode))
            return r.returncode
    return 0


def start(u):
    if main_pid(u):
        return 0
    return run_all(u.get("ExecStartPre", []) + u.get("ExecStart", []), 0)


def stop(u):
    pid = main_pid(u)
    if not pid:
        return 0
    rc = run_all(u.get("ExecStop", []), pid)
    deadline = time.monotonic() + 30
    while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
        # A zombie awaiting its reaper (the test) counts as gone.
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().split(") ", 1)[1].startswith("Z"):
                    break
        except OSError:
            break
        time.sleep(0.05)
    return rc


def main(argv):
    log("systemctl " + " ".join(argv))
    args = [a for a in argv if not a.startswith("-")]
    if not args:
        return 0
    verb, units = args[0], args[1:]
    rc = 0
    for name in units:
        path = unit_file(name)
        if verb == "is-enabled":
            wants = "/etc/systemd/system/multi-user.target.wants/" + name
            enabled = os.path.lexists(wants)
            print("enabled" if enabled else "disabled")
            rc = rc or (0 if enabled else 1)
            continue
        if path is None:
            if verb in ("is-active",):
                rc = 3
            continue
        u = entries(path)
        if verb in ("preset", "enable", "reenable"):
            rc = rc or enable(name, path, u)
        elif verb == "disable":
            rc = rc or disable(name, u)
        elif verb == "is-active":
            rc = rc or (0 if main_pid(u) else 3)
        elif verb == "start":
            rc = rc or start(u)
        elif verb == "stop":
            rc = rc or stop(u)
        elif verb in ("restart", "try-restart", "reload-or-restart"):
            if verb == "restart" or main_pid(u):
                stop(u)
                rc = rc or start(u)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
