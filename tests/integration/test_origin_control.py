"""Operator control of origins and load-based picks (issue 16), with real
peers: nginx-rtmp origins, flv_origin.py serving HTTP-FLV from one of them,
ffmpeg publishers, rtmpdump / ffmpeg players and curl HTTP-FLV viewers.

- Drain: with live RTMP and HTTP-FLV clients on origin A, a drain sends every
  new stream (HTTP-FLV requests for new keys, an RTMP publish) to B while A's
  clients keep receiving (their bytes / frames grow); /api/v1/origins shows
  A draining with its client count; undrain gives A new streams again;
  DELETE forgets A (gone from the listing, its service id's heartbeat
  refused with 410, a new service id accepted); without the token: 401 and
  nothing changed.
- Weights 1 and 3 over 300 new streams (cheap picks: HTTP-FLV requests for
  new keys, answered 404 by an nginx http port): the pick rule is
  deterministic, so the split is exactly 75 / 225; the test allows +-15 on
  the weight-1 side, as the issue's statistical wording asks. The API's
  weight override outlives heartbeats.
- Load: an origin whose heartbeat summaries report CPU 95 gets no new
  streams (overloaded, shown with its cpu) until it reports below 80; an
  origin carrying a stream with many live clients gets none of the next new
  streams while its load is higher; of two origins with the same client
  load, the one moving far more bytes (a 6 Mbit/s stream against a 200
  kbit/s one, each with a viewer) gets none of the next new streams once
  the measured rates (bytes_per_sec in /api/v1/origins) are refreshed.
- Redis, two proxies: a drain made at proxy A is obeyed by proxy B, an
  undrain made at B by A.
"""
import json
import os
import subprocess
import uuid

from harness import ProxyTestCase, free_port, main, require, status_codes, wait_for
from http_peers import FlvOrigin, NginxOrigin
from origins import FramePlayer, NginxRtmp, publish
from redis_fixture import RedisServer

TOKEN = "t0ken"
AUTH = ("Authorization: Bearer %s" % TOKEN,)
VHOST = "__defaultVhost__"


def get_all(port, paths):
    return status_codes([(port, path) for path in paths], parallel=16)


