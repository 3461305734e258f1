"""Shared helpers for integration tests: start the real srs-proxy binary with a
temporary configuration, find its processes, wait for conditions (polling a
readiness check, never a blind sleep), and talk to it with real clients.

Each test picks free loopback ports at run time, so tests run in parallel.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BINARY = os.environ.get("SP_BINARY") or os.path.join(
    os.environ.get("SP_BUILD_DIR", "objs"), "srs-proxy")
SOURCE_DIR = os.environ.get("SP_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures", "srs")


def free_port(kind=socket.SOCK_STREAM):
    """A port the kernel just handed out on 127.0.0.1 (free for TCP and UDP)."""
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        try:
            with socket.socket(socket.AF_INET, other) as s:
                s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue


def wait_for(cond, timeout=10.0, interval=0.02, what="condition"):
    """Polls cond() until it returns a truthy value; fails the test on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = cond()
            if last:
                return last
        except Exception as e:  # a check that raises is just not ready yet
            last = e
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))


def require(tool):
    """A test that needs a peer it cannot find fails loudly."""
    from shutil import which
    path = which(tool)
    if not path:
        raise AssertionError("required test peer %r not found; run ./configure --with-test-peers" % tool)
    return path


def self_signed_cert(directory, cn="localhost"):
    """A one-day self-signed certificate and key in `directory`; returns (cert, key)."""
    openssl = require("openssl")
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=" + cn, "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=30)
    return cert, key


def status_codes(requests, parallel=0, timeout=10):
    """GETs every (port, path) over its own connection, all at once or
    `parallel` at a time; returns the HTTP status codes (0 = failed)."""
    import asyncio
    import re

    async def run():
        sem = asyncio.Semaphore(parallel or len(requests) or 1)

        async def one(port, path):
            async with sem:
                try:
                    r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
                    w.write(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                             % path).encode())
                    await w.drain()
                    line = await asyncio.wait_for(r.readline(), timeout)
                    w.close()
                    m = re.match(rb"HTTP/1\.1 (\d+)", line)
                    return int(m.group(1)) if m else 0
                except (OSError, asyncio.TimeoutError):
                    return 0
        return await asyncio.gather(*(one(port, path) for port, path in requests))
    return asyncio.run(run())


def curl(url, *args, method=None, data=None, headers=(), timeout=10):
    """Runs curl; returns (status, body text)."""
    cmd = [require("curl"), "-sS", "-m", str(timeout), "-o", "-", "-w", "\n%{http_code}", url]
    if method:
        cmd += ["-X", method]
    if data is not None:
        cmd += ["--data-binary", "@-"]
    for h in headers:
        cmd += ["-H", h]
    cmd += list(args)
    p = subprocess.run(cmd, input=data.encode() if isinstance(data, str) else data,
                       capture_output=True, timeout=timeout + 5)
    out = p.stdout.decode(errors="replace")
    body, _, code = out.rpartition("\n")
    return int(code or 0), body


def port_open(port, host="127.0.0.1"):
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def stop_process(proc, timeout=5):
    """Terminates a peer (then kills it if it lingers) and closes its pipes."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream:
            stream.close()


def accepted_tcp(port):
    """{socket inode: remote port} of every established TCP connection whose
    local port is `port` (/proc/net/tcp and tcp6)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
                    if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                        found[inode] = int(remote.rsplit(":", 1)[1], 16)
        except OSError:
            pass
    return found


def socket_holders(pids, inodes):
    """{socket inode: pid} for those of `inodes` held open by one of `pids`."""
    holders = {}
    for pid in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                holders[link[8:-1]] = pid
    return holders


