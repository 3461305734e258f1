"""Common set-up for the RTMP integration tests: a proxy with an rtmp
listener, nginx-rtmp origins registered with it, and the peers' processes,
all stopped in tearDown."""
import os
import shutil
import subprocess
import tempfile

from harness import ProxyTestCase, free_port, require, wait_for
from origins import FramePlayer, NginxRtmp, publish

DEFAULT_VHOST = "__defaultVhost__"


class RtmpTestCase(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.origins = []
        self.procs = []
        self.players = []
        self.tmp = tempfile.mkdtemp(prefix="sp-rtmp-test-")

    def tearDown(self):
        for pl in self.players:
            pl.stop()
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            for s in (p.stdout, p.stderr, getattr(p, "log_file", None)):
                if s:
                    s.close()
        failed = self._outcome.result and any(
            t is self for t, _ in self._outcome.result.failures + self._outcome.result.errors)
        for o in self.origins:
            if failed:
                print("---- nginx-rtmp %s log ----\n%s" % (o.server_id, open(o.error_log).read()[-3000:]))
            o.stop()
        super().tearDown()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def rtmp_proxy(self, workers=2, rtmp_extra="", extra_main="", body=""):
        self.rtmp_port = free_port()
        p = self.proxy(body="rtmp { listen 127.0.0.1:%d; %s }\n%s" % (self.rtmp_port, rtmp_extra, body),
                       workers=workers, extra_main=extra_main)
        p.wait_children(workers)
        return p

    def origin(self, server_id, proxy=None, **kw):
        o = NginxRtmp(server_id, **kw)
        self.origins.append(o)
        if proxy is not None:
            o.register(proxy)
        return o

    def url(self, path):
        return "rtmp://127.0.0.1:%d/%s" % (self.rtmp_port, path.lstrip("/"))

    def publisher(self, url, **kw):
        log = open(os.path.join(self.tmp, "publisher-%d.log" % len(self.procs)), "w+")
        p = publish(url, log=log, **kw)
        p.log_file = log
        self.procs.append(p)
        return p

    def player(self, url):
        pl = FramePlayer(url)
        self.players.append(pl)
        return pl

    def rtmpdump(self, url, name="dump.flv"):
        out = os.path.join(self.tmp, name)
        p = subprocess.Popen([require("rtmpdump"), "-q", "-r", url, "-v", "-B", "3", "-m", "10",
                              "-o", out], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.procs.append(p)
        return p, out

    @staticmethod
    def stream_origins(proxy):
        """{stream key: origin server id} from GET /api/v1/streams."""
        status, body = proxy.api_json("GET", "/api/v1/streams")
        assert status == 200, body
        return {s["key"]: s["origin"] for s in body["streams"]}

    @staticmethod
    def stream_clients(proxy, key):
        status, body = proxy.api_json("GET", "/api/v1/streams")
        for s in body["streams"]:
            if s["key"] == key:
                return s["clients"]["rtmp"]
        return 0

    def wait_publishing(self, proxy, key, timeout=15):
        """Waits until the proxy relays a publisher of `key` (it counts as a client)."""
        return wait_for(lambda: self.stream_clients(proxy, key) >= 1, timeout=timeout,
                        what="a publisher of %s relayed" % key)

    def origin_by_id(self, server_id):
        return next(o for o in self.origins if o.server_id == server_id)
