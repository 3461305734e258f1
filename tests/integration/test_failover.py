"""Failover in seconds when an origin dies (SPEC section 5 "Liveness").

Two nginx-rtmp origins, each registered by a heartbeat loop (a thread POSTing
its registration every second, as SRS's heartbeat does every 9 s), behind a
proxy whose origin_ttl is 300 s:
- kill -9: the origin carrying a published stream dies while its heartbeat
  loop goes on (so only passive health can tell); the publisher reconnects at
  once and is relayed to the other origin within 5 s (the failed connect
  marks the dead one down and the proxy retries within connect_timeout); the
  stream plays through the proxy; /api/v1/origins shows the dead one down
  with its reason.
- hung origin: its heartbeats stop while its port stays open; it is shown
  dead within 3 learned intervals (plus slack), not after origin_ttl.
"""
import json
import threading
import time
import urllib.request

from harness import main, wait_for
from origins import probe
from rtmp_fixture import DEFAULT_VHOST, RtmpTestCase

INTERVAL = 1.0  # seconds between heartbeats


class Heartbeat(threading.Thread):
    """POSTs an origin's registration to the proxy every INTERVAL seconds until stopped."""

    def __init__(self, proxy, origin):
        super().__init__(daemon=True)
        self.url = "http://127.0.0.1:%d/api/v1/srs/register" % proxy.api_port
        self.body = json.dumps(origin.registration()).encode()
        self.stopped = threading.Event()
        self.last_ok = None  # time.monotonic() of the last accepted heartbeat
        self.count = 0

    def run(self):
        next_at = time.monotonic()
        while not self.stopped.is_set():
            req = urllib.request.Request(self.url, data=self.body,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=2) as r:
                    if r.status == 200:
                        self.last_ok = time.monotonic()
                        self.count += 1
            except OSError:
                pass
            next_at += INTERVAL
            self.stopped.wait(max(0.0, next_at - time.monotonic()))

    def stop(self):
        self.stopped.set()
        self.join(timeout=5)


class Failover(RtmpTestCase):
    def setUp(self):
        super().setUp()
        self.beats = []

    def tearDown(self):
        for b in self.beats:
            b.stop()
        super().tearDown()

    def start_origins(self, proxy):
        beats = {}
        for server_id in ("o1", "o2"):
            o = self.origin(server_id)
            b = Heartbeat(proxy, o)
            b.start()
            self.beats.append(b)
            beats[server_id] = b
        # Three heartbeats each: the proxy has learned their interval.
        wait_for(lambda: all(o["heartbeat_interval_s"] for o in self.origins_api(proxy).values())
                 and len(self.origins_api(proxy)) == 2, timeout=10, what="heartbeat intervals learned")
        return beats

    @staticmethod
    def origins_api(proxy):
        status, body = proxy.api_json("GET", "/api/v1/origins")
        assert status == 200, body
        return {o["server"]: o for o in body["origins"]}

    def test_killed_origin_publisher_reconnects_within_seconds(self):
        p = self.rtmp_proxy(workers=2, body="registry { origin_ttl 300s; }")
        self.start_origins(p)
        key = DEFAULT_VHOST + "/live/s"
        first = self.publisher(self.url("live/s"))
        self.wait_publishing(p, key)
        dead_id = self.stream_origins(p)[key]
        live_id = "o2" if dead_id == "o1" else "o1"
        dead = self.origin_by_id(dead_id)

        dead.kill()  # kill -9; its heartbeat loop goes on
        first.kill()
        # The proxy sees the origin's socket close and lets the publisher go.
        wait_for(lambda: self.stream_clients(p, key) == 0, timeout=2, what="the old publisher gone")
        t0 = time.monotonic()
        self.publisher(self.url("live/s"))
        self.wait_publishing(p, key, timeout=5)
        self.assertEqual(self.stream_origins(p)[key], live_id)
        self.assertEqual(probe(self.url("live/s")), ["aac", "h264"])
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, 5.0, "playable through the proxy %.1fs after the reconnect" % elapsed)

        o = self.origins_api(p)[dead_id]
        self.assertTrue(o["heartbeat_alive"], o)  # its heartbeats still come...
        self.assertTrue(o["down"], o)             # ...but its connects fail
        self.assertFalse(o["alive"], o)
        self.assertIn("127.0.0.1:%d" % dead.port, o["down_reason"])
        self.assertIn("refused", o["down_reason"].lower())
        self.assertGreater(o["down_for_s"], 0)
        self.assertTrue(self.origins_api(p)[live_id]["alive"])
        log = p.log()
        self.assertIn("marked down", log)
        self.assertIn("retried on origin " + live_id, log)

    def test_hung_origin_dead_within_three_intervals(self):
        p = self.rtmp_proxy(workers=1, body="registry { origin_ttl 300s; }")
        beats = self.start_origins(p)
        hung = beats["o1"]
        hung.stop()  # o1's port stays open, its heartbeats stop
        last = hung.last_ok
        o = wait_for(lambda: (lambda v: v if not v["alive"] else None)(self.origins_api(p)["o1"]),
                     timeout=3 * INTERVAL + 3, interval=0.05, what="o1 dead")
        after = time.monotonic() - last
        interval = o["heartbeat_interval_s"]
        self.assertAlmostEqual(interval, INTERVAL, delta=0.3)
        # Dead after 3 of its intervals without a heartbeat: not sooner, not much later.
        self.assertGreater(after, 3 * interval - 0.3)
        self.assertLess(after, 3 * interval + 1.0)
        self.assertFalse(o["heartbeat_alive"])
        self.assertFalse(o["down"])  # nothing failed: it is dead by its heartbeats alone
        self.assertTrue(self.origins_api(p)["o2"]["alive"])
        # New streams go to o2 only.
        self.publisher(self.url("live/h"))
        self.wait_publishing(p, DEFAULT_VHOST + "/live/h")
        self.assertEqual(self.stream_origins(p)[DEFAULT_VHOST + "/live/h"], "o2")


if __name__ == "__main__":
    main()
