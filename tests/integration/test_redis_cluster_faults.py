"""Faults of a cluster of proxies sharing one registry in a real redis-server,
with real players (ffmpeg over RTMP and HTTP-FLV) on two origins (each an
nginx-rtmp server with a live HTTP-FLV side, flv_origin.py, pulling from it):
- `kill -9` of proxy A (master and workers) while it holds players: the
  players through B and C keep decoding, A's client counts leave B's
  /api/v1/streams within the proxy TTL (10 s), and the stream stays pinned:
  a new player through B reaches the same origin and decodes.
- redis-server stopped under load (players through two proxies): the
  established sessions keep flowing, a new player of the pinned stream is
  served from each proxy's local cache, a new stream gets the documented
  error (HTTP 503; RTMP error status naming the unavailable registry), and
  once redis-server is back on the same port a new stream is served and
  the stream pinned before is pinned again (redis-server restarted without
  persistence lost it) so new players still reach its origin. The
  origins heartbeat every second throughout, as SRS does (a restarted
  redis-server without persistence learns them again from the heartbeats).
"""
import os
import signal
import subprocess
import threading
import time
import uuid

from harness import ProxyTestCase, curl, free_port, main, require, wait_for
from http_peers import FlvOrigin
from origins import FramePlayer, NginxRtmp, publish
from redis_fixture import RedisServer
from rtmp_client import Client

KEY = "__defaultVhost__/live/k"
PROXY_TTL_S = 10  # redis_store.h: a proxy's counts vanish this long after its last heartbeat


class Origin:
    """nginx-rtmp plus a live HTTP-FLV origin pulling from it, registered as one origin."""

    def __init__(self, name):
        self.name = name
        self.rtmp = NginxRtmp(name)
        self.flv = FlvOrigin("rtmp://127.0.0.1:%d" % self.rtmp.port)

    def registration(self):
        return {"ip": "127.0.0.1", "server": self.name, "service": "svc-" + self.name,
                "pid": str(self.rtmp.proc.pid), "rtmp": [str(self.rtmp.port)], "http": [str(self.flv.port)]}

    def stop(self):
        self.flv.stop()
        self.rtmp.stop()


class Heartbeats(threading.Thread):
    """Registers the origins at a proxy every second, as SRS origins do."""

    def __init__(self, proxy, origins):
        super().__init__(daemon=True)
        self.proxy, self.origins, self.done = proxy, origins, threading.Event()
        self.start()

    def run(self):
        while not self.done.is_set():
            for o in self.origins:
                try:
                    self.proxy.register(o.registration())
                except Exception:  # noqa: BLE001 -- a missed heartbeat is what heartbeats tolerate
                    pass
            self.done.wait(1.0)

    def stop(self):
        self.done.set()
        self.join(timeout=15)


def streams(p):
    status, body = p.api_json("GET", "/api/v1/streams")
    assert status == 200, (status, body)
    return {s["key"]: s for s in body["streams"]}


def registry_state(p):
    return p.api_json("GET", "/api/v1/versions")[1]["registry"]


def rtmp_play_status(port, name):
    """The first onStatus a raw RTMP player of live/`name` gets."""
    c = Client(port)
    try:
        c.handshake()
        c.connect("rtmp://127.0.0.1:%d/live" % port)
        sid = c.create_stream()
        c.play(name, stream_id=sid)
        return c.wait_status(timeout=10)
    finally:
        c.close()