def children_of(pid):
    """Direct children of pid, from /proc."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(entry))
    return sorted(kids)


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
        return stat[stat.rfind(")") + 2] != "Z"
    except OSError:
        return False


class Proxy:
    """One srs-proxy master started from a temporary configuration."""

    def __init__(self, body="", workers=2, extra_main="", env=None, start=True):
        self.dir = tempfile.mkdtemp(prefix="sp-it-")
        self.api_port = free_port()
        self.conf = os.path.join(self.dir, "srs-proxy.conf")
        self.log_path = os.path.join(self.dir, "error.log")
        self.pid_path = os.path.join(self.dir, "srs-proxy.pid")
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.write_conf(body, workers, extra_main)
        if start:
            self.start()

    def write_conf(self, body="", workers=2, extra_main="", system_api=None):
        if system_api is None:
            system_api = "listen 127.0.0.1:%d;" % self.api_port
        text = ("daemon off;\nworker_processes %d;\npid %s;\nerror_log %s debug;\n%s\n"
                "system_api { %s }\n%s\n" % (workers, self.pid_path, self.log_path, extra_main,
                                             system_api, body))
        with open(self.conf, "w") as f:
            f.write(text)

    def run_cli(self, *args):
        return subprocess.run([BINARY, "-c", self.conf] + list(args), capture_output=True,
                              text=True, env=self.env, timeout=30)

    def start(self):
        self.proc = subprocess.Popen([BINARY, "-c", self.conf], env=self.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_for(lambda: self.proc.poll() is not None or self.api_ready(),
                 what="system api on port %d" % self.api_port)
        if self.proc.poll() is not None:
            raise AssertionError("srs-proxy exited with %s: %s" % (
                self.proc.returncode, self.proc.stderr.read().decode(errors="replace")))
        return self

    def api_ready(self):
        try:
            status, _ = self.api("GET", "/api/v1/versions", timeout=2)
            return status == 200
        except Exception:
            return False

    def api(self, method, path, body=None, headers=(), timeout=10):
        return curl("http://127.0.0.1:%d%s" % (self.api_port, path), method=method, data=body,
                    headers=headers, timeout=timeout)

    def api_json(self, method, path, body=None, headers=()):
        status, text = self.api(method, path, body, headers)
        return status, json.loads(text) if text else None

    def stream_entry(self, key):
        """The GET /api/v1/streams entry of stream `key`, or None."""
        _, body = self.api_json("GET", "/api/v1/streams")
        return next((s for s in body["streams"] if s["key"] == key), None)

    def origin_entry(self, server):
        """The GET /api/v1/origins entry of origin `server`, or None."""
        _, body = self.api_json("GET", "/api/v1/origins")
        return next((o for o in body["origins"] if o["server"] == server), None)

    @property
    def pid(self):
        return self.proc.pid

    def children(self):
        return children_of(self.pid)

    def workers(self):
        return [p for p in self.children() if "worker process" in cmdline(p)]

    def api_workers(self):
        return [p for p in self.children() if "api worker" in cmdline(p)]

    def wait_children(self, workers, timeout=10):
        return wait_for(lambda: len(self.workers()) == workers and len(self.api_workers()) == 1,
                        timeout=timeout, what="%d workers and an api worker" % workers)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_log(self, text, timeout=10):
        return wait_for(lambda: text in self.log(), timeout=timeout, what="log line %r" % text)

    def signal(self, signo):
        os.kill(self.pid, signo)

    def wait_exit(self, timeout=15):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("srs-proxy did not exit within %ss" % timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream:
                    stream.close()

    def register(self, body, headers=()):
        if not isinstance(body, str):
            body = json.dumps(body)
        return self.api_json("POST", "/api/v1/srs/register", body,
                             headers=("Content-Type: application/json",) + tuple(headers))


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


class ProxyTestCase(unittest.TestCase):
    """Stops every proxy a test started, and prints its log when the test failed."""

    def setUp(self):
        self.proxies = []

    def proxy(self, *args, **kwargs):
        p = Proxy(*args, **kwargs)
        self.proxies.append(p)
        return p

    def tearDown(self):
        result = getattr(self._outcome, "result", None)
        failed = bool(result) and any(t is self for t, _ in result.failures + result.errors)
        for p in self.proxies:
            p.stop()
            if failed or os.environ.get("SP_SHOW_LOGS"):
                sys.stderr.write("---- srs-proxy log %s ----\n%s\n" % (p.log_path, p.log()[-4000:]))


def main():
    unittest.main(verbosity=2)
