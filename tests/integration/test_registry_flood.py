"""A registry no client can fill: one client floods the proxy with requests
for made-up stream names over HLS, HTTP-FLV (wrk, random paths) and RTMP
(plays of random names), against a real nginx-rtmp origin and a registry of
`size 1m` (about 900 pins). Before pending pins and eviction, every failed
request left a pin for session_ttl and a full table refused the next real
publisher ("registry full"). Here a publisher that was live before the flood
keeps its pin, and a new publish, an RTMP play and an HLS playlist of a new
stream succeed after it.

Bound stated and checked: the pins in use never exceed the table's capacity
(GET /api/v1/streams `registry`), 404 playlists leave no HLS session or viewer
fingerprint (sessions == what the one real HLS viewer made), and only pins of
connected clients are live (neither pending nor idle)."""
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from harness import ProxyTestCase, free_port, main, require, wait_for
from http_peers import NginxOrigin, Publisher, ffprobe_streams
from rtmp_client import Client

HTTP_REQUESTS = 20000   # at least this many HLS + HTTP-FLV requests of made-up names
RTMP_PLAYS = 400        # and this many RTMP plays of made-up names

WRK_SCRIPT = """
local id = 0
function setup(thread)
  id = id + 1
  thread:set("id", id)
end
function init(args)
  n = 0
  prefix = "/live/flood" .. args[1] .. "t" .. id .. "n"
end
function request()
  n = n + 1
  local ext = (n % 2 == 0) and ".m3u8" or ".flv"
  return wrk.format("GET", prefix .. n .. ext)
end
"""


