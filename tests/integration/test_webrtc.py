"""WebRTC through the proxy with real peers: an aiortc WHIP/WHEP origin
(tests/integration/rtc/aiortc_origin.py) registered through the system API,
aiortc clients publishing via WHIP and playing via WHEP (and SRS's JSON
signalling) through the proxy with two workers; DELETE through the proxy;
bad signalling and bad UDP input; NAT rebinding onto a live session; an
offer whose origin is dead retried on a live one."""
import os
import socket
import sys
import threading
import time

from harness import ProxyTestCase, curl, free_port, main, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "rtc"))
import peers  # noqa: E402
import stun_tool  # noqa: E402

OFFER_WITHOUT_UFRAG = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                       "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\n")


class WebRtc(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.origins = []

    def tearDown(self):
        for o in self.origins:
            o.stop()
        super().tearDown()

    def start(self, workers=2, no_candidates=False, idle="30s", extra_webrtc="", udp_host="127.0.0.1:"):
        self.http_port = free_port()
        self.udp_port = free_port(socket.SOCK_DGRAM)
        body = ("http_api { listen 127.0.0.1:%d; }\nwebrtc { listen %s%d; idle_timeout %s; %s }\n"
                % (self.http_port, udp_host, self.udp_port, idle, extra_webrtc))
        p = self.proxy(body=body, workers=workers)
        p.wait_children(workers)
        origin = peers.Origin(free_port, no_candidates=no_candidates)
        self.origins.append(origin)
        status, reply = p.register(origin.registration())
        self.assertEqual(status, 200, reply)
        return p, origin

    def url(self, kind, stream, app="live"):
        return "http://127.0.0.1:%d/rtc/v1/%s/?app=%s&stream=%s" % (self.http_port, kind, app, stream)

    def rtc_clients(self, p, key):
        status, body = p.api_json("GET", "/api/v1/streams")
        self.assertEqual(status, 200)
        for s in body["streams"]:
            if s["key"] == key:
                return s["clients"]["rtc"]
        return None

    def assert_only_proxy_candidate(self, result):
        self.assertTrue(result["candidates"], result)
        for c in result["candidates"]:
            self.assertIn(" 127.0.0.1 %d typ host" % self.udp_port, c)

    def test_whip_publish_and_whep_play_through_two_workers(self):
        p, origin = self.start(workers=2)
        workers = p.workers()
        pub = peers.client("publish", self.url("whip", "cam1"), seconds=9, background=True)
        wait_for(lambda: origin.stats()["frames_in"].get("live/cam1", 0) > 10, timeout=20,
                 what="origin decoding the published track")
        # The live session is listed with the stream.
        wait_for(lambda: self.rtc_clients(p, "__defaultVhost__/live/cam1") == 1, timeout=5,
                 what="rtc client count 1 in /api/v1/streams")
        play = peers.client("play", self.url("whep", "cam1"), seconds=3, delete=True)
        self.assertEqual(play["status"], 201, play)
        self.assertIn("completed", play["ice_states"])
        self.assertGreater(play["frames"], 0, play)
        self.assert_only_proxy_candidate(play)
        # DELETE through the proxy reached the origin and ended the relay session.
        self.assertEqual(play["delete_status"], 200, play)
        self.assertIn("spsid=", play["location"])
        self.assertTrue(play["location"].startswith("http://127.0.0.1:%d/rtc/v1/whep/" % self.http_port))
        self.assertEqual(len(origin.stats()["deleted"]), 1)
        p.wait_log("reason: session deleted")
        pub_result = peers.finish(pub, 9)
        self.assertEqual(pub_result["status"], 201, pub_result)
        self.assertIn("completed", pub_result["ice_states"])
        self.assert_only_proxy_candidate(pub_result)
        self.assertEqual(p.workers(), workers, "a worker died")

    def test_wildcard_udp_listener(self):
        # As in the default configuration ("listen 8000;"): session sockets bind
        # the address each client sent to (IP_PKTINFO), here 127.0.0.1.
        p, origin = self.start(workers=2, udp_host="")
        pub = peers.client("publish", self.url("whip", "wild"), seconds=6, background=True)
        wait_for(lambda: origin.stats()["frames_in"].get("live/wild", 0) > 5, timeout=20, what="publishing")
        play = peers.client("play", self.url("whep", "wild"), seconds=2)
        self.assertGreater(play["frames"], 0, play)
        self.assert_only_proxy_candidate(play)
        self.assertEqual(peers.finish(pub, 6)["status"], 201)

    def test_srs_json_signalling(self):
        p, origin = self.start(workers=2)
        api = "http://127.0.0.1:%d/rtc/v1/publish/" % self.http_port
        pub = peers.client("publish", api, seconds=7, json_url="webrtc://127.0.0.1/live/json1", background=True)
        wait_for(lambda: origin.stats()["frames_in"].get("live/json1", 0) > 5, timeout=20,
                 what="origin decoding the JSON-signalled publish")
        play = peers.client("play", "http://127.0.0.1:%d/rtc/v1/play/" % self.http_port, seconds=3,
                            json_url="webrtc://127.0.0.1/live/json1")
        self.assertEqual(play["status"], 200, play)
        self.assertGreater(play["frames"], 0, play)
        self.assert_only_proxy_candidate(play)
        self.assertEqual(peers.finish(pub, 7)["status"], 200)

    def test_bad_signalling(self):
        p, origin = self.start(workers=1)
        status, body = curl(self.url("whip", "bad"), method="POST", data=OFFER_WITHOUT_UFRAG,
                            headers=("Content-Type: application/sdp",))
        self.assertEqual(status, 400, body)
        self.assertIn("ice-ufrag", body)
        status, body = curl("http://127.0.0.1:%d/rtc/v1/whip/?app=live" % self.http_port, method="POST",
                            data=OFFER_WITHOUT_UFRAG)
        self.assertEqual(status, 400, body)
        self.assertIn("stream", body)
        status, body = curl("http://127.0.0.1:%d/rtc/v1/publish/" % self.http_port, method="POST", data="{nope")
        self.assertEqual(status, 400, body)
        status, body = curl("http://127.0.0.1:%d/rtc/v1/whip/?app=live&stream=x&spsid=nope" % self.http_port,
                            method="DELETE")
        self.assertEqual(status, 404, body)
        status, _ = curl(self.url("whip", "x"), method="OPTIONS", headers=("Origin: http://a.example",))
        self.assertEqual(status, 200)
        status, body = curl("http://127.0.0.1:%d/api/v1/versions" % self.http_port)
        self.assertEqual(status, 200)
        self.assertIn("srs-proxy", body)

    def test_silent_origin_and_impatient_client(self):
        # An origin api that accepts and never answers: 502 after connect_timeout,
        # and a client leaving before that does not hurt the worker.
        self.http_port = free_port()
        self.udp_port = free_port(socket.SOCK_DGRAM)
        silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        self.addCleanup(silent.close)
        p = self.proxy(body="http_api { listen 127.0.0.1:%d; connect_timeout 1s; }\n"
                       "webrtc { listen 127.0.0.1:%d; }\n" % (self.http_port, self.udp_port), workers=1)
        p.wait_children(1)
        workers = p.workers()
        status, reply = p.register({"ip": "127.0.0.1", "server": "silent", "service": "s", "pid": "1",
                                    "rtmp": ["1935"], "api": ["%d" % silent.getsockname()[1]],
                                    "rtc": ["udp://127.0.0.1:9"]})
        self.assertEqual(status, 200, reply)
        with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "rtc",
                               "aiortc_offer.sdp")) as f:
            offer = f.read()
        for _ in range(3):  # clients that give up before the origin times out
            curl(self.url("whip", "slow"), method="POST", data=offer, timeout=0.3)
        t0 = time.monotonic()
        status, body = curl(self.url("whip", "slow"), method="POST", data=offer)
        self.assertEqual(status, 502, body)
        self.assertIn("did not answer", body)
        self.assertLess(time.monotonic() - t0, 5)
        # Passive health: the unanswered signalling marked the origin down.
        _, origins = p.api_json("GET", "/api/v1/origins")
        o = origins["origins"][0]
        self.assertTrue(o["down"], o)
        self.assertIn("webrtc signalling to silent at 127.0.0.1:%d" % silent.getsockname()[1], o["down_reason"])
        # (libevent 2.1 notices the early leavers only when it writes the 502.)
        self.assertEqual(p.workers(), workers)

    def test_dead_origin_is_marked_down_and_the_offer_retried(self):
        p, origin = self.start(workers=1)
        # A pin on the live origin (an offer it answered), so the next new
        # stream goes to the dead one (fewest pins).
        with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "rtc",
                               "aiortc_offer.sdp")) as f:
            offer = f.read()
        status, body = curl(self.url("whip", "pinned"), method="POST", data=offer,
                            headers=("Content-Type: application/sdp",))
        self.assertEqual(status, 201, body)
        dead_port = free_port()
        status, reply = p.register({"ip": "127.0.0.1", "server": "dead", "service": "s", "pid": "1",
                                    "rtmp": ["1935"], "api": ["127.0.0.1:%d" % dead_port],
                                    "rtc": ["udp://127.0.0.1:9"]})
        self.assertEqual(status, 200, reply)
        # Its connect is refused: it is marked down, the stream moves and the
        # same offer is answered by the live origin, whose media then flows.
        pub = peers.client("publish", self.url("whip", "moved"), seconds=3)
        self.assertEqual(pub["status"], 201, pub)
        self.assertIn("completed", pub["ice_states"])
        self.assert_only_proxy_candidate(pub)
        wait_for(lambda: origin.stats()["frames_in"].get("live/moved", 0) > 0, timeout=5,
                 what="the live origin decoding the retried publish")
        p.wait_log("webrtc api: origin dead at 127.0.0.1:%d did not answer; whip __defaultVhost__/live/moved" % dead_port)
        p.wait_log("retried on origin aiortc-origin at 127.0.0.1:%d" % origin.port)
        s = p.stream_entry("__defaultVhost__/live/moved")
        self.assertEqual(s["origin"], "aiortc-origin", s)
        o = p.origin_entry("dead")
        self.assertTrue(o["down"], o)
        self.assertIn("webrtc signalling to dead at 127.0.0.1:%d" % dead_port, o["down_reason"])

    def test_origin_answer_too_large_is_502_and_not_buffered(self):
        # An origin api that answers 201 and then streams a body without end
        # (and one that announces 100 MB): the worker reads at most 256 KiB of
        # an answer, so it neither grows nor keeps reading.
        self.http_port = free_port()
        self.udp_port = free_port(socket.SOCK_DGRAM)
        endless = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        endless.bind(("127.0.0.1", 0))
        endless.listen(16)
        self.addCleanup(endless.close)
        sent = []

        def serve():
            while True:
                try:
                    conn, _ = endless.accept()
                except OSError:
                    return
                conn.recv(65536)
                total = 0
                try:
                    if len(sent) % 2:
                        conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Type: application/sdp\r\n"
                                     b"Content-Length: 100000000\r\n\r\n")
                    else:
                        conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Type: application/sdp\r\n"
                                     b"Connection: close\r\n\r\n")
                    block = b"a=x-filler:" + b"y" * 65000 + b"\r\n"
                    while total < 64 * 1024 * 1024:
                        conn.sendall(block)
                        total += len(block)
                except OSError:
                    pass
                sent.append(total)
                conn.close()

        threading.Thread(target=serve, daemon=True).start()
        p = self.proxy(body="http_api { listen 127.0.0.1:%d; connect_timeout 5s; }\n"
                       "webrtc { listen 127.0.0.1:%d; }\n" % (self.http_port, self.udp_port), workers=1)
        p.wait_children(1)
        worker = p.workers()[0]
        status, reply = p.register({"ip": "127.0.0.1", "server": "endless", "service": "s", "pid": "1",
                                    "rtmp": ["1935"], "api": ["%d" % endless.getsockname()[1]],
                                    "rtc": ["udp://127.0.0.1:9"]})
        self.assertEqual(status, 200, reply)
        with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "rtc",
                               "aiortc_offer.sdp")) as f:
            offer = f.read()
        for i in range(2):
            status, body = curl(self.url("whip", "big%d" % i), method="POST", data=offer)
            self.assertEqual(status, 502, body)
            self.assertIn("answered with more than 256 KiB of body", body)
        wait_for(lambda: len(sent) == 2, what="the origin's sends ended")
        # The proxy stopped reading: far less than the 64 MiB the origin tried to send.
        self.assertLess(max(sent), 16 * 1024 * 1024, sent)
        self.assertEqual(p.workers(), [worker])

    def test_configured_candidate_address(self):
        p, origin = self.start(workers=1, extra_webrtc="candidate 192.0.2.77;")
        with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "rtc",
                               "aiortc_offer.sdp")) as f:
            offer = f.read()
        status, body = curl(self.url("whip", "cand"), method="POST", data=offer,
                            headers=("Content-Type: application/sdp",))
        self.assertEqual(status, 201, body)
        cands = [l for l in body.splitlines() if l.startswith("a=candidate:")]
        self.assertTrue(cands, body)
        for c in cands:
            self.assertIn(" 192.0.2.77 %d typ host" % self.udp_port, c)

    def test_origin_answer_without_candidates_is_502(self):
        p, origin = self.start(workers=1, no_candidates=True)
        result = peers.client("publish", self.url("whip", "nocand"), seconds=0)
        self.assertEqual(result["status"], 502, result)
        self.assertIn("candidate", result["body"])

    def test_bad_udp_input_and_nat_rebinding(self):
        p, origin = self.start(workers=2, idle="30s")
        workers = p.workers()
        target = ("127.0.0.1", self.udp_port)
        junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        good = stun_tool.binding_request("abcd:efgh")
        datagrams = [b"", b"\x00", os.urandom(200), b"\x80" + os.urandom(100),  # RTP from nobody
                     good[:19], good[:30], good[:-4] + b"\0\0\0\0",             # truncated, bad fingerprint
                     good,                                                      # unknown USERNAME
                     b"\x00\x01" + os.urandom(1400), b"\x00" * 9000, os.urandom(60000)]  # oversized
        for d in datagrams * 3:
            junk.sendto(d, target)
        junk.close()
        p.wait_log("webrtc: dropped")
        # A good session still works, and a client moving to new addresses
        # (NAT rebinding) is answered on each of them, whichever worker reads it.
        pub = peers.client("publish", self.url("whip", "cam2"), seconds=12, background=True)
        wait_for(lambda: origin.stats()["frames_in"].get("live/cam2", 0) > 5, timeout=20,
                 what="publish after bad input")
        pc = peers.client("play", self.url("whep", "cam2"), seconds=6, background=True)
        sdp = peers.early(pc)
        sid = "%s:%s" % (stun_tool.sdp_attr(sdp["answer"], "ice-ufrag"), stun_tool.sdp_attr(sdp["offer"], "ice-ufrag"))
        pwd = stun_tool.sdp_attr(sdp["answer"], "ice-pwd")
        wait_for(lambda: "webrtc: session %s start" % sid in p.log(), what="whep relay session")
        # A wrong MESSAGE-INTEGRITY cannot take the session over.
        spoof = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        spoof.settimeout(0.5)
        spoof.sendto(stun_tool.binding_request(sid, "x" * 22), target)
        with self.assertRaises(socket.timeout):
            spoof.recvfrom(2048)
        spoof.close()
        # New client addresses with the right credentials are answered by the
        # origin through the proxy, whichever worker reads their first packet.
        for _ in range(6):
            moved = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            moved.settimeout(3)
            txid = os.urandom(12)
            moved.sendto(stun_tool.binding_request(sid, pwd, txid), target)
            data, src = moved.recvfrom(2048)
            self.assertEqual(src, target)
            self.assertTrue(stun_tool.is_binding_success(data, txid), data)
            moved.close()
        play = peers.finish(pc, 6)
        self.assertGreater(play["frames"], 0, play)
        self.assertEqual(p.workers(), workers, "a worker died on bad input")
        peers.finish(pub, 12)


if __name__ == "__main__":
    main()
