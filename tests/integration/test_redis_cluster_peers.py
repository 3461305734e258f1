"""Proxies sharing one registry in a real redis-server, for SRT and WebRTC:
- SRT: two origins (srt_demux.SrtOrigin: srt-live-transmit listeners taking
  a publisher and serving players of one stream on one port); ffmpeg
  publishes through proxy C and plays through proxy A: the player decodes
  frames (the other origin has no publisher, so a player sent there gets
  none) and both proxies list the stream on the origin the publisher reached.
- WebRTC (aiortc peers, an aiortc WHIP/WHEP origin registered at A): WHIP
  through A and WHEP through B, the player decoding frames with B's UDP
  port as its only candidate; and a WHEP session signalled through A whose
  media is sent to B's UDP port instead of A's: B finds the session in
  Redis and relays it (ICE completes, frames arrive), A relays nothing.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid

from harness import ProxyTestCase, free_port, main, require, wait_for
from origins import FramePlayer
from redis_fixture import RedisServer
from srt_demux import SrtOrigin, udp_bound

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "rtc"))
import peers  # noqa: E402


def streams(p):
    status, body = p.api_json("GET", "/api/v1/streams")
    assert status == 200, (status, body)
    return {s["key"]: s for s in body["streams"]}


class RedisClusterPeers(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("ffmpeg", "srt-live-transmit", "redis-server"):
            require(tool)
        cls.tmp = tempfile.mkdtemp(prefix="sp-redis-peers-")
        cls.ts = os.path.join(cls.tmp, "testsrc.ts")
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
                        "-t", "10", "-c:v", "libx264", "-g", "25", "-preset", "ultrafast", "-f", "mpegts", cls.ts],
                       check=True, timeout=60)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.redis = RedisServer().start()
        self.addCleanup(self.redis.stop)
        self.prefix = "pe-%s:" % uuid.uuid4().hex[:8]

    def redis_proxy(self, listeners, workers=2):
        p = self.proxy("registry { backend redis; redis %s; redis_key_prefix %s; redis_timeout 2s; }\n%s"
                       % (self.redis.address, self.prefix, listeners), workers=workers)
        p.wait_children(workers)
        wait_for(lambda: p.api_json("GET", "/api/v1/versions")[1]["registry"].get("redis_reachable"),
                 timeout=10, what="proxy connected to redis")
        return p

    def spawn(self, cmd):
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def stop():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stderr.close()
        self.addCleanup(stop)
        return proc

    # ---- SRT ----

    def test_srt_publish_through_c_plays_through_a(self):
        origins = [SrtOrigin("srt-0"), SrtOrigin("srt-1")]
        for o in origins:
            self.addCleanup(o.stop)
        ports = {}
        proxies = {}
        for name in ("a", "c"):
            ports[name] = free_port()
            proxies[name] = self.redis_proxy("srt { listen 127.0.0.1:%d; connect_timeout 3s; }" % ports[name])
            wait_for(lambda: udp_bound(ports[name]), what="srt listener of proxy %s" % name)
        a, c = proxies["a"], proxies["c"]
        # Each origin registers at a different proxy; both are known to both.
        self.assertEqual(a.register(origins[0].registration())[0], 200)
        self.assertEqual(c.register(origins[1].registration())[0], 200)
        for p in (a, c):
            wait_for(lambda: len(p.api_json("GET", "/api/v1/origins")[1]["origins"]) == 2, timeout=3,
                     what="both origins on both proxies")
        pub = self.spawn(["ffmpeg", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", self.ts, "-c", "copy",
                          "-f", "mpegts", "srt://127.0.0.1:%d?streamid=#!::r=live/s,m=publish" % ports["c"]])
        key = "__defaultVhost__/live/s"
        wait_for(lambda: any(r == "p" for o in origins for r, _ in o.routes), timeout=10,
                 what="the publisher at an origin")
        home = next(o for o in origins if any(r == "p" for r, _ in o.routes))
        other = origins[1] if home is origins[0] else origins[0]
        wait_for(lambda: streams(c).get(key, {}).get("origin") == home.name, timeout=5,
                 what="the stream pinned at proxy C")
        player = FramePlayer("srt://127.0.0.1:%d?streamid=#!::r=live/s,m=request" % ports["a"])
        self.addCleanup(player.stop)
        wait_for(lambda: player.frames() > 25, timeout=20, what="the player through A decoding frames")
        self.assertIsNone(pub.poll(), "the publisher stopped")
        self.assertEqual([r for r, _ in home.routes].count("q"), 1, home.routes)
        self.assertEqual(other.routes, [], "the other origin was reached")
        for p in (a, c):
            self.assertEqual(streams(p)[key]["origin"], home.name)
        self.assertRegex(a.log(), r"srt session start: peer [^,]+, streamid \"#!::r=live/s,m=request\", key %s, "
                                  r"mode request, origin %s" % (re.escape(key), home.name))

    # ---- WebRTC ----

    def rtc_proxies(self):
        """Proxies A and B, each with an http_api and a webrtc listener; an
        aiortc origin registered at A only."""
        out = []
        for _ in range(2):
            http_port, udp_port = free_port(), free_port(socket.SOCK_DGRAM)
            p = self.redis_proxy("http_api { listen 127.0.0.1:%d; }\nwebrtc { listen 127.0.0.1:%d; idle_timeout 30s; }"
                                 % (http_port, udp_port))
            p.http_port, p.udp_port = http_port, udp_port
            out.append(p)
        origin = peers.Origin(free_port)
        self.addCleanup(origin.stop)
        status, reply = out[0].register(origin.registration())
        self.assertEqual(status, 200, reply)
        wait_for(lambda: len(out[1].api_json("GET", "/api/v1/origins")[1]["origins"]) == 1, timeout=3,
                 what="the origin known at B")
        return out[0], out[1], origin

    def url(self, p, kind, stream):
        return "http://127.0.0.1:%d/rtc/v1/%s/?app=live&stream=%s" % (p.http_port, kind, stream)

    def test_whip_through_a_and_whep_through_b(self):
        a, b, origin = self.rtc_proxies()
        pub = peers.client("publish", self.url(a, "whip", "cam"), seconds=10, background=True)
        wait_for(lambda: origin.stats()["frames_in"].get("live/cam", 0) > 10, timeout=20,
                 what="origin decoding the stream published through A")
        play = peers.client("play", self.url(b, "whep", "cam"), seconds=3)
        self.assertEqual(play["status"], 201, play)
        self.assertIn("completed", play["ice_states"])
        self.assertGreater(play["frames"], 0, play)
        for cand in play["candidates"]:
            self.assertIn(" 127.0.0.1 %d typ host" % b.udp_port, cand)
        b.wait_log("webrtc: session ")
        self.assertIn("whep", b.log())
        self.assertEqual(peers.finish(pub, 10)["status"], 201)
        for p in (a, b):
            self.assertEqual(streams(p)["__defaultVhost__/live/cam"]["origin"], "aiortc-origin")

    def test_media_to_b_of_a_session_signalled_through_a_is_relayed(self):
        a, b, origin = self.rtc_proxies()
        pub = peers.client("publish", self.url(a, "whip", "cross"), seconds=10, background=True)
        wait_for(lambda: origin.stats()["frames_in"].get("live/cross", 0) > 10, timeout=20,
                 what="origin decoding the published stream")
        pc = peers.client("play", self.url(a, "whep", "cross"), seconds=4, background=True,
                          candidate_port=b.udp_port)
        sdp = peers.early(pc)
        ufrag = re.search(r"a=ice-ufrag:(\S+)", sdp["answer"]).group(1)
        offer_ufrag = re.search(r"a=ice-ufrag:(\S+)", sdp["offer"]).group(1)
        sid = "%s:%s" % (ufrag, offer_ufrag)
        play = peers.finish(pc, 4)
        self.assertEqual(play["status"], 201, play)
        # The answer (from A) named A's port; the media went to B's.
        self.assertTrue(all(" 127.0.0.1 %d typ host" % a.udp_port in c for c in play["candidates"]), play)
        self.assertIn("completed", play["ice_states"])
        self.assertGreater(play["frames"], 0, play)
        self.assertRegex(b.log(), r"webrtc: session %s start, client 127\.0\.0\.1:\d+, stream __defaultVhost__/live/"
                                  r"cross, origin aiortc-origin" % re.escape(sid))
        self.assertNotIn("webrtc: session %s start" % sid, a.log())
        self.assertEqual(peers.finish(pub, 10)["status"], 201)


if __name__ == "__main__":
    main()
