"""Real peers for the HTTP stream tests (test_http_*.py):

- NginxOrigin: nginx with libnginx-mod-rtmp, publishing point rtmp://.../live
  writing HLS (1 s fragments) into a directory that the same nginx serves over
  HTTP, with an access log the tests read to see which origin served what.
- Publisher: ffmpeg pushing a test pattern (h264 + aac) to an RTMP URL.
- FlvOrigin: flv_origin.py, a small HTTP server that streams the stdout of an
  ffmpeg pulling the RTMP stream (`-c copy -f flv -` / `-f mpegts -`) as a
  live /APP/STREAM.flv or .ts, chunked like SRS does.

Every process is stopped by stop(); every wait polls with a timeout.
"""
import os
import subprocess
import sys
import tempfile

from harness import free_port, port_open, require, stop_process, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"


class NginxOrigin:
    def __init__(self, name="origin", worker_connections=256):
        require("nginx")
        if not os.path.exists(RTMP_MODULE):
            raise AssertionError("libnginx-mod-rtmp not installed (%s missing)" % RTMP_MODULE)
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="sp-nginx-")
        self.hls_dir = os.path.join(self.dir, "hls")
        os.makedirs(self.hls_dir)
        os.symlink(".", os.path.join(self.hls_dir, "sub"))  # the same files one directory down
        os.makedirs(os.path.join(self.dir, "logs"))
        self.http_port = free_port()
        self.rtmp_port = free_port()
        self.access_log = os.path.join(self.dir, "access.log")
        conf = """
load_module %(module)s;
daemon off;
master_process off;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log info;
events { worker_connections %(conns)d; }
http {
    access_log %(access)s;
    client_body_temp_path %(dir)s/tmp;
    proxy_temp_path %(dir)s/tmp;
    fastcgi_temp_path %(dir)s/tmp;
    uwsgi_temp_path %(dir)s/tmp;
    scgi_temp_path %(dir)s/tmp;
    types {
        application/vnd.apple.mpegurl m3u8;
        video/mp2t ts;
    }
    server {
        listen 127.0.0.1:%(http)d;
        location /live/ {
            alias %(hls)s/;
            add_header Cache-Control no-cache;
        }
        # The same files sent chunked (as SRS sends live streams): a
        # sub_filter that never matches drops the length, changes no byte.
        location /chunked/ {
            alias %(hls)s/;
            sub_filter_types *;
            sub_filter "no-such-bytes-in-any-file" "";
        }
        # Redirects within the same directory, relative and absolute.
        location ~ ^/live/moved-(.*)$ {
            return 302 /live/$1;
        }
        location ~ ^/live/away-(.*)$ {
            return 302 http://127.0.0.1:%(http)d/live/$1;
        }
        location ~ ^/live/deep-(.*)$ {
            return 302 /live/sub/$1;
        }
        location ~ ^/live/loop-(.*)$ {
            return 302 /live/loop-$1;
        }
    }
}
rtmp {
    server {
        listen 127.0.0.1:%(rtmp)d;
        application live {
            live on;
            hls on;
            hls_path %(hls)s;
            hls_fragment 1s;
            hls_playlist_length 10s;
        }
    }
}
""" % {"module": RTMP_MODULE, "dir": self.dir, "access": self.access_log, "http": self.http_port,
       "rtmp": self.rtmp_port, "hls": self.hls_dir, "conns": worker_connections}
        os.makedirs(os.path.join(self.dir, "tmp"))
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen(["nginx", "-p", self.dir, "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: self.proc.poll() is not None or (port_open(self.http_port) and port_open(self.rtmp_port)),
                 what="nginx origin ports")
        if self.proc.poll() is not None:
            raise AssertionError("nginx exited: %s" % self.proc.stderr.read().decode(errors="replace"))

    def rtmp_url(self, stream="s"):
        return "rtmp://127.0.0.1:%d/live/%s" % (self.rtmp_port, stream)

    def registration(self, server_id=None):
        return {"ip": "127.0.0.1", "server": server_id or self.name, "service": "svc-" + self.name,
                "pid": str(self.proc.pid), "rtmp": [str(self.rtmp_port)], "http": [str(self.http_port)]}

    def hls_ready(self, stream="s", segments=3):
        path = os.path.join(self.hls_dir, stream + ".m3u8")
        try:
            with open(path) as f:
                return f.read().count("#EXTINF") >= segments
        except OSError:
            return False

    def access_lines(self):
        try:
            with open(self.access_log) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def stop(self):
        stop_process(self.proc)


class Publisher:
    """ffmpeg publishing a live test pattern with h264 video and aac audio."""

    def __init__(self, url, bitrate=None, size="320x240"):
        require("ffmpeg")
        cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-re",
               "-f", "lavfi", "-i", "testsrc=size=%s:rate=25" % size,
               "-f", "lavfi", "-i", "sine=frequency=1000",
               "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25"]
        if bitrate:
            cmd += ["-b:v", bitrate, "-minrate", bitrate, "-maxrate", bitrate, "-bufsize", bitrate,
                    "-x264-params", "nal-hrd=cbr"]
        cmd += ["-c:a", "aac", "-f", "flv", url]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self):
        stop_process(self.proc)


class FlvOrigin:
    """A live HTTP-FLV/TS origin: flv_origin.py relaying rtmp_base/STREAM."""

    def __init__(self, rtmp_base, chunked=True):
        require("ffmpeg")
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="sp-flv-origin-", suffix=".log", delete=False).name
        cmd = [sys.executable, os.path.join(HERE, "flv_origin.py"), str(self.port), rtmp_base, self.log]
        if not chunked:
            cmd.append("--close-delimited")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.proc.poll() is not None or port_open(self.port), what="flv origin port")
        if self.proc.poll() is not None:
            raise AssertionError("flv origin exited with %s" % self.proc.returncode)

    def registration(self, server_id="flv-origin"):
        return {"ip": "127.0.0.1", "server": server_id, "service": "svc-" + server_id,
                "pid": str(self.proc.pid), "rtmp": ["1935"], "http": [str(self.port)]}

    def events(self):
        try:
            with open(self.log) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def stop(self):
        stop_process(self.proc)


def ffprobe_streams(url, *extra, timeout=30):
    """codec_name of every stream ffprobe finds at url."""
    require("ffprobe")
    p = subprocess.run(["ffprobe", "-v", "error", "-rw_timeout", "15000000"] + list(extra) +
                       ["-show_entries", "stream=codec_name", "-of", "csv=p=0", url],
                       capture_output=True, text=True, timeout=timeout)
    return sorted(line.strip() for line in p.stdout.splitlines() if line.strip()), p.stderr


def vm_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