class RegistryFlood(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.peers = []

    def tearDown(self):
        for p in self.peers:
            p.stop()
        super().tearDown()

    def streams(self, proxy):
        status, body = proxy.api_json("GET", "/api/v1/streams")
        self.assertEqual(status, 200)
        return body

    def rtmp_clients(self, proxy, suffix):
        """RTMP clients counted on the pin whose key ends with `suffix` (None: no pin)."""
        for s in self.streams(proxy)["streams"]:
            if s["key"].endswith(suffix):
                return s["clients"]["rtmp"]
        return None

    def live_pins(self, proxy):
        reg = self.streams(proxy)["registry"]
        return reg["streams"] - reg["pending_streams"] - reg["idle_streams"]

    def check_bound(self, proxy, live_clients):
        reg = self.streams(proxy)["registry"]
        self.assertLessEqual(reg["streams"], reg["stream_capacity"], reg)
        live = reg["streams"] - reg["pending_streams"] - reg["idle_streams"]
        self.assertLessEqual(live, live_clients, reg)
        return reg

    def wrk_flood(self, port, requests):
        """wrk with random paths until `requests` were answered; returns (total, non-2xx)."""
        wrk = require("wrk")
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write(WRK_SCRIPT)
        script.close()
        self.addCleanup(os.unlink, script.name)
        total = bad = 0
        deadline = time.monotonic() + 40
        run = 0
        while total < requests and time.monotonic() < deadline:
            run += 1
            out = subprocess.run([wrk, "-t2", "-c32", "-d4s", "-s", script.name,
                                  "http://127.0.0.1:%d/" % port, "--", "%s%d" % (uuid.uuid4().hex[:8], run)],
                                 capture_output=True, text=True, timeout=30)
            m = re.search(r"(\d+) requests in", out.stdout)
            self.assertTrue(m, out.stdout + out.stderr)
            total += int(m.group(1))
            m = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
            bad += int(m.group(1)) if m else 0
        return total, bad

    def rtmp_plays(self, port, count, threads=8):
        """Plays `count` made-up names (connect, createStream, play, first onStatus, close)."""
        started = []
        errors = []

        def worker(k):
            for i in range(k, count, threads):
                try:
                    c = Client(port, timeout=10)
                    try:
                        c.handshake()
                        c.connect("rtmp://127.0.0.1:%d/live" % port)
                        sid = c.create_stream()
                        c.play("junk-%s-%d" % (uuid.uuid4().hex[:8], i), sid)
                        info = c.wait_status()
                        if info.get("code") in ("NetStream.Play.Start", "NetStream.Play.Reset"):
                            started.append(i)
                    finally:
                        c.close()
                except Exception as e:  # noqa: BLE001 - counted and reported below
                    errors.append(repr(e))

        ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=60)
        return len(started), errors

    def test_flood_of_made_up_names_cannot_fill_the_registry(self):
        origin = NginxOrigin("flood-origin")
        self.peers.append(origin)
        http_port, rtmp_port = free_port(), free_port()
        p = self.proxy(body="http_stream { listen 127.0.0.1:%d; }\nrtmp { listen 127.0.0.1:%d; }" % (
            http_port, rtmp_port), extra_main="registry { size 1m; }", workers=2)
        p.wait_children(2)
        status, body = p.register(origin.registration())
        self.assertEqual(status, 200, body)
        cap = self.streams(p)["registry"]["stream_capacity"]
        self.assertLess(cap, 2000)  # the flood below is many times the table

        # A live publisher before the flood: its pin has a client, never evicted.
        kept = Publisher("rtmp://127.0.0.1:%d/live/kept" % rtmp_port)
        self.peers.append(kept)
        wait_for(lambda: (self.rtmp_clients(p, "/live/kept") or 0) >= 1, timeout=20,
                 what="the kept publisher counted")

        total, bad = self.wrk_flood(http_port, HTTP_REQUESTS)
        self.assertGreaterEqual(total, HTTP_REQUESTS)
        self.assertEqual(bad, total, "every made-up name must fail (404)")
        reg = self.check_bound(p, live_clients=1)
        sys.stderr.write("flood: %d HTTP requests of made-up names; registry %s\n" % (total, reg))
        self.assertGreater(reg["evicted_streams"], 0, reg)  # the flood outnumbered the table
        self.assertEqual(reg["sessions"], 0, "404 playlists must leave no HLS session: %s" % reg)

        played, errors = self.rtmp_plays(rtmp_port, RTMP_PLAYS)
        # nginx-rtmp starts a play of any name (it waits for a publisher), so
        # these are confirmed pins that go idle when the client leaves.
        self.assertGreaterEqual(played, RTMP_PLAYS * 9 // 10, errors[:5])
        wait_for(lambda: self.live_pins(p) <= 1, timeout=10, what="the RTMP players' counts gone")
        self.check_bound(p, live_clients=1)

        # The live publisher kept its pin through it all.
        self.assertEqual(self.rtmp_clients(p, "/live/kept"), 1, "the live pin was evicted")

        # A new stream: publish, RTMP play and HLS all work.
        fresh = Publisher("rtmp://127.0.0.1:%d/live/fresh" % rtmp_port)
        self.peers.append(fresh)
        wait_for(lambda: (self.rtmp_clients(p, "/live/fresh") or 0) >= 1, timeout=20,
                 what="the new publisher counted")
        codecs, err = ffprobe_streams("rtmp://127.0.0.1:%d/live/fresh" % rtmp_port)
        self.assertEqual(codecs, ["aac", "h264"], err)
        wait_for(lambda: origin.hls_ready("fresh", 2), timeout=30, what="HLS of the new stream")
        out = subprocess.run(["curl", "-sS", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}",
                              "http://127.0.0.1:%d/live/fresh.m3u8" % http_port],
                             capture_output=True, text=True, timeout=15)
        self.assertEqual(out.stdout, "200", out.stderr)
        reg = self.check_bound(p, live_clients=2)
        self.assertEqual(reg["sessions"], 2, "one HLS session and its viewer fingerprint: %s" % reg)
        self.assertEqual(reg["hls_clients"], 1, reg)
        self.assertNotIn("registry full", p.log())
        sys.stderr.write("after: %d RTMP plays; registry %s\n" % (played, reg))


if __name__ == "__main__":
    main()
