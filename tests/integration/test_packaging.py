"""The packages, for real: build the .deb (dpkg-buildpackage) and the .rpm
(rpmbuild) from this tree, compare their file lists with each other and with
`make install`, install the .deb into this machine, check the packaged
configuration, the compiled-in paths, the files the man page lists and the
system user, run the systemd unit's commands by hand (start, reload, log
rotation, stop), then remove and purge the package. A second run installs,
upgrades (to the same package with a bumped version) and removes the .deb
while a `systemctl` stand-in (fake_systemctl.py) carries out what the
maintainer scripts ask of systemd, and checks the proxy runs after install
and upgrade and is gone after remove.

This installs into the real system (CI runs as root on a throwaway machine):
whatever happens, the package is purged at the end. A missing tool
(dpkg-buildpackage, debhelper, rpmbuild, systemd-analyze, logrotate) fails the
test: run ./configure --install-deps --with-test-peers.
"""
import ctypes
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from harness import SOURCE_DIR, children_of, curl, free_port, main, require, wait_for

PACKAGE = "srs-proxy"
SBIN = "/usr/sbin/srs-proxy"
CONF = "/etc/srs-proxy/srs-proxy.conf"
PID_FILE = "/run/srs-proxy.pid"
LOG_DIR = "/var/log/srs-proxy"
# Files srs-proxy(8) lists that the running proxy creates.
RUNTIME_FILES = (PID_FILE, LOG_DIR + "/error.log")
CONFIGURE_ARGS = ["--prefix=/usr", "--conf-path=" + CONF, "--pid-path=" + PID_FILE,
                  "--error-log-path=" + LOG_DIR + "/error.log"]
# Compiling twice more on a shared 2-core machine: one job each, side by side.
BUILD_TIMEOUT = 780


