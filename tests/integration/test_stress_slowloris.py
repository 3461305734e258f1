"""Stress (ctest label `stress`): slowloris on every TCP listener.

Connections that trickle an RTMP handshake or an HTTP request head one byte
every 200 ms, on rtmp, http_stream, http_api and system_api, each with a 2 s
timeout: every one is closed within its timeout (plus scheduling slack),
while a publisher and players keep flowing and legitimate requests on every
listener are answered. Then more slow RTMP connections than
worker_connections: the excess is refused at once with one clear log line
("worker_connections (40) reached"), the running sessions are untouched,
and once the slow ones timed out new players are served again.

When system_api and http_api ran on evhttp, whose timeout restarts with
every byte, a trickled head was never closed until a deadline was bolted on;
now every HTTP listener uses HttpConn's head_timeout (http/http_server.h).
"""
import time

from harness import curl, free_port, main
from rtmp_fixture import DEFAULT_VHOST
from stress_fixture import StressTestCase

TIMEOUT_S = 2.0
SLACK_S = 1.5        # timer granularity and a loaded machine
LIMIT = 40           # worker_connections
SLOW = 10            # slow connections per listener in the first round
RTMP_SLOW = b"\x03" + bytes(1536)
HTTP_SLOW = b"GET /live/s.flv HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200


class StressSlowloris(StressTestCase):
    def test_slowloris_on_every_listener(self):
        self.http_port, self.api2_port = free_port(), free_port()
        p = self.proxy(start=False, workers=1)
        self.rtmp_port = free_port()
        p.write_conf("rtmp { listen 127.0.0.1:%d; handshake_timeout 2s; }\n"
                     "http_stream { listen 127.0.0.1:%d; idle_timeout 2s; }\n"
                     "http_api { listen 127.0.0.1:%d; idle_timeout 2s; }\n"
                     % (self.rtmp_port, self.http_port, self.api2_port),
                     workers=1, extra_main="worker_connections %d;" % LIMIT,
                     system_api="listen 127.0.0.1:%d; timeout 2s;" % p.api_port)
        p.start()
        p.wait_children(1)
        self.origin("o1", p)
        self.low_rate_publisher(self.url("live/s"))
        self.wait_publishing(p, DEFAULT_VHOST + "/live/s")
        players = self.load.rtmp_players(self.rtmp_port, "s", 5)
        self.wait_all_receiving(players, 5, 30, "players receiving")

        # Round 1: 10 slow connections on each of the four listeners.
        listeners = {"rtmp": (self.rtmp_port, RTMP_SLOW), "http_stream": (self.http_port, HTTP_SLOW),
                     "http_api": (self.api2_port, HTTP_SLOW), "system_api": (p.api_port, HTTP_SLOW)}
        futures = {name: self.load.slowloris(port, payload, SLOW, seconds=TIMEOUT_S + SLACK_S + 2)
                   for name, (port, payload) in listeners.items()}
        # Meanwhile legitimate clients of every listener are served.
        mark = max(c.frames for c in players)
        time.sleep(0.5)
        self.assertEqual(curl("http://127.0.0.1:%d/api/v1/versions" % self.http_port, timeout=3)[0], 200)
        self.assertEqual(p.api("GET", "/api/v1/versions", timeout=3)[0], 200)
        status, _ = curl("http://127.0.0.1:%d/rtc/v1/whep/?app=live&stream=s" % self.api2_port,
                         method="OPTIONS", timeout=3)
        self.assertIn(status, (200, 204))
        fresh = self.load.rtmp_players(self.rtmp_port, "s", 2)
        results = {name: f.result(timeout=30) for name, f in futures.items()}
        self.report("slowloris, seconds until closed (timeout %.0fs): %s" % (
            TIMEOUT_S, {n: (round(min(r), 2), round(max(r), 2)) if None not in r and -1 not in r else r
                        for n, r in results.items()}))
        for name, closed in results.items():
            self.assertNotIn(None, closed, "%s: slow connections never closed" % name)
            self.assertNotIn(-1, closed, "%s: slow connections refused" % name)
            self.assertGreater(min(closed), TIMEOUT_S - 0.3, "%s closed before its timeout" % name)
            self.assertLess(max(closed), TIMEOUT_S + SLACK_S, "%s: closed late" % name)
        self.wait_all_receiving(players + fresh, mark + 10, 20, "players during the slowloris")
        p.wait_log("system_api: no complete request from 127.0.0.1:")
        p.wait_log("http_api: no complete request from 127.0.0.1:")
        p.wait_log("handshake_timeout")
        p.wait_log("http: no complete request from 127.0.0.1:")  # http_stream: "... within 2000ms, closed"

        # Round 2: more slow RTMP connections than worker_connections has
        # room for (8 sessions run): the excess is closed at once, logged.
        used = 1 + len(players) + len(fresh)
        over = self.load.slowloris(self.rtmp_port, RTMP_SLOW, LIMIT, seconds=TIMEOUT_S + SLACK_S + 2)
        closed = over.result(timeout=30)
        refused = [t for t in closed if t is not None and 0 <= t < 1.0]
        timed_out = [t for t in closed if t is not None and t >= TIMEOUT_S - 0.3]
        self.report("worker_connections %d with %d sessions running: %d of %d slow connections refused at once, "
                    "%d closed by handshake_timeout" % (LIMIT, used, len(refused), LIMIT, len(timed_out)))
        self.assertEqual(len(refused), used, closed)
        self.assertEqual(len(timed_out), LIMIT - used, closed)
        p.wait_log("worker_connections (%d) reached, rtmp client refused" % LIMIT)
        # The running sessions never noticed; new players are served again.
        mark = max(c.frames for c in players + fresh)
        self.wait_all_receiving(players + fresh, mark + 10, 20, "players after the flood")
        again = self.load.rtmp_players(self.rtmp_port, "s", 3)
        self.wait_all_receiving(again, 5, 20, "new players once the slow ones are gone")
        self.assertEqual([c.closed for c in players + fresh if c.closed], [])


if __name__ == "__main__":
    main()