class RedisClusterFaults(ProxyTestCase):
    def setUp(self):
        super().setUp()
        for tool in ("ffmpeg", "nginx", "redis-server"):
            require(tool)
        self.redis = RedisServer().start()
        self.addCleanup(self.redis.stop)
        self.prefix = "fa-%s:" % uuid.uuid4().hex[:8]

    def cluster(self, n, workers=1):
        out = []
        for _ in range(n):
            http_port, rtmp_port = free_port(), free_port()
            p = self.proxy("registry { backend redis; redis %s; redis_key_prefix %s; redis_timeout 1s; }\n"
                           "http_stream { listen 127.0.0.1:%d; connect_timeout 5s; }\n"
                           "rtmp { listen 127.0.0.1:%d; }"
                           % (self.redis.address, self.prefix, http_port, rtmp_port), workers=workers)
            p.http_port, p.rtmp_port = http_port, rtmp_port
            p.wait_children(workers)
            out.append(p)
        for p in out:
            wait_for(lambda: registry_state(p).get("redis_reachable"), timeout=10, what="each proxy on redis")
        return out

    def origins(self, proxies):
        origins = [Origin("o-0"), Origin("o-1")]
        for o in origins:
            self.addCleanup(o.stop)
        for o in origins:
            self.assertEqual(proxies[0].register(o.registration())[0], 200)
        for p in proxies:
            wait_for(lambda: len(p.api_json("GET", "/api/v1/origins")[1]["origins"]) == 2, timeout=3,
                     what="both origins on every proxy")
        return origins

    def player(self, url):
        pl = FramePlayer(url)
        self.addCleanup(pl.stop)
        return pl

    def publisher(self, url):
        pub = publish(url, log=subprocess.DEVNULL)
        self.addCleanup(lambda: (pub.kill(), pub.wait()))
        return pub

    def assert_flowing(self, players, more=25, timeout=10, what="players"):
        base = [pl.frames() for pl in players]
        wait_for(lambda: all(pl.frames() > b + more for pl, b in zip(players, base)), timeout=timeout,
                 what="%s decoding %d more frames (from %s)" % (what, more, base))

    def test_kill_9_of_a_proxy_leaves_the_others_serving_and_its_counts_vanish(self):
        a, b, c = self.cluster(3)
        self.origins([a, b, c])
        self.publisher("rtmp://127.0.0.1:%d/live/k" % b.rtmp_port)
        wait_for(lambda: KEY in streams(b), timeout=15, what="the publisher's stream pinned")
        home = streams(b)[KEY]["origin"]
        on_a = [self.player("rtmp://127.0.0.1:%d/live/k" % a.rtmp_port),
                self.player("http://127.0.0.1:%d/live/k.flv" % a.http_port)]
        others = [self.player("rtmp://127.0.0.1:%d/live/k" % b.rtmp_port),
                  self.player("http://127.0.0.1:%d/live/k.flv" % c.http_port)]
        wait_for(lambda: all(pl.frames() > 10 for pl in on_a + others), timeout=25, what="four players decoding")
        a_id = registry_state(a)["proxy_id"]

        def holders():
            return {h["proxy_id"]: h["clients"] for h in streams(b)[KEY]["proxies"]}
        wait_for(lambda: holders().get(a_id, {}).get("rtmp") == 1 and holders()[a_id].get("http") == 1, timeout=8,
                 what="A's counts (1 rtmp, 1 http) at B")
        self.assertEqual(streams(b)[KEY]["origin"], home)

        victims = [a.pid] + a.children()
        self.assertGreaterEqual(len(victims), 3, "master, worker and api worker")
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        a.proc.wait()
        # Players through B and C never notice.
        self.assert_flowing(others, what="the players through B and C")
        # A's counts vanish from B's listing within the proxy TTL; the totals are B's and C's.
        wait_for(lambda: a_id not in holders(), timeout=PROXY_TTL_S + 5, interval=0.2,
                 what="proxy A's counts gone from B's /api/v1/streams")
        self.assertLess(time.monotonic() - killed, PROXY_TTL_S + 2)
        entry = streams(b)[KEY]
        self.assertEqual(entry["clients"]["http"], 1, entry)  # C's viewer
        self.assertEqual(sum(h["clients"]["http"] for h in entry["proxies"]), 1, entry)
        # The pin is not lost: same origin on B and C, and a new player through B reaches it.
        self.assertEqual(entry["origin"], home)
        self.assertEqual(streams(c)[KEY]["origin"], home)
        late = self.player("http://127.0.0.1:%d/live/k.flv" % b.http_port)
        wait_for(lambda: late.frames() > 10, timeout=20, what="a new player through B decoding")
        self.assertEqual(streams(b)[KEY]["origin"], home)
        self.assert_flowing(others, what="the players through B and C, still")

    def test_redis_stopped_under_load_and_back(self):
        a, b = self.cluster(2)
        origins = self.origins([a, b])
        beats = Heartbeats(a, origins)
        self.addCleanup(beats.stop)
        self.publisher("rtmp://127.0.0.1:%d/live/k" % a.rtmp_port)
        wait_for(lambda: KEY in streams(a), timeout=15, what="the publisher's stream pinned")
        home = streams(a)[KEY]["origin"]
        players = [self.player("rtmp://127.0.0.1:%d/live/k" % a.rtmp_port),
                   self.player("rtmp://127.0.0.1:%d/live/k" % b.rtmp_port),
                   self.player("http://127.0.0.1:%d/live/k.flv" % a.http_port),
                   self.player("http://127.0.0.1:%d/live/k.flv" % b.http_port)]
        wait_for(lambda: all(pl.frames() > 10 for pl in players), timeout=25, what="four players decoding")

        self.redis.stop()
        for p in (a, b):
            wait_for(lambda: not registry_state(p)["redis_reachable"], timeout=5, what="redis unreachable")
        # Established sessions keep flowing.
        self.assert_flowing(players, what="the established players")
        # A new player of the pinned stream is served from the local cache, on both proxies.
        late = [self.player("rtmp://127.0.0.1:%d/live/k" % b.rtmp_port),
                self.player("http://127.0.0.1:%d/live/k.flv" % a.http_port)]
        wait_for(lambda: all(pl.frames() > 10 for pl in late), timeout=20,
                 what="new players of the pinned stream during the outage")
        # A new stream: 503 over HTTP, an error status over RTMP, both naming the registry.
        status, body = curl("http://127.0.0.1:%d/live/new.flv" % b.http_port, timeout=10)
        self.assertEqual(status, 503, body)
        self.assertIn("unavailable", body)
        info = rtmp_play_status(a.rtmp_port, "new2")
        self.assertEqual(info["level"], "error", info)
        self.assertIn("__defaultVhost__/live/new2", info["description"])
        self.assertIn("registry unavailable", info["description"])
        self.assert_flowing(players, what="the established players, still")

        self.redis.start()
        for p in (a, b):
            wait_for(lambda: registry_state(p)["redis_reachable"], timeout=10, what="redis reachable again")
        # The heartbeats (accepted locally meanwhile) put the origins back in Redis.
        wait_for(lambda: self.redis.command("SCARD", self.prefix + "origins") == 2, timeout=5,
                 what="both origins in the restarted redis")
        # The restarted redis-server lost the stream's pin: the proxies holding
        # its players pin it again to the origin it is on.
        wait_for(lambda: self.redis.command("HGET", self.prefix + "p:" + KEY, "o") == home, timeout=5,
                 what="the pin of %s back in redis" % KEY)
        self.assertTrue(any("held stream(s) pinned again in redis" in p.log() for p in (a, b)))
        self.publisher("rtmp://127.0.0.1:%d/live/fresh" % b.rtmp_port)
        wait_for(lambda: "__defaultVhost__/live/fresh" in streams(a), timeout=15,
                 what="the new stream pinned, seen by A")
        fresh = self.player("rtmp://127.0.0.1:%d/live/fresh" % a.rtmp_port)
        wait_for(lambda: fresh.frames() > 10, timeout=20, what="a new stream through A after the outage")
        self.assertEqual(streams(a)["__defaultVhost__/live/fresh"]["origin"],
                         streams(b)["__defaultVhost__/live/fresh"]["origin"])
        self.assert_flowing(players + late, what="every player after the outage")
        # The stream pinned before the outage still reaches its origin: a new
        # player through each proxy decodes (the restarted redis-server lost
        # every key, the other origin has no publisher of it).
        after = [self.player("rtmp://127.0.0.1:%d/live/k" % a.rtmp_port),
                 self.player("http://127.0.0.1:%d/live/k.flv" % b.http_port)]
        wait_for(lambda: all(pl.frames() > 10 for pl in after), timeout=20,
                 what="new players of the pinned stream after the outage")
        for p in (a, b):
            wait_for(lambda: streams(p).get(KEY, {}).get("origin") == home, timeout=5,
                     what="the stream on its origin in /api/v1/streams")
        # The client counts the restarted redis-server lost are exact again:
        # every proxy's heartbeat carries its host's counts (four HTTP-FLV
        # viewers: two from before the outage, one during it, one after).
        for p in (a, b):
            wait_for(lambda: streams(p).get(KEY, {}).get("clients", {}).get("http") == 4, timeout=8,
                     what="4 http clients of %s in %d's /api/v1/streams" % (KEY, p.api_port))


if __name__ == "__main__":
    main()
