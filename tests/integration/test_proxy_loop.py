"""Proxy loops are harmless (issue "No client or origin can deny service",
self-loop): two real srs-proxy instances A and B, each registered as the
other's only origin, so every stream request A relays goes to B and comes
back to A. For RTMP (ffprobe), HTTP-FLV and HLS (curl), WHIP (curl POST of a
real aiortc offer) and SRT (srt-live-transmit as caller) the client gets the
protocol's error within seconds, the proxy the request came back to logs the
loop once, and the chain stays at three sessions (client -> A -> B -> A,
refused) instead of thousands. With worker_connections at its minimum, a
burst of looping clients still leaves room for a real stream from a real
nginx-rtmp origin through A."""
import os
import re
import signal
import socket
import subprocess
import threading
import time

from harness import ProxyTestCase, curl, free_port, main, require, wait_for
from origins import NginxRtmp

LOOP = "proxy loop:"  # the phrase of the one line a proxy logs when it sees its own marker
OFFER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "rtc", "aiortc_offer.sdp")


class Ports:
    def __init__(self):
        self.rtmp, self.http, self.api = free_port(), free_port(), free_port()
        self.rtc, self.srt = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)

    def conf(self):
        return ("rtmp { listen 127.0.0.1:%d; connect_timeout 3s; }\n"
                "http_stream { listen 127.0.0.1:%d; connect_timeout 3s; }\n"
                "http_api { listen 127.0.0.1:%d; connect_timeout 3s; }\n"
                "webrtc { listen 127.0.0.1:%d; }\n"
                "srt { listen 127.0.0.1:%d; connect_timeout 3s; }\n"
                % (self.rtmp, self.http, self.api, self.rtc, self.srt))

    def registration(self, server):
        return {"ip": "127.0.0.1", "server": server, "service": "svc-" + server, "pid": "1",
                "rtmp": [str(self.rtmp)], "http": [str(self.http)], "api": ["127.0.0.1:%d" % self.api],
                "rtc": ["udp://127.0.0.1:%d" % self.rtc], "srt": ["udp://127.0.0.1:%d" % self.srt]}