def run(cmd, timeout=120, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(cmd), r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
    return r


def read(path):
    with open(path) as f:
        return f.read()


def dpkg_excludes():
    """dpkg path-exclude settings (slim container images drop man pages)."""
    found = []
    for cfg in glob.glob("/etc/dpkg/dpkg.cfg.d/*"):
        found += ["%s: %s" % (cfg, l.strip()) for l in read(cfg).splitlines() if l.startswith("path-exclude")]
    return "; dpkg excludes: " + ", ".join(found) if found else ""


def status(package=PACKAGE):
    """dpkg's status words for the package; "" when dpkg does not know it."""
    r = run(["dpkg-query", "-W", "-f=${Status}", package], check=False)
    return r.stdout.strip() if r.returncode == 0 else ""


def purge():
    if status() not in ("", "unknown ok not-installed", "purge ok not-installed"):
        run(["dpkg", "--purge", PACKAGE], timeout=120, check=False)


def normalise(path):
    """One name for a file in both packages: merged /usr, compressed or not."""
    path = "/" + path.lstrip("./")
    if path.startswith("/lib/"):
        path = "/usr" + path  # Debian 12 units live in /lib, Fedora's in /usr/lib; one directory on merged /usr
    if path.startswith("/usr/share/man/") and path.endswith(".gz"):
        path = path[:-3]  # dh_compress and brp-compress gzip man pages; Debian's rpm does not
    return path.rstrip("/")


def distro_specific(path):
    # Documentation directories and build-id links differ by design.
    return path.startswith(("/usr/share/doc", "/usr/share/licenses", "/usr/lib/.build-id"))


def deb_files(deb):
    out = run(["dpkg-deb", "-c", deb]).stdout
    files, dirs = set(), set()
    for line in out.splitlines():
        perms, name = line.split()[0], line.split()[-1]
        path = normalise(name)
        if not path or distro_specific(path):
            continue
        (dirs if perms.startswith("d") else files).add(path)
    return files, dirs


def rpm_files(rpm):
    out = run(["rpm", "-qlp", rpm]).stdout
    listed = {normalise(l) for l in out.splitlines() if l.strip()}
    out = run(["rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]", rpm]).stdout
    dirs = {normalise(l.split()[1]) for l in out.splitlines() if l.startswith("d")}
    listed = {p for p in listed if not distro_specific(p)}
    return listed - dirs, dirs & listed


def tree_files(root):
    files, dirs = set(), set()
    for d, subdirs, names in os.walk(root):
        rel = "/" + os.path.relpath(d, root)
        if rel != "/.":
            dirs.add(normalise(rel))
        for n in names:
            files.add(normalise(os.path.join(rel, n)))
    return files, dirs


def unit_entries(path):
    """Service-file key -> list of values (ExecReload may repeat)."""
    entries = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith(("#", ";", "[")):
                key, value = line.split("=", 1)
                entries.setdefault(key, []).append(value)
    return entries


def unit_command(value, mainpid, conf):
    """A unit's Exec line as argv, the way systemd runs it: $MAINPID and
    ${MAINPID} substituted; the proxy's own commands get `-c conf` so the
    started master uses the test's copy of the packaged configuration."""
    value = value.lstrip("-@+!")
    value = value.replace("${MAINPID}", str(mainpid)).replace("$MAINPID", str(mainpid))
    argv = shlex.split(value)
    if argv[0] == SBIN:
        argv += ["-c", conf]
    return argv


def become_subreaper():
    """systemd reaps the daemonised master; here PID 1 may not, so this test
    process adopts it (prctl PR_SET_CHILD_SUBREAPER) and reaps it itself."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap(pid):
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == pid
    except ChildProcessError:
        return not os.path.exists("/proc/%d" % pid)


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    raise AssertionError("no Uid in /proc/%d/status" % pid)


def moved_ports(conf_text):
    """The packaged configuration with every listen on a free loopback port
    (TCP or UDP by block), so the test never collides with other tests or a
    real service on the default ports."""
    udp_blocks = {"webrtc", "srt"}
    out, block, ports = [], None, {}
    for line in conf_text.splitlines():
        m = re.match(r"^\s*(\w+)\s*\{", line)
        if m:
            block = m.group(1)
        if re.match(r"^\s*\}", line):
            block = None
        m = re.match(r"^(\s*)listen\s+[^;]+;(.*)$", line)
        if m and block:
            port = free_port(socket.SOCK_DGRAM if block in udp_blocks else socket.SOCK_STREAM)
            ports.setdefault(block, port)
            line = "%slisten 127.0.0.1:%d;%s" % (m.group(1), port, m.group(2))
        out.append(line)
    return "\n".join(out) + "\n", ports


def man_files():
    """Paths listed in srs-proxy(8) FILES."""
    paths, in_files = [], False
    with open(os.path.join(SOURCE_DIR, "man", "srs-proxy.8")) as f:
        for line in f:
            if line.startswith(".SH"):
                in_files = line.strip() == ".SH FILES"
            elif in_files and line.startswith(".I /"):
                paths.append(line[3:].strip().replace("\\-", "-"))
    return paths


class Packages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("dpkg-buildpackage", "dh", "fakeroot", "rpmbuild", "rpm", "dpkg-deb", "systemd-analyze",
                     "logrotate", "adduser"):
            require(tool)
        if os.geteuid() != 0:
            raise AssertionError("the packaging test installs a .deb: run it as root (CI does)")
        become_subreaper()
        purge()  # a leftover from an interrupted run
        cls.addClassCleanup(purge)
        cls.work = tempfile.mkdtemp(prefix="sp-pkg-")
        cls.addClassCleanup(shutil.rmtree, cls.work, True)
        cls.build_packages()

    @classmethod
    def build_packages(cls):
        env = dict(os.environ, DEB_BUILD_OPTIONS="parallel=1 nocheck", SP_RPM_JOBS="1")
        logs = {kind: open(os.path.join(cls.work, kind + ".log"), "w") for kind in ("deb", "rpm")}
        procs = {kind: subprocess.Popen(["sh", os.path.join(SOURCE_DIR, "packaging", "build-%s.sh" % kind),
                                         cls.work], stdout=logs[kind], stderr=subprocess.STDOUT, env=env)
                 for kind in ("deb", "rpm")}
        deadline = time.monotonic() + BUILD_TIMEOUT
        failed = []
        for kind, p in procs.items():
            try:
                p.wait(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            logs[kind].close()
            if p.returncode != 0:
                with open(logs[kind].name) as f:
                    failed.append("make %s failed (%s):\n%s" % (kind, p.returncode, f.read()[-6000:]))
        if failed:
            raise AssertionError("\n".join(failed))
        cls.deb = glob.glob(os.path.join(cls.work, "%s_*.deb" % PACKAGE))[0]
        cls.rpm = [r for r in glob.glob(os.path.join(cls.work, "%s-*.rpm" % PACKAGE)) if ".src." not in r][0]
        cls.stage = glob.glob(os.path.join(cls.work, "deb", "%s-*" % PACKAGE))[0]

    # ------------------------------------------------------------ contents

    def test_deb_rpm_and_make_install_hold_the_same_files(self):
        deb, deb_dirs = deb_files(self.deb)
        rpm, rpm_dirs = rpm_files(self.rpm)
        self.assertEqual(sorted(deb ^ rpm), [], "files in only one of .deb and .rpm")
        # make install into a DESTDIR, from the tree the .deb was built in
        # (configured with the package's paths, already compiled).
        dest = os.path.join(self.work, "destdir")
        run(["make", "-C", self.stage, "install", "DESTDIR=" + dest], timeout=300)
        installed_files, _ = tree_files(dest)
        self.assertEqual(sorted(deb ^ installed_files), [], "files in only one of .deb and make install")
        expected = {SBIN, CONF, "/etc/logrotate.d/srs-proxy", "/usr/lib/systemd/system/srs-proxy.service",
                    "/usr/share/man/man8/srs-proxy.8", "/usr/share/man/man5/srs-proxy.conf.5",
                    "/usr/share/srs-proxy/grafana/srs-proxy-dashboard.json"}
        self.assertEqual(sorted(expected - deb), [])
        for d in ("/etc/srs-proxy", LOG_DIR):
            self.assertIn(d, deb_dirs)
            self.assertIn(d, rpm_dirs)

    def test_packages_carry_the_project_version(self):
        with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
            version = re.search(r"project\(srs-proxy VERSION ([0-9.]+)", f.read()).group(1)
        deb_version = run(["dpkg-deb", "-f", self.deb, "Version"]).stdout.strip()
        rpm_version = run(["rpm", "-qp", "--qf", "%{VERSION}", self.rpm]).stdout.strip()
        self.assertEqual((deb_version.split("-")[0], rpm_version), (version, version))
        self.assertIn(CONF, run(["dpkg-deb", "-I", self.deb, "conffiles"]).stdout.split())

    def test_rpm_names_the_fedora_dependencies(self):
        spec = os.path.join(SOURCE_DIR, "packaging", "rpm", "srs-proxy.spec")
        with open(spec) as f:
            text = f.read()
        for dep in ("libevent-devel", "openssl-devel", "cjson-devel", "srt-devel", "cmake", "gcc-c++"):
            self.assertRegex(text, r"(?m)^BuildRequires:\s+%s(\s|$)" % re.escape(dep))
        requires = run(["rpm", "-qp", "--requires", self.rpm]).stdout
        for dep in ("libevent", "openssl-libs", "cjson", "srt-libs"):
            self.assertRegex(requires, r"(?m)^%s$" % re.escape(dep))

    # ------------------------------------------------------------ lifecycle

    def test_install_run_remove_purge(self):
        try:
            self.check_install()
            self.check_unit_commands()
        finally:
            self.stop_leftover_master()
        self.check_remove_and_purge()

    def check_install(self):
        run(["dpkg", "-i", self.deb], timeout=120)
        self.assertEqual(status(), "install ok installed")
        user = pwd.getpwnam("srs-proxy")
        self.assertNotEqual(user.pw_uid, 0)
        self.assertTrue(user.pw_shell.endswith("nologin"), user.pw_shell)

        r = run([SBIN, "-t"])
        self.assertIn("configuration file %s test is successful" % CONF, r.stderr)
        self.assertEqual(run([SBIN, "-t", "-q"]).stderr, "")
        with open(CONF) as f:
            conf = f.read()
        for line in ("user srs-proxy;", "pid %s;" % PID_FILE, "error_log %s/error.log" % LOG_DIR):
            self.assertRegex(conf, r"(?m)^%s" % re.escape(line))
        # As Debian's nginx: daemon/master_process come from the unit's -g.
        self.assertNotRegex(conf, r"(?m)^\s*(daemon|master_process)\b")

        version = run([SBIN, "-V"]).stderr
        for arg in CONFIGURE_ARGS:
            self.assertIn(arg, version)
        self.assertIn("(default: %s)" % CONF, run([SBIN, "-h"]).stdout)

        for path in man_files():
            if path in RUNTIME_FILES:
                continue  # exist while running: checked then
            alt = path[4:] if path.startswith("/usr/lib/") else path  # Debian 12: /lib/systemd
            self.assertTrue(os.path.exists(path) or os.path.exists(alt),
                            "%s (srs-proxy(8) FILES) missing%s" % (path, dpkg_excludes()))
        self.assertIn(CONF, run(["dpkg-query", "-W", "-f=${Conffiles}", PACKAGE]).stdout)

        unit = glob.glob("/lib/systemd/system/srs-proxy.service") or glob.glob(
            "/usr/lib/systemd/system/srs-proxy.service")
        self.assertTrue(unit)
        self.unit = unit[0]
        r = run(["systemd-analyze", "verify", self.unit], check=False)
        self.assertEqual((r.returncode, r.stderr.strip()), (0, ""), "systemd-analyze verify")
        r = run(["logrotate", "-d", "/etc/logrotate.d/srs-proxy"], check=False)
        self.assertEqual(r.returncode, 0, r.stderr)

    def check_unit_commands(self):
        u = unit_entries(self.unit)
        self.assertEqual(u["Type"], ["forking"])
        self.assertEqual(u["PIDFile"], [PID_FILE])
        daemon = "-g 'daemon on; master_process on;'"
        self.assertEqual(u["ExecStartPre"], ["%s -t -q %s" % (SBIN, daemon)])
        self.assertEqual(u["ExecStart"], ["%s %s" % (SBIN, daemon)])
        for key in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "CapabilityBoundingSet"):
            self.assertIn(key, u)
        self.assertIn("/bin/kill -HUP $MAINPID", u["ExecReload"])
        self.assertIn("-QUIT", u["ExecStop"][0])
        self.assertIn("TimeoutStopSec", u)

        with open(CONF) as f:
            text, ports = moved_ports(f.read())
        conf = os.path.join(self.work, "srs-proxy.conf")
        with open(conf, "w") as f:
            f.write(text)
        api = "http://127.0.0.1:%d" % ports["system_api"]

        # The conffile runs in the foreground unchanged (runit, containers).
        # Its stderr goes to a file, read only once it exited: a running
        # foreground proxy holds its stderr open, so reading a pipe from it
        # (even for an assertion message, which Python builds before the
        # check) would wait forever.
        fg_err = os.path.join(self.work, "foreground.stderr")
        with open(fg_err, "w") as err:
            fg = subprocess.Popen([SBIN, "-c", conf, "-g", "daemon off;"], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=err)
        try:
            wait_for(lambda: fg.poll() is not None or curl(api + "/api/v1/versions")[0] == 200,
                     what="the proxy in the foreground")
            if fg.poll() is not None:
                self.fail("srs-proxy -g 'daemon off;' exited %d: %s" % (fg.returncode, read(fg_err)))
            fg.send_signal(signal.SIGQUIT)
            self.assertEqual(fg.wait(timeout=30), 0, read(fg_err))
        finally:
            if fg.poll() is None:
                fg.kill()
                fg.wait()

        # Start: ExecStartPre, then ExecStart daemonises and writes PIDFile.
        for cmd in u["ExecStartPre"] + u["ExecStart"]:
            run(unit_command(cmd, 0, conf), timeout=30)
        self.master = wait_for(lambda: int(read(PID_FILE)), what="the pid file")
        # worker_processes auto: one per CPU, plus the api worker.
        workers = wait_for(lambda: len(children_of(self.master)) >= 2 and children_of(self.master),
                           what="workers")
        self.assertEqual(uid_of(self.master), 0)
        user = pwd.getpwnam("srs-proxy").pw_uid
        for w in workers:
            self.assertEqual(uid_of(w), user, "worker %d does not run as srs-proxy" % w)
        wait_for(lambda: curl(api + "/api/v1/versions")[0] == 200, what="the system API")
        for path in RUNTIME_FILES:
            self.assertIn(path, man_files())
            self.assertTrue(os.path.exists(path), "%s (srs-proxy(8) FILES) missing while running" % path)
        status, body = curl(api + "/api/v1/srs/register", method="POST",
                            data='{"ip":"127.0.0.1","server":"pkg-test","service":"s","pid":"1","rtmp":["19350"]}',
                            headers=("Content-Type: application/json",))
        self.assertEqual(status, 200, body)

        # Reload: every ExecReload line; a new generation of workers, the
        # registry (shared memory) still holds the origin.
        for cmd in u["ExecReload"]:
            run(unit_command(cmd, self.master, conf), timeout=30)
        wait_for(lambda: len(children_of(self.master)) >= 2 and not set(children_of(self.master)) & set(workers),
                 timeout=20, what="the reloaded workers")
        wait_for(lambda: "pkg-test" in curl(api + "/api/v1/origins")[1], what="the origin after reload")

        # Log rotation with the packaged logrotate file: USR1 reopens the log,
        # the new file is handed to the workers' user.
        log = os.path.join(LOG_DIR, "error.log")
        self.assertTrue(os.path.exists(log))
        state = os.path.join(self.work, "logrotate.state")
        run(["logrotate", "-f", "-s", state, "/etc/logrotate.d/srs-proxy"], timeout=30)
        wait_for(lambda: os.path.exists(log) and "log reopened" in read(log), what="the reopened log")
        self.assertEqual(os.stat(log).st_uid, user)
        self.assertTrue(os.path.exists(log + ".1"))

        # Stop: ExecStop sends QUIT and waits for the master to exit; reap it
        # as systemd would.
        stop = subprocess.Popen(unit_command(u["ExecStop"][0], self.master, conf))
        wait_for(lambda: reap(self.master), timeout=30, what="the master to exit after QUIT")
        self.assertEqual(stop.wait(timeout=30), 0)
        self.assertFalse(os.path.exists(PID_FILE), "pid file left behind")
        self.master = None

    def stop_leftover_master(self):
        pid = getattr(self, "master", None)
        if pid and not reap(pid):
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: reap(pid), timeout=15, what="the leftover master to exit")
            log = os.path.join(LOG_DIR, "error.log")
            if os.path.exists(log):
                sys.stderr.write("---- %s ----\n%s\n" % (log, read(log)[-4000:]))

    # ------------------------------------------------ service on install/upgrade/remove

    def test_service_follows_install_upgrade_remove(self):
        """Debian's convention for a daemon: dpkg -i starts the service, an
        upgrade restarts it, dpkg -r stops it. There is no systemd here, so
        dpkg runs in a mount namespace where /run/systemd/system exists (the
        maintainer scripts' test for a running systemd) with a systemctl
        stand-in first on PATH that runs the unit's commands."""
        upgrade = self.bumped_deb()
        bindir = os.path.join(self.work, "fake-bin")
        os.makedirs(bindir, exist_ok=True)
        shim = os.path.join(bindir, "systemctl")
        with open(shim, "w") as f:
            f.write('#!/bin/sh\nexec %s %s "$@"\n' % (sys.executable,
                                                     os.path.join(SOURCE_DIR, "tests", "integration",
                                                                  "fake_systemctl.py")))
        os.chmod(shim, 0o755)
        calls = os.path.join(self.work, "systemctl.log")
        extracted = os.path.join(self.work, "extracted")
        run(["dpkg-deb", "-x", self.deb, extracted])
        text, ports = moved_ports(read(os.path.join(extracted, CONF.lstrip("/"))))
        conf = os.path.join(self.work, "service.conf")
        with open(conf, "w") as f:
            f.write(text)
        api = "http://127.0.0.1:%d" % ports["system_api"]
        env = dict(os.environ, PATH=bindir + ":" + os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                   SP_FAKE_SYSTEMCTL_LOG=calls, SP_FAKE_SYSTEMCTL_CONF=conf)

        # Container images forbid starts with a policy-rc.d that exits 101;
        # inside the namespace, one that allows them stands in for it.
        policy = os.path.join(self.work, "policy-rc.d")
        with open(policy, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(policy, 0o755)
        env["SP_POLICY_RC_D"] = policy

        def dpkg(*args):
            """Runs dpkg and meanwhile reaps the masters it stops, as
            systemd would: ExecStop waits for its $MAINPID to vanish, and a
            master that exited stays a zombie of this (subreaper) process."""
            script = ('mount -t tmpfs sp-test /run/systemd && mkdir /run/systemd/system && '
                      '{ [ ! -e /usr/sbin/policy-rc.d ] || mount --bind "$SP_POLICY_RC_D" /usr/sbin/policy-rc.d; } && '
                      'exec dpkg "$@"')
            out = os.path.join(self.work, "dpkg.out")
            with open(out, "w") as f:
                proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                                         "dpkg"] + list(args), stdout=f, stderr=subprocess.STDOUT, env=env)
            deadline = time.monotonic() + 180
            while True:
                pid, st = os.waitpid(-1, os.WNOHANG)
                if pid == proc.pid:
                    proc.returncode = os.waitstatus_to_exitcode(st)
                    break
                if pid == 0:
                    if time.monotonic() > deadline:
                        proc.kill()
                        raise AssertionError("dpkg %s did not finish" % " ".join(args))
                    time.sleep(0.05)
            if proc.returncode != 0:
                raise AssertionError("dpkg %s exited %d:\n%s" % (" ".join(args), proc.returncode, read(out)[-3000:]))

        def calls_since(mark):
            return read(calls)[mark:] if os.path.exists(calls) else ""

        def running_master():
            pid = int(read(PID_FILE))
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                self.assertTrue(f.read().startswith(b"srs-proxy: master process"))
            return pid

        masters = []
        try:
            self.run_service_lifecycle(dpkg, upgrade, api, calls, calls_since, running_master, masters)
        except AssertionError:
            log = os.path.join(LOG_DIR, "error.log")
            sys.stderr.write("---- systemctl calls ----\n%s\n---- %s ----\n%s\n" % (
                calls_since(0), log, read(log)[-4000:] if os.path.exists(log) else "(none)"))
            raise
        finally:
            for pid in masters:
                if not reap(pid):
                    os.kill(pid, signal.SIGTERM)
                    wait_for(lambda: reap(pid), timeout=15, what="a leftover master to exit")
            purge()
            wants = "/etc/systemd/system/multi-user.target.wants/srs-proxy.service"
            if os.path.lexists(wants):
                os.unlink(wants)

    def run_service_lifecycle(self, dpkg, upgrade, api, calls, calls_since, running_master, masters):
        if True:
            dpkg("-i", self.deb)
            self.assertEqual(status(), "install ok installed")
            self.assertRegex(calls_since(0), r"(?m)^systemctl .*\bstart srs-proxy\.service")
            first = wait_for(running_master, what="the master started by dpkg -i")
            masters.append(first)
            wait_for(lambda: curl(api + "/api/v1/versions")[0] == 200, what="the installed service's API")
            self.assertTrue(os.path.lexists("/etc/systemd/system/multi-user.target.wants/srs-proxy.service"),
                            "the unit is not enabled")

            mark = len(read(calls))
            dpkg("-i", upgrade)
            self.assertRegex(calls_since(mark), r"(?m)^systemctl .*\brestart srs-proxy\.service")
            wait_for(lambda: reap(first), timeout=30, what="the old master to exit on upgrade")
            second = wait_for(lambda: running_master() != first and running_master(),
                              what="the master restarted by the upgrade")
            masters.append(second)
            wait_for(lambda: curl(api + "/api/v1/versions")[0] == 200, what="the upgraded service's API")

            mark = len(read(calls))
            dpkg("-r", PACKAGE)
            self.assertRegex(calls_since(mark), r"(?m)^systemctl .*\bstop srs-proxy\.service")
            wait_for(lambda: reap(second), timeout=30, what="the master to exit on dpkg -r")
            self.assertFalse(os.path.exists(PID_FILE), "pid file left after dpkg -r")
            self.assertNotEqual(curl(api + "/api/v1/versions")[0], 200)

    def bumped_deb(self):
        """The built .deb again with version +1: an upgrade for dpkg."""
        root = os.path.join(self.work, "bumped")
        run(["dpkg-deb", "-R", self.deb, root])
        control = os.path.join(root, "DEBIAN", "control")
        text = read(control)
        version = re.search(r"(?m)^Version: (\S+)", text).group(1)
        with open(control, "w") as f:
            f.write(re.sub(r"(?m)^Version: .*$", "Version: %s+1" % version, text))
        out = os.path.join(self.work, "bumped-srs-proxy.deb")
        run(["dpkg-deb", "-b", root, out])
        return out

    def check_remove_and_purge(self):
        run(["dpkg", "-r", PACKAGE], timeout=120)
        self.assertEqual(status(), "deinstall ok config-files")
        for path in (SBIN, "/usr/share/man/man8/srs-proxy.8.gz", self.unit):
            self.assertFalse(os.path.exists(path), "%s left after dpkg -r" % path)
        self.assertTrue(os.path.exists(CONF), "dpkg -r must keep the conffile")
        run(["dpkg", "--purge", PACKAGE], timeout=120)
        self.assertIn(status(), ("", "unknown ok not-installed", "purge ok not-installed"))
        for path in (CONF, "/etc/srs-proxy", "/etc/logrotate.d/srs-proxy", LOG_DIR):
            self.assertFalse(os.path.exists(path), "%s left after dpkg --purge" % path)


if __name__ == "__main__":
    main()