class OriginControl(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.cleanups = []

    def tearDown(self):
        for c in reversed(self.cleanups):
            try:
                c()
            except Exception:
                pass
        super().tearDown()

    def keep(self, peer, stop=None):
        self.cleanups.append(stop or peer.stop)
        return peer

    def start_proxy(self, registry="max_fails 0;", token=True, workers=2):
        """A proxy with an rtmp and an http_stream listener; passive health off
        (max_fails 0) so origins answering 404 are never marked down."""
        http_port, rtmp_port = free_port(), free_port()
        p = self.proxy(body="registry { %s }\nhttp_stream { listen 127.0.0.1:%d; connect_timeout 3s; }\n"
                            "rtmp { listen 127.0.0.1:%d; }" % (registry, http_port, rtmp_port),
                       workers=workers, start=False)
        if token:
            p.write_conf(workers=workers, system_api="listen 127.0.0.1:%d; token %s;" % (p.api_port, TOKEN),
                         body="registry { %s }\nhttp_stream { listen 127.0.0.1:%d; connect_timeout 3s; }\n"
                              "rtmp { listen 127.0.0.1:%d; }" % (registry, http_port, rtmp_port))
            p.api_ready = lambda: p.api("GET", "/api/v1/versions", headers=AUTH)[0] == 200
        p.start()
        p.wait_children(workers)
        p.http_port, p.rtmp_port = http_port, rtmp_port
        p.auth = AUTH if token else ()
        return p

    # ---- API helpers -----------------------------------------------------------
    def call(self, p, method, path, body=None, auth=True):
        return p.api_json(method, path, body, headers=(p.auth if auth else ()) +
                          (("Content-Type: application/json",) if body else ()))

    def register(self, p, reg, expect=200):
        status, body = self.call(p, "POST", "/api/v1/srs/register", json.dumps(reg))
        self.assertEqual(status, expect, body)
        return body

    def origins(self, p):
        status, body = self.call(p, "GET", "/api/v1/origins")
        self.assertEqual(status, 200, body)
        return {o["server"]: o for o in body["origins"]}

    def streams(self, p):
        status, body = self.call(p, "GET", "/api/v1/streams")
        self.assertEqual(status, 200, body)
        return body["streams"]

    def stream_origin(self, p, key):
        return {s["key"]: s["origin"] for s in self.streams(p)}.get(key)

    def new_streams(self, p, prefix, n):
        """n cheap picks (HTTP-FLV requests for new keys); {origin: count}."""
        codes = get_all(p.http_port, ["/live/%s%d.flv" % (prefix, i) for i in range(n)])
        self.assertNotIn(0, codes)
        by_key = {s["key"]: s["origin"] for s in self.streams(p)}
        out = {}
        for i in range(n):
            o = by_key.get("%s/live/%s%d" % (VHOST, prefix, i))
            out[o] = out.get(o, 0) + 1
        return out

    @staticmethod
    def reg(server, rtmp_port, http_port, service=None, **extra):
        r = {"ip": "127.0.0.1", "server": server, "service": service or "svc-" + server, "pid": "1",
             "rtmp": [str(rtmp_port)], "http": [str(http_port)]}
        r.update(extra)
        return r

    # ---- tests ---------------------------------------------------------------------
    def test_drain_undrain_delete_with_live_clients(self):
        p = self.start_proxy()
        a = self.keep(NginxRtmp("oa"))
        b = self.keep(NginxRtmp("ob"))
        flv_a = self.keep(FlvOrigin("rtmp://127.0.0.1:%d" % a.port))
        http404 = self.keep(NginxOrigin("http404"))  # B's http: 404 for any .flv, at once
        self.register(p, self.reg("oa", a.port, flv_a.port))
        self.register(p, self.reg("ob", b.port, http404.http_port))

        # A live stream on A (equal load: the smallest server id) with an RTMP
        # and an HTTP-FLV viewer through the proxy.
        rtmp = "rtmp://127.0.0.1:%d/live/" % p.rtmp_port
        pub = publish(rtmp + "a", log=subprocess.DEVNULL)
        self.keep(pub, lambda: (pub.kill(), pub.wait()))
        key_a = VHOST + "/live/a"
        wait_for(lambda: self.stream_origin(p, key_a) == "oa", timeout=20, what="live/a pinned to oa")
        wait_for(lambda: self.origins(p)["oa"]["clients"] >= 1, timeout=20, what="publisher relayed")
        player = self.keep(FramePlayer(rtmp + "a"))
        flv_path = os.path.join(p.dir, "a.flv")
        flv = subprocess.Popen([require("curl"), "-sS", "-N", "-o", flv_path,
                                "http://127.0.0.1:%d/live/a.flv" % p.http_port], stderr=subprocess.DEVNULL)
        self.keep(flv, lambda: (flv.kill(), flv.wait()))
        wait_for(lambda: player.frames() > 0, timeout=30, what="rtmp player frames")
        wait_for(lambda: os.path.exists(flv_path) and os.path.getsize(flv_path) > 10000, timeout=30,
                 what="http-flv bytes")
        wait_for(lambda: self.origins(p)["oa"]["clients"] >= 3, timeout=10, what="3 clients on oa")

        # Without the token: 401, nothing changes.
        for method, path in (("POST", "/api/v1/origins/oa/drain"), ("DELETE", "/api/v1/origins/oa"),
                             ("POST", "/api/v1/origins/oa/weight")):
            status, _ = self.call(p, method, path, auth=False)
            self.assertEqual(status, 401, path)
        self.assertFalse(self.origins(p)["oa"]["draining"])
        self.assertIn("oa", self.origins(p))

        status, body = self.call(p, "POST", "/api/v1/origins/oa/drain")
        self.assertEqual(status, 200, body)
        p.wait_log("drain of origin oa by 127.0.0.1")
        listed = self.origins(p)["oa"]
        self.assertTrue(listed["draining"])
        self.assertGreaterEqual(listed["clients"], 3)
        # /metrics (issue 15) shows the same state.
        status, text = p.api("GET", "/metrics", headers=p.auth)
        self.assertEqual(status, 200)
        self.assertIn('srsproxy_origin_up{origin="oa",state="draining"} 1', text)
        self.assertIn('srsproxy_origin_up{origin="oa",state="alive"} 0', text)
        self.assertIn('srsproxy_origin_up{origin="ob",state="alive"} 1', text)
        self.assertEqual(self.call(p, "POST", "/api/v1/origins/nobody/drain")[0], 404)
        self.assertEqual(self.call(p, "GET", "/api/v1/origins/oa/drain")[0], 405)
        self.assertEqual(self.call(p, "POST", "/api/v1/origins/oa/explode")[0], 400)

        # New streams all land on B; A's viewers keep receiving.
        frames, size = player.frames(), os.path.getsize(flv_path)
        got = self.new_streams(p, "d", 12)
        self.assertEqual(got, {"ob": 12})
        pub_b = publish(rtmp + "b", log=subprocess.DEVNULL)
        self.keep(pub_b, lambda: (pub_b.kill(), pub_b.wait()))
        wait_for(lambda: self.stream_origin(p, VHOST + "/live/b") is not None, timeout=20, what="live/b pinned")
        self.assertEqual(self.stream_origin(p, VHOST + "/live/b"), "ob")
        self.assertEqual(self.stream_origin(p, key_a), "oa")  # sticky while live
        wait_for(lambda: player.frames() > frames + 25, timeout=20, what="rtmp viewer still receiving")
        wait_for(lambda: os.path.getsize(flv_path) > size + 20000, timeout=20, what="http-flv still receiving")

        # Undrain: A (load 3: one stream, 3 clients) is below B (13 streams).
        self.assertEqual(self.call(p, "POST", "/api/v1/origins/oa/undrain")[0], 200)
        self.assertFalse(self.origins(p)["oa"]["draining"])
        self.assertEqual(self.new_streams(p, "u", 1), {"oa": 1})

        # DELETE forgets A: listing, heartbeats of its service refused (410).
        self.assertEqual(self.call(p, "DELETE", "/api/v1/origins/oa")[0], 200)
        p.wait_log("remove of origin oa by 127.0.0.1")
        self.assertNotIn("oa", self.origins(p))
        self.assertEqual(self.call(p, "DELETE", "/api/v1/origins/oa")[0], 404)
        body = self.register(p, self.reg("oa", a.port, flv_a.port), expect=410)
        self.assertIn("removed", body["error"])
        self.assertNotIn("oa", self.origins(p))
        self.register(p, self.reg("oa", a.port, flv_a.port, service="svc-oa-restarted"))
        self.assertIn("oa", self.origins(p))

    def test_weights_split_new_streams(self):
        p = self.start_proxy(token=False)
        http404 = self.keep(NginxOrigin("http404"))
        self.register(p, self.reg("w1", 1935, http404.http_port, weight=1))
        self.register(p, self.reg("w3", 1936, http404.http_port, weight="3"))
        got = self.new_streams(p, "w", 300)
        # Deterministic rule: exactly 75 / 225; the tolerance is the issue's.
        self.assertLessEqual(abs(got.get("w1", 0) - 75), 15, got)
        self.assertEqual(got.get("w1", 0) + got.get("w3", 0), 300, got)
        o = self.origins(p)
        self.assertEqual((o["w1"]["weight"], o["w3"]["weight"]), (1, 3))
        # A bad weight is refused like any bad field.
        status, body = self.call(p, "POST", "/api/v1/srs/register",
                                 json.dumps(self.reg("w1", 1935, http404.http_port, weight=0)))
        self.assertEqual(status, 400)
        self.assertIn("weight", body["error"])
        # The operator's override outlives heartbeats: w1 now counts 3.
        status, body = self.call(p, "POST", "/api/v1/origins/w1/weight", json.dumps({"weight": 3}))
        self.assertEqual(status, 200, body)
        self.register(p, self.reg("w1", 1935, http404.http_port, weight=1))
        o = self.origins(p)["w1"]
        self.assertEqual((o["weight"], o["registered_weight"], o["weight_override"]), (3, 1, 3))
        self.assertEqual(self.call(p, "POST", "/api/v1/origins/w1/weight?weight=101")[0], 400)
        self.assertEqual(self.call(p, "POST", "/api/v1/origins/w1/weight?weight=0")[0], 200)
        self.assertIsNone(self.origins(p)["w1"]["weight_override"])

    def test_overloaded_origin_gets_no_new_streams(self):
        p = self.start_proxy(token=False)
        http404 = self.keep(NginxOrigin("http404"))

        def beat(server, cpu):
            self.register(p, self.reg(server, 1935, http404.http_port,
                                      summaries={"ok": True, "data": {"system": {"cpu_percent": cpu,
                                                                                  "load_1m": 3.5}}}))
        beat("hot", 95)
        beat("cool", 10)
        o = self.origins(p)
        self.assertTrue(o["hot"]["overloaded"])
        self.assertEqual(o["hot"]["cpu"], 95)
        self.assertEqual(o["hot"]["load_1m"], 3.5)
        self.assertFalse(o["cool"]["overloaded"])
        self.assertEqual(self.new_streams(p, "c", 10), {"cool": 10})
        p.wait_log("origin hot overloaded")
        beat("hot", 85)  # within the 10-point margin: still overloaded
        self.assertTrue(self.origins(p)["hot"]["overloaded"])
        self.assertEqual(self.new_streams(p, "m", 3), {"cool": 3})
        beat("hot", 50)
        self.assertFalse(self.origins(p)["hot"]["overloaded"])
        self.assertEqual(self.new_streams(p, "r", 5), {"hot": 5})  # far less loaded now

    def busy_and_calm(self):
        """A proxy with two real RTMP origins, "busy" and "calm" (HTTP to a 404
        origin); returns it and its RTMP URL prefix."""
        p = self.start_proxy(token=False)
        a = self.keep(NginxRtmp("busy"))
        b = self.keep(NginxRtmp("calm"))
        http404 = self.keep(NginxOrigin("http404"))
        self.register(p, self.reg("busy", a.port, http404.http_port))
        self.register(p, self.reg("calm", b.port, http404.http_port))
        return p, "rtmp://127.0.0.1:%d/live/" % p.rtmp_port

    def test_origin_with_many_clients_gets_fewer_new_streams(self):
        p, rtmp = self.busy_and_calm()
        pub = publish(rtmp + "big", log=subprocess.DEVNULL)  # equal load: "busy" (smallest id)
        self.keep(pub, lambda: (pub.kill(), pub.wait()))
        wait_for(lambda: self.stream_origin(p, VHOST + "/live/big") == "busy", timeout=20, what="big on busy")
        for i in range(6):
            d = subprocess.Popen([require("rtmpdump"), "-q", "-v", "-r", rtmp + "big", "-o", os.devnull],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.keep(d, lambda d=d: (d.kill(), d.wait()))
        # Its load (max(1, clients) per stream, refreshed every 2 s) reaches 7.
        wait_for(lambda: self.origins(p)["busy"]["load"] >= 7, timeout=20, what="busy's load at 7")
        self.assertEqual(self.origins(p)["calm"]["load"], 0)
        self.assertEqual(self.new_streams(p, "n", 6), {"calm": 6})


    def test_origin_moving_more_bytes_gets_new_streams_elsewhere(self):
        p, rtmp = self.busy_and_calm()
        # A 6 Mbit/s CBR stream (filler keeps the rate up on a simple pattern)
        # goes to "busy" (equal load: smallest id), a 200 kbit/s one to "calm".
        cbr = ("-b:v", "6M", "-minrate", "6M", "-maxrate", "6M", "-bufsize", "3M", "-x264-params", "nal-hrd=cbr")
        for key, extra, where in (("big", cbr, "busy"), ("small", ("-b:v", "200k"), "calm")):
            pub = publish(rtmp + key, extra=extra, log=subprocess.DEVNULL)
            self.keep(pub, lambda pub=pub: (pub.kill(), pub.wait()))
            wait_for(lambda: self.stream_origin(p, VHOST + "/live/" + key) == where, timeout=20,
                     what="%s on %s" % (key, where))
            d = subprocess.Popen([require("rtmpdump"), "-q", "-v", "-r", rtmp + key, "-o", os.devnull],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.keep(d, lambda d=d: (d.kill(), d.wait()))
        # Same client load (publisher + viewer: 2 each); busy moves ~12 Mbit/s
        # (in + out), i.e. ~12 units of pick_bytes_per_client (125000 B/s).
        seen = {}

        def settled():
            o = self.origins(p)
            seen.update({k: (v["load"], v["bytes_per_sec"]) for k, v in o.items()})
            return (o["busy"]["load"] == 2 and o["calm"]["load"] == 2 and
                    o["busy"]["bytes_per_sec"] >= 900000 and 0 < o["calm"]["bytes_per_sec"] < 250000)
        try:
            wait_for(settled, timeout=30, what="both loads at 2, busy's bytes/s above 900k, calm's below 250k")
        except AssertionError as e:
            raise AssertionError("%s; last (load, bytes/s): %r" % (e, seen)) from None
        self.assertEqual(self.new_streams(p, "n", 4), {"calm": 4})


class OriginControlRedis(OriginControl):
    def test_drain_at_one_proxy_is_obeyed_by_the_other(self):
        redis = RedisServer().start()
        self.keep(redis)
        prefix = "oc-%s:" % uuid.uuid4().hex[:8]
        reg = "backend redis; redis %s; redis_key_prefix %s; max_fails 0;" % (redis.address, prefix)
        pa = self.start_proxy(registry=reg)
        pb = self.start_proxy(registry=reg)
        http404 = self.keep(NginxOrigin("http404"))
        self.register(pa, self.reg("ra", 1935, http404.http_port))
        self.register(pb, self.reg("rb", 1936, http404.http_port))
        self.assertEqual(self.new_streams(pa, "k0-", 1), {"ra": 1})  # equal load: smallest id
        self.assertEqual(self.call(pa, "POST", "/api/v1/origins/ra/drain")[0], 200)
        pa.wait_log("drain of origin ra by 127.0.0.1")
        self.assertTrue(self.origins(pb)["ra"]["draining"])
        self.assertEqual(self.new_streams(pb, "k1-", 4), {"rb": 4})
        self.assertEqual(self.call(pb, "POST", "/api/v1/origins/ra/undrain")[0], 200)
        self.assertFalse(self.origins(pa)["ra"]["draining"])
        self.assertEqual(self.new_streams(pa, "k2-", 3), {"ra": 3})  # load 1 against 4
        # Removal at B: gone for A too, its heartbeat refused at A.
        self.assertEqual(self.call(pb, "DELETE", "/api/v1/origins/ra")[0], 200)
        self.assertNotIn("ra", self.origins(pa))
        self.register(pa, self.reg("ra", 1935, http404.http_port), expect=410)
        self.register(pa, self.reg("ra", 1935, http404.http_port, service="new"))

    # The memory-backend tests are not repeated with Redis.
    test_drain_undrain_delete_with_live_clients = None
    test_weights_split_new_streams = None
    test_overloaded_origin_gets_no_new_streams = None
    test_origin_with_many_clients_gets_fewer_new_streams = None
    test_origin_moving_more_bytes_gets_new_streams_elsewhere = None


if __name__ == "__main__":
    main()
