"""RTMP through the proxy with real peers: ffmpeg publishes, ffprobe,
rtmpdump and ffmpeg play; the stream lands on the origin the registry names;
streams spread over origins while all clients of one stream share one;
stream parameters reach the origin; vhost= selects the stream key."""
import os
import subprocess

from harness import main, wait_for
from origins import play_frames, probe
from rtmp_client import Client
from rtmp_fixture import DEFAULT_VHOST, RtmpTestCase


class RtmpRelay(RtmpTestCase):
    def test_publish_then_play_with_ffprobe_rtmpdump_ffmpeg_and_directly(self):
        p = self.rtmp_proxy(workers=2)
        self.origin("o1", p)
        self.origin("o2", p)
        self.publisher(self.url("live/s"))
        key = DEFAULT_VHOST + "/live/s"
        self.wait_publishing(p, key)
        picked = self.origin_by_id(self.stream_origins(p)[key])

        self.assertEqual(wait_for(lambda: probe(self.url("live/s")), timeout=20, what="ffprobe"),
                         ["aac", "h264"])
        dump, out = self.rtmpdump(self.url("live/s"))
        frames = play_frames(self.url("live/s"), seconds=3)
        self.assertGreater(frames, 40)
        wait_for(lambda: os.path.getsize(out) > 50000, timeout=15, what="rtmpdump output")
        dump.kill()
        with open(out, "rb") as f:
            self.assertEqual(f.read(3), b"FLV")
        # Played directly from the origin the registry names, the stream is there...
        self.assertEqual(probe(picked.url("live/s")), ["aac", "h264"])
        # ...and not on the other one (nginx-rtmp accepts the play and sends nothing).
        other = next(o for o in self.origins if o is not picked)
        r = subprocess.run(["ffprobe", "-v", "error", "-rw_timeout", "1500000", other.url("live/s")],
                           capture_output=True, timeout=20)
        self.assertNotEqual(r.returncode, 0)
        log = p.log()
        self.assertIn("rtmp session end", log)
        self.assertRegex(log, r"session end peer=127\.0\.0\.1:\d+ play key=__defaultVhost__/live/s "
                              r"origin=o\d \(127\.0\.0\.1:\d+\) client_in=\d+ client_out=\d+")

    def test_fast_publishes_to_nginx_rtmp_run_to_their_end(self):
        """A 6 Mbit/s publisher with audio, through the proxy to nginx-rtmp,
        watched meanwhile: each publish runs its 3 s and ends cleanly. The
        proxy once changed its chunk size toward the origin when the relay
        started, with media already flowing; nginx-rtmp mis-reads a smaller
        chunk size when more bytes follow in the same read, and reset about
        two publishes in three ("RTMP in chunk stream too big")."""
        from origins import publish
        p = self.rtmp_proxy(workers=1)
        self.origin("o1", p)
        cbr = ("-b:v", "6M", "-minrate", "6M", "-maxrate", "6M", "-bufsize", "3M", "-x264-params", "nal-hrd=cbr")
        for i in range(4):
            pub = publish(self.url("live/fast%d" % i), seconds=3, extra=cbr)
            dump, _ = self.rtmpdump(self.url("live/fast%d" % i))
            _, err = pub.communicate(timeout=30)
            dump.kill()
            self.assertEqual(pub.returncode, 0, err.decode(errors="replace")[-2000:])
        self.assertNotIn("origin Connection reset", p.log())

    def test_streams_spread_and_players_of_one_stream_share_its_origin(self):
        p = self.rtmp_proxy(workers=2)
        self.origin("o1", p)
        self.origin("o2", p)
        self.publisher(self.url("live/a"))
        self.wait_publishing(p, DEFAULT_VHOST + "/live/a")
        self.publisher(self.url("live/b"))
        self.wait_publishing(p, DEFAULT_VHOST + "/live/b")
        pins = self.stream_origins(p)
        # Least-loaded picking puts the second stream on the other origin.
        self.assertNotEqual(pins[DEFAULT_VHOST + "/live/a"], pins[DEFAULT_VHOST + "/live/b"])
        players = [self.player(self.url("live/b")) for _ in range(3)]
        for pl in players:
            wait_for(lambda: pl.frames() > 25, timeout=20, what="frames at a player of b")
        for pl in players:
            pl.stop()
        self.players.clear()
        # nginx-rtmp logs each session when it ends: all three plays are on b's origin.
        home = self.origin_by_id(pins[DEFAULT_VHOST + "/live/b"])
        away = self.origin_by_id(pins[DEFAULT_VHOST + "/live/a"])
        wait_for(lambda: home.read_access_log().count('PLAY "live" "b"') == 3, timeout=10,
                 what="three plays of b in %s's access log" % home.server_id)
        self.assertNotIn('"b"', away.read_access_log())

    def test_stream_parameters_reach_the_origin_and_vhost_selects_the_key(self):
        p = self.rtmp_proxy(workers=1)
        o = self.origin("o1", p)
        pub = self.publisher(self.url("live/p?token=abc&x=1"), seconds=2)
        self.wait_publishing(p, DEFAULT_VHOST + "/live/p")
        pub.wait(timeout=30)
        wait_for(lambda: 'PUBLISH "live" "p" "token=abc&x=1"' in o.read_access_log(), timeout=10,
                 what="the stream arguments in nginx-rtmp's access log")
        # vhost= in the stream parameters...
        self.publisher(self.url("live/v?vhost=example.com"))
        self.wait_publishing(p, "example.com/live/v")
        # ...and in the tcUrl (the app part, SRS style).
        c = Client(self.rtmp_port)
        c.handshake()
        self.assertEqual(c.connect(self.url("live?vhost=tc.example.com"))[0], "_result")
        sid = c.create_stream()
        c.publish("w", stream_id=sid)
        self.assertEqual(c.wait_status()["code"], "NetStream.Publish.Start")
        self.assertIn("tc.example.com/live/w", self.stream_origins(p))
        c.close()
        # The origin saw the client's own connect properties (its flashVer).
        wait_for(lambda: 'PUBLISH "live" "w" "" - ' in o.read_access_log(), timeout=10,
                 what="w in the access log")
        self.assertRegex(o.read_access_log(), r'PUBLISH "live" "w" .*"LNX 9,0,124,2"')
        self.assertRegex(o.read_access_log(), r'PUBLISH "live" "p" .*"FMLE/3.0')


if __name__ == "__main__":
    main()
