"""GET /metrics and the access log against real traffic (issue 15).

One origin (nginx-rtmp for RTMP, flv_origin.py for HTTP-FLV, registered as one
server id) with an ffmpeg publisher; through the proxy 3 RTMP players (ffmpeg)
and 2 HTTP-FLV viewers (curl). Shown: the sessions_active gauges equal 3 and 2;
client bytes out grow between two scrapes; `promtool check metrics` accepts the
text; a real Prometheus server scraping the proxy every second answers
srsproxy_sessions_active through its HTTP API; a reload (HUP) and a worker
killed with -9 leave every *_total series monotonic; killing the origin moves
sessions_ended_total{reason="origin_closed"} (or a failed connect); the JSON
access log's lines parse and name the sessions, and after the file is moved
a USR1 makes new lines go to a new file. With the Redis backend the text
carries srsproxy_proxy_info and the srsproxy_cluster_* gauges.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid

from harness import ProxyTestCase, curl, free_port, main, require, wait_for
from http_peers import FlvOrigin, NginxOrigin, Publisher
from origins import FramePlayer
from redis_fixture import RedisServer

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')


def parse(text):
    """{"name{labels}": value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def total(samples, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    t = 0.0
    for key, v in samples.items():
        if key.split("{")[0] != name:
            continue
        if all('%s="%s"' % (k, val) in key for k, val in labels.items()):
            t += v
    return t


class Metrics(ProxyTestCase):
    def scrape(self, p):
        status, text = p.api("GET", "/metrics")
        self.assertEqual(status, 200, text)
        return text

    def test_metrics_follow_traffic_reload_crash_and_origin_loss(self):
        nginx = NginxOrigin("m-src")
        self.addCleanup(nginx.stop)
        pub = Publisher(nginx.rtmp_url("s"))
        self.addCleanup(pub.stop)
        flv = FlvOrigin("rtmp://127.0.0.1:%d" % nginx.rtmp_port)
        self.addCleanup(flv.stop)
        wait_for(lambda: nginx.hls_ready("s", 1), timeout=20, what="stream published")

        logdir = tempfile.mkdtemp(prefix="sp-access-")
        self.addCleanup(shutil.rmtree, logdir, True)
        access = os.path.join(logdir, "access.log")
        rtmp_port, http_port = free_port(), free_port()
        p = self.proxy(body="rtmp { listen 127.0.0.1:%d; }\nhttp_stream { listen 127.0.0.1:%d; }"
                       % (rtmp_port, http_port), workers=2, extra_main="access_log %s json;" % access)
        reg = {"ip": "127.0.0.1", "server": "m-origin", "service": "svc", "pid": "1",
               "rtmp": [str(nginx.rtmp_port)], "http": [str(flv.port)]}
        self.assertEqual(p.register(reg)[0], 200)

        players = [FramePlayer("rtmp://127.0.0.1:%d/live/s" % rtmp_port) for _ in range(3)]
        for pl in players:
            self.addCleanup(pl.stop)
        viewers = [subprocess.Popen([require("curl"), "-s", "-N", "-o", "/dev/null",
                                     "http://127.0.0.1:%d/live/s.flv" % http_port]) for _ in range(2)]
        for v in viewers:
            self.addCleanup(lambda v=v: (v.kill(), v.wait()))

        rtmp_l = 'listener="127.0.0.1:%d"' % rtmp_port

        def gauges():
            s = parse(self.scrape(p))
            return (total(s, "srsproxy_sessions_active", protocol="rtmp"),
                    total(s, "srsproxy_sessions_active", protocol="http_flv"))
        wait_for(lambda: gauges() == (3, 2) and all(pl.frames() > 0 for pl in players), timeout=20,
                 what="3 rtmp and 2 http_flv sessions active (now %s)" % (gauges(),))
        # Counted once each origin answered (an HTTP-FLV origin answers when
        # its ffmpeg has the stream: later than the session started).
        wait_for(lambda: total(parse(self.scrape(p)), "srsproxy_origin_connects_total", origin="m-origin",
                               result="ok") >= 5, timeout=15, what="5 successful origin connects")
        first = parse(self.scrape(p))
        self.assertIn('srsproxy_sessions_active{protocol="rtmp",%s}' % rtmp_l, first)
        self.assertEqual(total(first, "srsproxy_origin_clients", origin="m-origin", protocol="rtmp"), 3)
        self.assertEqual(total(first, "srsproxy_origin_clients", origin="m-origin", protocol="http_flv"), 2)
        self.assertGreaterEqual(total(first, "srsproxy_registry_picks_total"), 5)
        self.assertEqual(total(first, "srsproxy_registrations_total", result="ok"), 1)
        out = lambda s, proto: total(s, "srsproxy_client_bytes_total", protocol=proto, direction="out")
        wait_for(lambda: out(parse(self.scrape(p)), "rtmp") > out(first, "rtmp") and
                 out(parse(self.scrape(p)), "http_flv") > out(first, "http_flv"),
                 timeout=10, what="client bytes out growing")
        # Bad bytes on the HTTP-FLV listener: a 400 counted as a bad-input close there.
        http_l = 'listener="127.0.0.1:%d"' % http_port
        bad = lambda s: total(s, "srsproxy_bad_input_closes_total", protocol="http_flv", stage="request")
        bad_before = bad(first)
        with socket.create_connection(("127.0.0.1", http_port), timeout=5) as c:
            c.sendall(b"GARBAGE \x01\x02 not http\r\n\r\n")
            self.assertIn(b" 400 ", c.recv(4096))
        wait_for(lambda: bad(parse(self.scrape(p))) == bad_before + 1, timeout=5, what="bad input counted")
        self.assertIn('srsproxy_bad_input_closes_total{protocol="http_flv",%s,stage="request"}' % http_l,
                      parse(self.scrape(p)))
        origin_in = lambda s: total(s, "srsproxy_origin_bytes_total", origin="m-origin", direction="in")
        wait_for(lambda: origin_in(parse(self.scrape(p))) > origin_in(first) > 0, timeout=10,
                 what="origin bytes in growing while the sessions are live")

        # promtool accepts the exposition.
        text = self.scrape(p)
        check = subprocess.run([require("promtool"), "check", "metrics"], input=text, capture_output=True,
                               text=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

        # A real Prometheus scrapes it and answers through its HTTP API.
        self.prometheus_sees(p, 'sum(srsproxy_sessions_active{protocol="rtmp"})', 3)

        # A reload and a worker killed with -9: every counter stays monotonic.
        before = parse(self.scrape(p))
        old_workers = set(p.workers())
        p.signal(signal.SIGHUP)
        wait_for(lambda: total(parse(self.scrape(p)), "srsproxy_reloads_total") == 1, what="reload counted")
        wait_for(lambda: len(set(p.workers()) - old_workers) == 2, what="the new generation's workers")
        victim = sorted(set(p.workers()) - old_workers)[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: total(parse(self.scrape(p)), "srsproxy_worker_respawns_total", reason="signal") == 1,
                 timeout=10, what="respawn after kill -9 counted")
        # The counter moves when the master reaps the victim; the respawn
        # itself follows a moment later. Wait for it, or the USR1 below can
        # land while only one worker of this generation exists.
        wait_for(lambda: len(set(p.workers()) - old_workers - {victim}) == 2, timeout=10,
                 what="the killed worker respawned")
        after = parse(self.scrape(p))
        self.assertEqual(after["srsproxy_config_generation"], 2)
        for key, v in before.items():
            if key.split("{")[0].endswith("_total") or "_bucket" in key or key.endswith("_count"):
                self.assertGreaterEqual(after.get(key, 0), v, "%s went from %s to %s" % (key, v, after.get(key)))

        # The origin goes away: its clients' sessions end with origin_closed
        # (or a later connect fails).
        def origin_failures(s):
            return (total(s, "srsproxy_sessions_ended_total", reason="origin_closed") +
                    sum(v for k, v in s.items()
                        if k.startswith("srsproxy_origin_connects_total") and 'result="ok"' not in k))
        lost_before = origin_failures(after)
        nginx.stop()
        wait_for(lambda: origin_failures(parse(self.scrape(p))) > lost_before, timeout=15,
                 what="origin loss counted")

        # The access log: valid JSON lines naming the sessions.
        def lines(path):
            try:
                with open(path) as f:
                    return [json.loads(line) for line in f if line.strip()]
            except OSError:
                return []
        wait_for(lambda: any(r["protocol"] == "rtmp" for r in lines(access)), what="rtmp access line")
        rtmp = [r for r in lines(access) if r["protocol"] == "rtmp"]
        self.assertEqual(rtmp[0]["stream"], "__defaultVhost__/live/s")
        self.assertEqual(rtmp[0]["origin"], "m-origin")
        self.assertEqual(rtmp[0]["listener"], "127.0.0.1:%d" % rtmp_port)
        self.assertGreater(rtmp[0]["bytes_out"], 0)
        self.assertEqual(rtmp[0]["status"], 0)
        for r in lines(access):
            self.assertEqual(set(r), {"time", "ctx", "protocol", "listener", "client", "stream", "origin",
                                      "bytes_in", "bytes_out", "duration", "reason", "detail", "status"})

        # logrotate: move the file, USR1, new lines go to a new file.
        for v in viewers:
            v.kill()
            v.wait()
        moved = access + ".1"
        os.rename(access, moved)
        p.signal(signal.SIGUSR1)
        wait_for(lambda: p.log().count("log reopened") >= 4, what="every process reopened its logs")
        curl("http://127.0.0.1:%d/live/none.flv" % http_port)
        wait_for(lambda: any("none" in r["stream"] for r in lines(access)), what="line in the new file")
        self.assertFalse(any("none" in r["stream"] for r in lines(moved)))

    def prometheus_sees(self, p, query, expected):
        require("prometheus")
        d = tempfile.mkdtemp(prefix="sp-prom-")
        self.addCleanup(shutil.rmtree, d, True)
        port = free_port()
        conf = os.path.join(d, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: srsproxy\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % p.api_port)
        prom = subprocess.Popen([require("prometheus"), "--config.file=" + conf, "--storage.tsdb.path=" + d + "/tsdb",
                                 "--web.listen-address=127.0.0.1:%d" % port], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (prom.kill(), prom.wait()))
        base = "http://127.0.0.1:%d" % port
        wait_for(lambda: curl(base + "/-/ready", timeout=2)[0] == 200, timeout=20, what="prometheus ready")

        def value():
            status, body = curl(base + "/api/v1/query", "--data-urlencode", "query=" + query, "-G", timeout=5)
            if status != 200:
                return None
            result = json.loads(body)["data"]["result"]
            return float(result[0]["value"][1]) if result else None
        wait_for(lambda: value() == expected, timeout=20, what="prometheus query %s == %s" % (query, expected))

    def test_redis_backend_reports_cluster_view_and_proxy_id(self):
        redis = RedisServer().start()
        self.addCleanup(redis.stop)
        prefix = "it-%s:" % uuid.uuid4().hex[:8]
        nginx = NginxOrigin("mr-src")
        self.addCleanup(nginx.stop)
        pub = Publisher(nginx.rtmp_url("s"))
        self.addCleanup(pub.stop)
        rtmp_port = free_port()
        p = self.proxy(body="rtmp { listen 127.0.0.1:%d; }\nregistry { backend redis; redis %s; "
                       "redis_key_prefix %s; }" % (rtmp_port, redis.address, prefix), workers=1)
        body = {"ip": "127.0.0.1", "server": "r-origin", "service": "s", "pid": "1",
                "rtmp": [str(nginx.rtmp_port)]}
        self.assertEqual(p.register(body)[0], 200)
        # This proxy's own per-origin figures count a session whose origin
        # Redis picked (the pick names the origin's local copy).
        player = FramePlayer("rtmp://127.0.0.1:%d/live/s" % rtmp_port)
        self.addCleanup(player.stop)
        wait_for(lambda: player.frames() > 0, timeout=20, what="rtmp player frames through redis pick")
        own = parse(self.scrape(p))
        self.assertEqual(total(own, "srsproxy_origin_clients", origin="r-origin", protocol="rtmp"), 1)
        self.assertGreaterEqual(total(own, "srsproxy_origin_connects_total", origin="r-origin", result="ok"), 1)
        self.assertGreaterEqual(total(own, "srsproxy_registry_picks_total", result="new"), 1)
        _, versions = p.api_json("GET", "/api/v1/versions")
        proxy_id = versions["registry"]["proxy_id"]
        wait_for(lambda: 'srsproxy_cluster_origins{scope="cluster",state="alive"} 1' in self.scrape(p),
                 what="cluster origins gauge")
        text = self.scrape(p)
        self.assertIn('srsproxy_proxy_info{proxy="%s"} 1' % proxy_id, text)
        wait_for(lambda: 'srsproxy_cluster_origin_clients{scope="cluster",origin="r-origin",protocol="rtmp"} 1'
                 in self.scrape(p), timeout=15, what="the cluster view counting the player")
        text = self.scrape(p)
        check = subprocess.run([require("promtool"), "check", "metrics"], input=text, capture_output=True,
                               text=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)


if __name__ == "__main__":
    main()
