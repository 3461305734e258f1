"""HLS through the proxy with real origins: two nginx + libnginx-mod-rtmp,
each fed by its own ffmpeg publisher and serving its HLS directory over HTTP.
Checks the spbhid rewrite, playback with ffmpeg, session stickiness (from the
origins' access logs), master playlists, redirects, unknown sessions and a new
viewer whose dead origin is marked down and whose playlist is retried on a live one."""
import os
import re
import subprocess

from harness import ProxyTestCase, free_port, main, require, wait_for
from http_peers import NginxOrigin, Publisher, ffprobe_streams


def uri_lines(playlist):
    return [l for l in playlist.splitlines() if l.strip() and not l.startswith("#")]


def session_id(playlist):
    ids = set(re.findall(r"spbhid=([0-9a-f]+)", playlist))
    return ids.pop() if len(ids) == 1 else None


class HttpHls(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.origins = [NginxOrigin("hls-a"), NginxOrigin("hls-b")]
        cls.pubs = [Publisher(o.rtmp_url("s")) for o in cls.origins]
        for o in cls.origins:
            wait_for(lambda: o.hls_ready("s", 3), timeout=30, what="HLS segments on %s" % o.name)
            # A master playlist next to the media one, as an origin with variants serves.
            with open(os.path.join(o.hls_dir, "master.m3u8"), "w") as f:
                f.write("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=320x240\ns.m3u8?quality=hi\n")

    @classmethod
    def tearDownClass(cls):
        for peer in cls.pubs + cls.origins:
            peer.stop()

    def start_proxy(self, origins, workers=2, extra_main=""):
        self.port = free_port()
        p = self.proxy(body="http_stream { listen 127.0.0.1:%d; }" % self.port, workers=workers,
                       extra_main=extra_main)
        for o in origins:
            status, body = p.register(o.registration())
            self.assertEqual(status, 200, body)
        return p

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def get(self, path, *args):
        """(status, headers text, body) of one GET through the proxy."""
        out = subprocess.run(["curl", "-sS", "-m", "10", "-D", "-", self.url(path)] + list(args),
                             capture_output=True, timeout=15)
        text = out.stdout.decode(errors="replace")
        head, _, body = text.partition("\r\n\r\n")
        m = re.match(r"HTTP/1\.1 (\d+)", head)
        return (int(m.group(1)) if m else 0), head, body

    def test_playlist_gets_one_spbhid_per_uri(self):
        self.start_proxy(self.origins[:1])
        o = self.origins[0]
        status, head, body = self.get("/live/s.m3u8?token=a&")
        self.assertEqual(status, 200, body)
        self.assertIn("Content-Type: application/vnd.apple.mpegurl", head)
        self.assertIn("Cache-Control: no-cache", head)
        self.assertIn("#EXTINF", body)
        sid = session_id(body)
        self.assertTrue(sid and len(sid) == 16, body)
        for line in uri_lines(body):
            self.assertEqual(line.count("spbhid="), 1, line)
            self.assertNotIn("&&", line)
            self.assertTrue(line.endswith("spbhid=" + sid), line)
        self.assertNotIn("&&", body)
        # The origin got the query (empty pieces dropped); a reload (same client, no
        # spbhid) keeps the session id.
        wait_for(lambda: any("GET /live/s.m3u8?token=a " in l for l in o.access_lines()), what="origin query")
        self.assertEqual(session_id(self.get("/live/s.m3u8?token=a&")[2]), sid)
        # A segment with the id comes from the origin, spbhid stripped.
        seg = uri_lines(body)[-1]
        status, head, data = self.get("/live/" + seg)
        self.assertEqual(status, 200)
        self.assertIn("Content-Type: video/mp2t", head)
        name = seg.split("?")[0]
        wait_for(lambda: any("GET /live/%s HTTP" % name in l for l in o.access_lines()), what="segment on origin")
        self.assertFalse(any("spbhid" in l for l in o.access_lines()))
        # A playlist reload through the session URL is rewritten the same way.
        status, _, again = self.get("/live/s.m3u8?spbhid=%s&token=b" % sid)
        self.assertEqual(status, 200)
        self.assertEqual(session_id(again), sid)
        wait_for(lambda: any("GET /live/s.m3u8?token=b " in l for l in o.access_lines()), what="reload query")

    def test_ffmpeg_plays_several_segments(self):
        p = self.start_proxy(self.origins[:1])
        codecs, err = ffprobe_streams(self.url("/live/s.m3u8"))
        self.assertIn("h264", codecs, err)
        self.assertIn("aac", codecs, err)
        require("ffmpeg")
        r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", self.url("/live/s.m3u8"), "-t", "6",
                            "-f", "null", "-"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        segs = re.findall(r"GET /live/s-\d+\.ts\?spbhid=[0-9a-f]+ 20[06]", p.log())
        self.assertGreaterEqual(len(segs), 4, p.log()[-2000:])

    def test_session_ids_are_random_and_kept_by_reloads(self):
        p = self.start_proxy(self.origins[:1], extra_main="registry { session_ttl 1s; }")

        def sid(ua):
            status, _, body = self.get("/live/s.m3u8", "-A", ua)
            self.assertEqual(status, 200, body)
            return session_id(body)
        first = sid("viewer-a")
        self.assertEqual(sid("viewer-a"), first)  # a reload keeps the session
        self.assertNotEqual(sid("viewer-b"), first)  # another viewer has its own
        # Once it expired, the same viewer gets a new, unrelated id: the id is
        # random, not derived from the viewer.
        # (Watched through the streams listing: a request would keep it alive.)
        def no_sessions():
            _, listing = p.api_json("GET", "/api/v1/streams")
            return all(s["clients"]["hls"] == 0 for s in listing["streams"])
        wait_for(no_sessions, timeout=10, what="sessions expired")
        self.assertEqual(self.get("/live/s-0.ts?spbhid=" + first)[0], 404)
        again = sid("viewer-a")
        self.assertNotEqual(again, first)
        self.assertEqual(sid("viewer-a"), again)
        self.assertIn("hls session %s started" % again, p.log())
        self.assertIn("hls session %s reused" % again, p.log())

    def test_sessions_stick_to_their_origin(self):
        p = self.start_proxy(self.origins)
        # Four viewers of four vhosts: four stream keys spread over both origins.
        sessions = {}
        for i in range(4):
            ua = "viewer-%d" % i
            host = "v%d.example.com" % i
            status, _, body = self.get("/live/s.m3u8", "-A", ua, "-H", "Host: " + host)
            self.assertEqual(status, 200, body)
            sessions[ua] = (host, body)
        for _ in range(2):
            for ua, (host, body) in sessions.items():
                for seg in uri_lines(body)[-3:]:
                    status, _, _ = self.get("/live/" + seg, "-A", ua, "-H", "Host: " + host)
                    self.assertEqual(status, 200, seg)
                # Reload, as a player does, with the URL it started with.
                status, _, body = self.get("/live/s.m3u8", "-A", ua, "-H", "Host: " + host)
                self.assertEqual(status, 200)
                sessions[ua] = (host, body)
        homes = {}
        for ua in sessions:
            hits = [sum(1 for l in o.access_lines() if '"%s"' % ua in l) for o in self.origins]
            # Every request of the session (playlists and 6+ segments) on one origin.
            self.assertEqual(min(hits), 0, (ua, hits))
            self.assertGreaterEqual(max(hits), 9, (ua, hits))
            homes[ua] = hits.index(max(hits))
        self.assertEqual(len(set(homes.values())), 2, homes)
        # Each viewer is one live HLS session of its stream in the streams listing.
        _, listing = p.api_json("GET", "/api/v1/streams")
        hls = {s["key"]: s["clients"]["hls"] for s in listing["streams"]}
        for i in range(4):
            self.assertEqual(hls.get("v%d.example.com/live/s" % i), 1, listing)

    def test_master_playlist_keeps_renditions_on_one_origin(self):
        self.start_proxy(self.origins[:1])
        status, _, master = self.get("/live/master.m3u8")
        self.assertEqual(status, 200, master)
        sid = session_id(master)
        self.assertEqual(uri_lines(master), ["s.m3u8?quality=hi&spbhid=" + sid])
        status, _, media = self.get("/live/" + uri_lines(master)[0])
        self.assertEqual(status, 200, media)
        self.assertEqual(session_id(media), sid)
        codecs, err = ffprobe_streams(self.url("/live/master.m3u8"))
        self.assertIn("h264", codecs, err)

    def test_redirects_are_followed_by_the_proxy(self):
        p = self.start_proxy(self.origins[:1])
        for path in ("/live/moved-s.m3u8", "/live/away-s.m3u8"):
            status, head, body = self.get(path)
            self.assertEqual(status, 200, body)
            self.assertIn("#EXTINF", body)
            self.assertTrue(session_id(body))
        p.wait_log("origin redirected the playlist")
        # Into another directory: relative segments follow it on the origin.
        o = self.origins[0]
        status, _, body = self.get("/live/deep-s.m3u8")
        self.assertEqual(status, 200, body)
        seg = uri_lines(body)[-1]
        status, head, _ = self.get("/live/" + seg)
        self.assertEqual(status, 200, seg)
        self.assertIn("Content-Type: video/mp2t", head)
        name = seg.split("?")[0]
        wait_for(lambda: any("GET /live/sub/%s " % name in l for l in o.access_lines()), what="segment in sub/")
        status, _, body = self.get("/live/loop-s.m3u8")
        self.assertEqual(status, 502, body)

    def test_dead_origin_is_marked_down_and_the_new_viewer_retried(self):
        p = self.start_proxy(self.origins[:1])
        live = self.origins[0]
        # A pin on the live origin (another vhost's stream), so the next new
        # stream goes to the dead one (fewest pins).
        status, _, body = self.get("/live/s.m3u8", "-H", "Host: other.example.com")
        self.assertEqual(status, 200, body)
        dead = live.registration("dead")
        dead_port = free_port()
        dead["http"] = [str(dead_port)]
        p.register(dead)
        # Its connect is refused: it is marked down, the stream moves and the
        # same playlist request is served by the live origin, whose session
        # then routes the segments.
        status, _, body = self.get("/live/s.m3u8", "-A", "retried-viewer")
        self.assertEqual(status, 200, body)
        sid = session_id(body)
        self.assertTrue(sid, body)
        self.assertIn("hls session %s started for __defaultVhost__/live/s on origin dead" % sid, p.log())
        self.assertIn("hls=%s retried on origin %s@" % (sid, live.name), p.log())
        seg = uri_lines(body)[-1]
        status, _, _ = self.get("/live/" + seg, "-A", "retried-viewer")
        self.assertEqual(status, 200, seg)
        wait_for(lambda: any('"retried-viewer"' in l and "GET /live/%s " % seg.split("?")[0] in l
                             for l in live.access_lines()), what="segment on the live origin")
        s = p.stream_entry("__defaultVhost__/live/s")
        self.assertEqual(s["origin"], live.name, s)
        self.assertEqual(s["clients"]["hls"], 1, s)
        o = p.origin_entry("dead")
        self.assertTrue(o["down"], o)
        self.assertIn("127.0.0.1:%d" % dead_port, o["down_reason"])
        self.assertIn("refused", o["down_reason"].lower())

    def test_unknown_session_and_missing_stream(self):
        self.start_proxy(self.origins[:1])
        status, _, body = self.get("/live/s-1.ts?spbhid=0123456789abcdef")
        self.assertEqual(status, 404)
        self.assertIn("unknown or expired HLS session", body)
        status, _, body = self.get("/live/nosuch.m3u8")
        self.assertEqual(status, 404, body)


    def test_requests_on_one_connection_share_no_state(self):
        # Each request has its own state, made when its head arrives: a
        # static 404 after a session's playlist and segment on the same
        # keep-alive connection names no origin and no session in its log.
        p = self.start_proxy(self.origins[:1], workers=1)
        status, _, body = self.get("/live/s.m3u8")
        self.assertEqual(status, 200, body)
        seg = uri_lines(body)[-1]  # the newest: still there when fetched
        sid = session_id(body)
        out = subprocess.run(["curl", "-sS", "-m", "10", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
                              "-w", "%{http_code} %{num_connects}\\n", self.url("/live/s.m3u8"),
                              self.url("/live/" + seg), self.url("/nothing-here.txt")],
                             capture_output=True, text=True, timeout=15)
        self.assertEqual(out.stdout.split(), ["200", "1", "200", "0", "404", "0"], out.stderr)
        line = p.wait_log(" GET /nothing-here.txt 404 ") and [
            l for l in p.log().splitlines() if " GET /nothing-here.txt 404 " in l][0]
        seg_line = [l for l in p.log().splitlines() if " GET /live/%s 200 " % seg in l][-1]
        # Same connection (same peer address and port), later request.
        peer = re.search(r"http: (\S+) GET /live/", seg_line).group(1)
        self.assertIn("http: %s GET /nothing-here.txt" % peer, line)
        self.assertIn("hls=" + sid, seg_line)
        self.assertIn("origin=-", line)
        self.assertNotIn("hls=", line)


if __name__ == "__main__":
    main()
