"""Common set-up for the stress tests (test_stress_*.py, ctest label
`stress`): the RTMP fixture plus the many-clients loop of load_clients.py, a
low-rate publisher (2,000 players times its bitrate must fit loopback and two
cores), the fan-out HTTP-FLV origin, and /proc readers (RSS, CPU time, which
worker holds a connection).

Every loop in these tests is bounded in count and time.
"""
import os
import resource
import subprocess
import sys
import threading
import time

from harness import accepted_tcp, free_port, require, socket_holders, wait_for
from load_clients import Load
from rtmp_fixture import RtmpTestCase

HERE = os.path.dirname(os.path.abspath(__file__))


def raise_nofile(want=20000):
    """Raises this process's open-file limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        try:  # root (CI) may raise the hard limit too
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            soft, hard = want, want
        except (ValueError, OSError):
            pass
    target = min(want, hard) if hard != resource.RLIM_INFINITY else want
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid):
    """utime + stime of pid, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def socket_owner_map(pids, server_port):
    """{client-side port: pid} for every established connection accepted on
    server_port and held by one of pids."""
    by_inode = accepted_tcp(server_port)
    return {by_inode[inode]: pid for inode, pid in socket_holders(pids, by_inode).items()}


def tcp_local_ports(pid):
    """Local ports of pid's established TCP sockets (to find a peer's side)."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return set()
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[3] == "01" and fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class FanoutFlvOrigin:
    """fanout_flv_origin.py: one ffmpeg, any number of HTTP-FLV viewers."""

    def __init__(self, bitrate="150k", fps=10, size="160x120"):
        require("ffmpeg")
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fanout_flv_origin.py"),
                                      str(self.port), bitrate, str(fps), size],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline()  # "ready", or EOF if it died; ffmpeg -re starts fast
        if line.strip() != b"ready":
            self.stop()
            raise AssertionError("fan-out flv origin did not start (exit %s)" % self.proc.poll())

    def registration(self, server_id="flv-fanout"):
        return {"ip": "127.0.0.1", "server": server_id, "service": "svc-" + server_id,
                "pid": str(self.proc.pid), "rtmp": ["1935"], "http": [str(self.port)]}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


class StressTestCase(RtmpTestCase):
    def setUp(self):
        super().setUp()
        self.nofile = raise_nofile()
        self.load = Load()
        self.addCleanup(self.load.stop)

    def low_rate_publisher(self, url, fps=10, bitrate="150k", audio=False, size="160x120"):
        """ffmpeg publishing a small video-only stream: ~fps messages a
        second per player, so thousands of players stay cheap for the test's
        own Python reader."""
        log = open(os.path.join(self.tmp, "publisher-%d.log" % len(self.procs)), "w+")
        cmd = [require("ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
               "-f", "lavfi", "-i", "testsrc=size=%s:rate=%d" % (size, fps)]
        if audio:
            cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050", "-c:a", "aac", "-b:a", "32k"]
        cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(fps),
                "-b:v", bitrate, "-minrate", bitrate, "-maxrate", bitrate, "-bufsize", bitrate,
                "-x264-params", "nal-hrd=cbr", "-f", "flv", url]
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
        p.log_file = log
        self.procs.append(p)
        return p

    def flv_origin(self, **kw):
        o = FanoutFlvOrigin(**kw)
        self.addCleanup(o.stop)
        return o

    def workers_rss_kb(self, proxy):
        return sum(rss_kb(w) for w in proxy.workers())

    @staticmethod
    def report(text):
        sys.stderr.write("STRESS: %s\n" % text)
        sys.stderr.flush()

    def wait_all_receiving(self, counters, min_frames, timeout, what):
        """Waits until every client has at least min_frames video frames."""
        def ok():
            lagging = [i for i, c in enumerate(counters) if c.frames < min_frames]
            return not lagging or None
        try:
            wait_for(ok, timeout=timeout, interval=0.25, what=what)
        except AssertionError:
            lagging = [(i, c.frames, c.bytes, c.closed, c.error) for i, c in enumerate(counters)
                       if c.frames < min_frames]
            raise AssertionError("%s: %d of %d clients below %d frames, e.g. %r" % (
                what, len(lagging), len(counters), min_frames, lagging[:5]))


class Heartbeats(threading.Thread):
    """Re-registers origins every `interval` seconds, as real origins do,
    until stopped (bounded by `seconds`). Records every answer's status."""

    def __init__(self, proxy, origins, headers=(), interval=0.3, seconds=120):
        super().__init__(daemon=True)
        self.proxy, self.origins, self.headers = proxy, list(origins), tuple(headers)
        self.interval, self.seconds = interval, seconds
        self.statuses = []
        self.stop = threading.Event()

    def run(self):
        deadline = time.monotonic() + self.seconds
        while not self.stop.wait(self.interval) and time.monotonic() < deadline:
            for o in list(self.origins):
                status, _ = self.proxy.register(o.registration(), headers=self.headers)
                self.statuses.append(status)
