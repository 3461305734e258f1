"""Real origin servers for integration tests: nginx with libnginx-mod-rtmp on
a free loopback port, in a temporary prefix of its own, registered with the
proxy through the system API. Also helpers to drive ffmpeg/ffprobe/rtmpdump
against RTMP URLs. Reusable by any test that needs an RTMP origin.
"""
import os
import shutil
import signal
import subprocess
import tempfile

from harness import free_port, port_open, require, wait_for

RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"


class NginxRtmp:
    """One nginx-rtmp origin (single process, foreground) with `application
    live { live on; }`, an rtmp access log (it records each session's stream
    arguments) and optional extra directives for the application block (and
    for the events block: a load test raises worker_connections there)."""

    def __init__(self, server_id="o1", app_extra="", rtmp_extra="", events=""):
        require("nginx")
        if not os.path.exists(RTMP_MODULE):
            raise AssertionError("%s missing; install libnginx-mod-rtmp" % RTMP_MODULE)
        self.server_id = server_id
        self.dir = tempfile.mkdtemp(prefix="sp-nginx-rtmp-")
        self.port = free_port()
        self.error_log = os.path.join(self.dir, "error.log")
        self.access_log = os.path.join(self.dir, "access.log")
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write("load_module %s;\ndaemon off;\nmaster_process off;\n"
                    "error_log %s info;\npid %s;\nevents { %s }\n"
                    "rtmp { access_log %s; server { listen 127.0.0.1:%d; %s\n"
                    "  application live { live on; %s } } }\n"
                    % (RTMP_MODULE, self.error_log, os.path.join(self.dir, "nginx.pid"), events,
                       self.access_log, self.port, rtmp_extra, app_extra))
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen([require("nginx"), "-p", self.dir, "-e", self.error_log,
                                      "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        wait_for(lambda: self.proc.poll() is not None or port_open(self.port),
                 what="nginx-rtmp on port %d" % self.port)
        if self.proc.poll() is not None:
            raise AssertionError("nginx-rtmp exited: %s" % self.proc.stderr.read().decode())

    def registration(self):
        return {"ip": "127.0.0.1", "server": self.server_id, "service": "svc-" + self.server_id,
                "pid": str(self.proc.pid), "rtmp": [str(self.port)]}

    def register(self, proxy):
        status, body = proxy.register(self.registration())
        if status != 200:
            raise AssertionError("registration of %s failed: %s %s" % (self.server_id, status, body))

    def url(self, path):
        return "rtmp://127.0.0.1:%d/%s" % (self.port, path.lstrip("/"))

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()

    def stop(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def read_access_log(self):
        try:
            with open(self.access_log) as f:
                return f.read()
        except OSError:
            return ""


# ---- media peers ---------------------------------------------------------------

def publish(url, seconds=None, size="320x240", rate=25, extra=(), log=None):
    """Starts ffmpeg publishing a test pattern + tone to url (h264 + aac)."""
    cmd = [require("ffmpeg"), "-hide_banner", "-loglevel", "info", "-nostdin", "-re",
           "-f", "lavfi", "-i", "testsrc=size=%s:rate=%d" % (size, rate),
           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    if seconds:
        cmd += ["-t", str(seconds)]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(rate),
            "-c:a", "aac", "-b:a", "64k"] + list(extra) + ["-f", "flv", url]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            stderr=log if log is not None else subprocess.PIPE)


def probe(url, timeout=15):
    """ffprobe's codec names for url (e.g. ['h264', 'aac']), or raises."""
    p = subprocess.run([require("ffprobe"), "-v", "error", "-rw_timeout", "8000000",
                        "-show_entries", "stream=codec_name", "-of", "csv=p=0", url],
                       capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("ffprobe %s failed: %s" % (url, p.stderr[-2000:]))
    return sorted(line.strip().strip(",") for line in p.stdout.split() if line.strip())


def play_frames(url, seconds=3, timeout=30):
    """Plays url with ffmpeg for `seconds` and returns how many video frames it decoded."""
    p = subprocess.run([require("ffmpeg"), "-hide_banner", "-nostdin", "-rw_timeout", "8000000",
                        "-i", url, "-t", str(seconds), "-map", "0:v", "-f", "null", "-"],
                       capture_output=True, text=True, timeout=timeout)
    frames = 0
    for line in p.stderr.replace("\r", "\n").splitlines():
        if line.startswith("frame="):
            try:
                frames = int(line.split("=")[1].split()[0])
            except (IndexError, ValueError):
                pass
    if p.returncode != 0 and frames == 0:
        raise AssertionError("ffmpeg play %s failed: %s" % (url, p.stderr[-2000:]))
    return frames


class FramePlayer:
    """A long-running ffmpeg player whose decoded frame count can be read while
    it runs (from -progress output)."""

    def __init__(self, url):
        self.dir = tempfile.mkdtemp(prefix="sp-player-")
        self.progress = os.path.join(self.dir, "progress")
        self.proc = subprocess.Popen(
            [require("ffmpeg"), "-hide_banner", "-nostdin", "-loglevel", "error",
             "-rw_timeout", "8000000", "-i", url, "-map", "0:v", "-f", "null", "-",
             "-progress", self.progress, "-stats_period", "0.2"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def frames(self):
        n = 0
        try:
            with open(self.progress) as f:
                for line in f:
                    if line.startswith("frame="):
                        n = int(line.strip().split("=")[1])
        except (OSError, ValueError):
            pass
        return n

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