class ProxyLoop(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("ffmpeg", "ffprobe", "curl", "srt-live-transmit", "nginx"):
            require(tool)

    def setUp(self):
        super().setUp()
        self.pa, self.pb = Ports(), Ports()
        # The smallest worker_connections: a loop of even a few dozen hops
        # would fill it and refuse everyone else.
        self.a = self.proxy(body=self.pa.conf(), extra_main="worker_connections 16;")
        self.b = self.proxy(body=self.pb.conf(), extra_main="worker_connections 16;")
        for p, ports in ((self.a, self.pa), (self.b, self.pb)):
            p.wait_children(2)
            p.wait_log("srt listening on 127.0.0.1:%d" % ports.srt)
        # Each is the other's only origin: never A in A (a separate check
        # refuses a proxy's own listeners as an origin).
        for p, other, name in ((self.a, self.pb, "proxy-b"), (self.b, self.pa, "proxy-a")):
            status, body = p.register(other.registration(name))
            self.assertEqual(status, 200, body)

    def loops(self, p):
        return [line for line in p.log().splitlines() if LOOP in line]

    def assert_loop_logged_once(self, text):
        """The loop comes back to A (the proxy the client asked), which logs it
        once, naming the request (`text`); B, in the middle, only sees its
        origin refuse. Called once the client has its answer, which A sends
        only after logging: a further hop would be in the log already."""
        lines = self.loops(self.a)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(text, lines[0])
        self.assertEqual(self.loops(self.b), [], "B saw its own marker")
        self.assertIn(self.ident(self.a), lines[0])  # the id the master announced

    def ident(self, p):
        return re.search(r"proxy id ([0-9a-f]{16}) ", p.log()).group(1)

    def count(self, p, pattern):
        return len(re.findall(pattern, p.log()))

    # ---- one looping client per protocol -------------------------------------------

    def test_rtmp_loop_is_rejected(self):
        t0 = time.monotonic()
        r = subprocess.run(["ffprobe", "-v", "error", "rtmp://127.0.0.1:%d/live/rloop" % self.pa.rtmp],
                           capture_output=True, text=True, timeout=30)
        took = time.monotonic() - t0
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertLess(took, 5, "ffprobe took %.1fs to fail" % took)
        self.assert_loop_logged_once("rtmp client 127.0.0.1:")  # the peer is named
        self.assertRegex(self.loops(self.a)[0], r'srsProxyVia="[0-9a-f]{16}\.[0-9a-f]{16}"')
        # Sessions: ffprobe and B's relay at A, A's relay at B. Nothing more.
        wait_for(lambda: self.count(self.a, r"rtmp session end") == 2, timeout=5, what="A's two sessions ended")
        self.assertEqual(self.count(self.a, r"rtmp client \S+ connected"), 2)
        self.assertEqual(self.count(self.b, r"rtmp client \S+ connected"), 1)
        # The client heard why: B relays A's rejection, and A relays B's status.
        wait_for(lambda: re.search(r"origin refused: NetConnection.Connect.Rejected proxy loop detected", self.b.log()),
                 timeout=5, what="B's session ended with A's rejection")

    def test_http_flv_loop_is_508(self):
        t0 = time.monotonic()
        status, body = curl("http://127.0.0.1:%d/live/floop.flv" % self.pa.http, timeout=10)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(status, 508, body)
        self.assertIn("proxy loop detected", body)
        self.assert_loop_logged_once("/live/floop.flv")
        self.assertIn("Via: 1.1 srs-proxy-", self.loops(self.a)[0])
        # One request reached B, two reached A (the client's and B's).
        wait_for(lambda: self.count(self.a, r"http: \S+ GET /live/floop.flv 508") == 2, timeout=5,
                 what="A's two requests answered")
        # (B logs its request once it has answered, which may be a moment
        # after the client got the answer through A.)
        wait_for(lambda: self.count(self.b, r"http: \S+ GET /live/floop.flv 508") == 1, timeout=5,
                 what="B's one request answered")
        # The same from B's side: B sees the loop, once, and A does not again.
        status, body = curl("http://127.0.0.1:%d/live/floop2.flv" % self.pb.http, timeout=10)
        self.assertEqual(status, 508, body)
        b_lines = self.loops(self.b)
        self.assertEqual(len(b_lines), 1, b_lines)
        self.assertIn("/live/floop2.flv", b_lines[0])
        self.assertEqual(len(self.loops(self.a)), 1)

    def test_hls_loop_is_508(self):
        status, body = curl("http://127.0.0.1:%d/live/hloop.m3u8" % self.pa.http, timeout=10)
        self.assertEqual(status, 508, body)
        self.assertIn("proxy loop detected", body)
        self.assert_loop_logged_once("/live/hloop.m3u8")
        wait_for(lambda: self.count(self.b, r"http: \S+ GET /live/hloop.m3u8 508") == 1, timeout=5,
                 what="B's one request answered")
        wait_for(lambda: self.count(self.a, r"http: \S+ GET /live/hloop.m3u8 508") == 2, timeout=5,
                 what="A's two requests answered")

    def test_whip_loop_is_508(self):
        with open(OFFER) as f:
            offer = f.read()
        t0 = time.monotonic()
        status, body = curl("http://127.0.0.1:%d/rtc/v1/whip/?app=live&stream=wloop" % self.pa.api,
                            method="POST", data=offer, headers=("Content-Type: application/sdp",), timeout=10)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(status, 508, body)
        self.assertIn("proxy loop", body)
        self.assert_loop_logged_once("/rtc/v1/whip/?app=live&stream=wloop from 127.0.0.1:")
        self.assertIn("refused with 508", self.loops(self.a)[0])
        self.assertRegex(self.b.log(), r"origin proxy-a at \S+ answered 508")

    def test_srt_loop_is_rejected(self):
        t0 = time.monotonic()
        r = subprocess.run(["srt-live-transmit", "-a", "no", "-t", "8", "file://con",
                            "srt://127.0.0.1:%d?streamid=#!::r=live/sloop,m=publish" % self.pa.srt],
                           input=b"\x47" * 188 * 7 * 50, capture_output=True, timeout=30)
        self.assertLess(time.monotonic() - t0, 8, r.stderr)
        wait_for(lambda: self.loops(self.a), timeout=5, what="the loop logged by A")
        self.assert_loop_logged_once("srt caller 127.0.0.1:")
        line = self.loops(self.a)[0]
        self.assertIn("live/sloop", line)
        self.assertIn("rejected with 1508 (proxy loop detected)", line)
        self.assertRegex(line, r"srsproxy=[0-9a-f]{16}\.[0-9a-f]{16}")
        # B's origin connect was refused, so B ended its session, and A ended
        # the client's: two sessions in all, each ended once.
        wait_for(lambda: self.count(self.a, r"srt session end") == 1, timeout=8, what="A's session ended")
        wait_for(lambda: self.count(self.b, r"srt session end") == 1, timeout=8, what="B's session ended")
        self.assertIn("origin connect failed: 1508 (proxy loop detected)", self.b.log())
        self.assertEqual(self.count(self.a, r"srt session start"), 1)
        self.assertEqual(self.count(self.b, r"srt session start"), 1)
        # A streamid that could not carry the marker onward is refused up
        # front, not accepted and then closed.
        subprocess.run(["srt-live-transmit", "-a", "no", "-t", "3", "file://con",
                        "srt://127.0.0.1:%d?streamid=live/a,b" % self.pa.srt],
                       input=b"\x47" * 188, capture_output=True, timeout=30)
        self.a.wait_log("rejected with 1400 (bad request): streamid \"live/a,b\" has a ','")
        self.assertEqual(self.count(self.a, r"srt session start"), 1)

    def test_identity_survives_reload_and_worker_respawn(self):
        ident = self.ident(self.a)
        self.assertNotEqual(ident, self.ident(self.b))  # each instance its own
        self.a.signal(signal.SIGHUP)
        self.a.wait_log("reconfigured: generation 2")
        victim = self.a.workers()[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: victim not in self.a.workers() and len(self.a.workers()) == 2, timeout=10,
                 what="the killed worker respawned")
        for i in range(4):  # whichever worker answers
            status, _ = curl("http://127.0.0.1:%d/live/r%d.flv" % (self.pa.http, i), timeout=10)
            self.assertEqual(status, 508)
        lines = self.loops(self.a)
        self.assertEqual(len(lines), 4, lines)
        for line in lines:
            self.assertIn("(srs-proxy-%s)" % ident, line)

    # ---- other clients are not refused ----------------------------------------------

    def test_looping_clients_leave_room_for_a_real_stream(self):
        names = ["burst%d" % i for i in range(6)]
        # Pin each looping stream to B first (the registry keeps a stream on
        # its origin), then add a real origin to A: new streams go there.
        for n in names:
            status, _ = curl("http://127.0.0.1:%d/live/%s.flv" % (self.pa.http, n), timeout=10)
            self.assertEqual(status, 508)
        origin = NginxRtmp("real-origin")
        self.addCleanup(origin.stop)
        origin.register(self.a)
        publisher = subprocess.Popen(
            ["ffmpeg", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
             "-t", "30", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-f", "flv", origin.url("live/real")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: (publisher.kill(), publisher.wait(), publisher.stderr.close()))
        wait_for(lambda: subprocess.run(["ffprobe", "-v", "error", origin.url("live/real")], capture_output=True,
                                        timeout=10).returncode == 0, timeout=15, what="the publisher on nginx-rtmp")

        # Looping clients on every TCP protocol at once, round after round,
        # while a player asks A for the real stream.
        stop = threading.Event()
        results = []

        def hammer(n):
            while not stop.is_set():
                rt = subprocess.run(["ffprobe", "-v", "error", "rtmp://127.0.0.1:%d/live/%s" % (self.pa.rtmp, n)],
                                    capture_output=True, timeout=30).returncode
                st, _ = curl("http://127.0.0.1:%d/live/%s.flv" % (self.pa.http, n), timeout=10)
                results.append((rt, st))

        threads = [threading.Thread(target=hammer, args=(n,), daemon=True) for n in names]
        for t in threads:
            t.start()
        try:
            wait_for(lambda: len(results) >= len(names), timeout=20, what="a round of looping clients")
            probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name",
                                    "rtmp://127.0.0.1:%d/live/real" % self.pa.rtmp],
                                   capture_output=True, text=True, timeout=30)
            status, body = curl("http://127.0.0.1:%d/api/v1/versions" % self.pa.http)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=40)
        self.assertIn("h264", probe.stdout, probe.stderr)
        self.assertEqual(status, 200, body)
        self.assertTrue(results)
        for rt, st in results:
            self.assertNotEqual(rt, 0)
            self.assertEqual(st, 508)
        self.assertNotIn("worker_connections (16) reached", self.a.log())
        self.assertNotIn("worker_connections (16) reached", self.b.log())
        # One loop line per looping request, at A only.
        self.assertEqual(len(self.loops(self.a)), len(names) + 2 * len(results))
        self.assertEqual(self.loops(self.b), [])


if __name__ == "__main__":
    main()
