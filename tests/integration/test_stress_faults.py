"""Stress (ctest label `stress`): faults around the proxy.

- An origin killed mid-stream: the publisher and every player relayed to it
  are closed, each with a session-end line naming the origin and a reason;
  once it expired (origin_ttl, short here) a new publish of the same stream
  goes to the live origin and plays.
- A flood of 5,000 bogus registrations with a token configured: every one
  refused with 401, while the real origins' heartbeats (with the token) all
  succeed, the registry holds only them, and a stream keeps playing.
"""
import json
import re
import subprocess
import time

from harness import BINARY, free_port, main, wait_for
from rtmp_fixture import DEFAULT_VHOST
from stress_fixture import Heartbeats, StressTestCase

KEY = DEFAULT_VHOST + "/live/s"
TOKEN = "stress-s3cret"
AUTH = "Authorization: Bearer " + TOKEN


class StressFaults(StressTestCase):
    def test_origin_killed_mid_stream(self):
        p = self.rtmp_proxy(workers=2, body="registry { origin_ttl 2s; }")
        o1, o2 = self.origin("o1", p), self.origin("o2", p)
        beats = Heartbeats(p, [o1, o2])
        beats.start()
        self.addCleanup(beats.stop.set)
        pub = self.low_rate_publisher(self.url("live/s"))
        self.wait_publishing(p, KEY)
        players = self.load.rtmp_players(self.rtmp_port, "s", 20)
        self.wait_all_receiving(players, 5, 30, "players receiving")
        dead = self.origin_by_id(self.stream_origins(p)[KEY])
        live = o2 if dead is o1 else o1
        beats.origins.remove(dead)

        t0 = time.monotonic()
        dead.kill()
        wait_for(lambda: all(c.closed for c in players), timeout=10, what="every player closed")
        closed_in = time.monotonic() - t0
        wait_for(lambda: pub.poll() is not None, timeout=15, what="the publisher's connection closed")
        # One session-end line per client, naming the dead origin and why.
        pattern = re.compile(r"rtmp session end peer=\S+ (publish|play) key=%s origin=%s \(\S+\) .* reason=(.+)$"
                             % (re.escape(KEY), dead.server_id))

        def session_ends():
            found = [m.groups() for m in map(pattern.search, p.log().splitlines()) if m]
            return found if len(found) >= 21 else None
        ends = wait_for(session_ends, timeout=10, what="21 session-end lines")
        self.assertEqual(sorted(v for v, _ in ends).count("publish"), 1, ends)
        self.assertEqual(sorted(v for v, _ in ends).count("play"), 20, ends)
        for _, reason in ends:
            self.assertIn("origin", reason)
        self.report("origin killed mid-stream: 20 players closed in %.2fs; reasons %r" % (
            closed_in, sorted(set(r for _, r in ends))))

        # After origin_ttl the dead origin expires; the same stream is published again to the live one.
        def alive(server_id):
            _, body = p.api_json("GET", "/api/v1/origins")
            return any(o["server"] == server_id and o["alive"] for o in body["origins"])
        wait_for(lambda: not alive(dead.server_id), timeout=10, what="%s expired" % dead.server_id)
        self.low_rate_publisher(self.url("live/s"))
        wait_for(lambda: self.stream_origins(p).get(KEY) == live.server_id and self.stream_clients(p, KEY) >= 1,
                 timeout=20, what="the stream re-pinned to %s" % live.server_id)
        again = self.load.rtmp_players(self.rtmp_port, "s", 5)
        self.wait_all_receiving(again, 5, 20, "players of the re-published stream")

    def token_proxy(self):
        p = self.proxy(start=False, workers=2)
        self.rtmp_port = free_port()
        p.write_conf("rtmp { listen 127.0.0.1:%d; }" % self.rtmp_port, 2,
                     system_api="listen 127.0.0.1:%d; token %s;" % (p.api_port, TOKEN))
        p.proc = subprocess.Popen([BINARY, "-c", p.conf], env=p.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_for(lambda: p.proc.poll() is not None or p.api("GET", "/api/v1/versions", headers=(AUTH,),
                                                          timeout=2)[0] == 200,
                 what="system api with the token")
        self.assertIsNone(p.proc.poll(), "srs-proxy exited")
        return p

    def test_flood_of_bogus_registrations_with_a_token(self):
        p = self.token_proxy()
        p.wait_children(2)
        o1, o2 = self.origin("o1"), self.origin("o2")
        for o in (o1, o2):
            status, body = p.register(o.registration(), headers=(AUTH,))
            self.assertEqual(status, 200, body)
        beats = Heartbeats(p, [o1, o2], headers=(AUTH,), interval=0.5)
        beats.start()
        self.addCleanup(beats.stop.set)
        self.low_rate_publisher(self.url("live/s"))
        wait_for(lambda: p.api_json("GET", "/api/v1/streams", headers=(AUTH,))[1]["streams"], timeout=15,
                 what="the stream published")
        players = self.load.rtmp_players(self.rtmp_port, "s", 10)
        self.wait_all_receiving(players, 5, 30, "players receiving")

        # Bogus origins, half without a token, half with a wrong one.
        def request(i):
            body = json.dumps({"ip": "127.0.0.1", "server": "bogus%d" % i, "service": "x", "pid": "1",
                               "rtmp": ["1935"]}).encode()
            auth = b"Authorization: Bearer wrong\r\n" if i % 2 else b""
            return (b"POST /api/v1/srs/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
                    auth + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        t0 = time.monotonic()
        statuses = {}
        for i in range(2):  # two flavours, 2,500 requests each
            for status, n in self.load.http_flood(p.api_port, request(i), 2500, connections=32, seconds=60).items():
                statuses[status] = statuses.get(status, 0) + n
        took = time.monotonic() - t0
        mark = max(c.frames for c in players)
        self.report("5000 bogus registrations in %.1fs: %r; %d heartbeats meanwhile: %r" % (
            took, statuses, len(beats.statuses), sorted(set(beats.statuses))))
        self.assertEqual(statuses, {401: 5000})
        self.assertEqual(set(beats.statuses), {200})
        _, body = p.api_json("GET", "/api/v1/origins", headers=(AUTH,))
        self.assertEqual(sorted((o["server"], o["alive"]) for o in body["origins"]), [("o1", True), ("o2", True)])
        self.wait_all_receiving(players, mark + 10, 20, "players still receiving after the flood")
        # Each refusal was logged once, with the peer.
        wait_for(lambda: p.log().count("refused with 401: missing or wrong access token") >= 5000, timeout=10,
                 what="5000 refusals logged")
        self.assertRegex(p.log(), r"POST /api/v1/srs/register from 127\.0\.0\.1:\d+ refused with 401")


if __name__ == "__main__":
    main()
