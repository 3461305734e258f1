"""Scale, the ctest-sized version of bench/scale (issue 17): the project's
load client (sp_loadclient, one process, one socket per player) plays 400
players, RTMP and HTTP-FLV mixed, over 20 streams through the proxy, and
every one receives media and still receives it at the end; then a flash
crowd of 200 players starting within one second, every one of which gets
its first media byte within 5 s (RTMP players wait up to a GOP, 1 s, for the
origin's next keyframe; the rest is margin for a loaded CI machine).

Origins as in bench/scale: nginx-rtmp fed by one ffmpeg (tee muxer, -c copy
of a small pre-encoded clip) for the 20 RTMP streams, and
fanout_flv_origin.py for HTTP-FLV. The full-size figures (10,000 players,
5,000 in a second, against nginx stream) are bench/scale's.
"""
import json
import os
import shutil
import subprocess
import tempfile

from harness import ProxyTestCase, free_port, main, require, wait_for
from origins import NginxRtmp
from stress_fixture import FanoutFlvOrigin, raise_nofile

BUILD = os.environ.get("SP_BUILD_DIR", "objs")
LOADCLIENT = os.path.join(BUILD, "sp_loadclient")
STREAMS = 20
PLAYERS = 400
CROWD = 200


class Scale(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.assertTrue(os.path.exists(LOADCLIENT), "%s not built" % LOADCLIENT)
        self.assertGreaterEqual(raise_nofile(), 4 * PLAYERS)
        self.work = tempfile.mkdtemp(prefix="sp-scale-")
        self.addCleanup(shutil.rmtree, self.work, True)

    def clients(self, rtmp_port, http_port, players, ramp_ms, seconds, media_timeout_ms):
        p = subprocess.run([LOADCLIENT, "--rtmp-port", str(rtmp_port), "--http-port", str(http_port),
                            "--players", str(players), "--streams", str(STREAMS), "--http-ratio", "0.5",
                            "--ramp-ms", str(ramp_ms), "--seconds", str(seconds),
                            "--media-timeout-ms", str(media_timeout_ms), "--recent-ms", "2000"],
                           capture_output=True, text=True, timeout=ramp_ms / 1000 + seconds + 30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def test_players_through_the_proxy_and_a_flash_crowd(self):
        origin = NginxRtmp(events="worker_connections 4096;")
        self.addCleanup(origin.stop)
        flv = FanoutFlvOrigin(bitrate="64k")
        self.addCleanup(flv.stop)
        clip = os.path.join(self.work, "clip.flv")
        subprocess.run([require("ffmpeg"), "-nostdin", "-v", "error", "-y", "-f", "lavfi",
                        "-i", "testsrc=size=160x120:rate=10", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast",
                        "-g", "10", "-b:v", "64k", "-an", "-f", "flv", clip], check=True, timeout=60)
        outs = "|".join("[f=flv:onfail=ignore]%s" % origin.url("live/stream%d" % k) for k in range(STREAMS))
        pub = subprocess.Popen([require("ffmpeg"), "-nostdin", "-v", "error", "-re", "-stream_loop", "-1",
                                "-i", clip, "-map", "0", "-c", "copy", "-f", "tee", outs],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (pub.kill(), pub.wait()))

        # Every stream is live at the origins: one player of each on each protocol.
        def all_live():
            r = self.clients(origin.port, flv.port, 2 * STREAMS, 0, 2, 2000)
            return r["received_media"] == 2 * STREAMS
        wait_for(all_live, timeout=30, interval=0.2, what="%d streams live at the origins" % STREAMS)

        rtmp_port, http_port = free_port(), free_port()
        proxy = self.proxy(body="rtmp { listen 127.0.0.1:%d; }\nhttp_stream { listen 127.0.0.1:%d; }"
                                % (rtmp_port, http_port),
                           workers=2, extra_main="worker_connections %d;" % (PLAYERS + 100))
        proxy.wait_children(2)
        reg = origin.registration()
        reg["http"] = [str(flv.port)]
        status, body = proxy.register(reg)
        self.assertEqual(status, 200, body)

        r = self.clients(rtmp_port, http_port, PLAYERS, 2000, 6, 5000)
        print("SCALE: %d players: %s" % (PLAYERS, json.dumps(r)))
        self.assertEqual(r["failures"], {})
        self.assertEqual(r["received_media"], PLAYERS)
        self.assertEqual(r["rtmp_received_media"], PLAYERS // 2)
        self.assertEqual(r["http_received_media"], PLAYERS // 2)
        self.assertEqual(r["receiving_at_end"], PLAYERS, "players that stopped receiving media")

        # Flash crowd: all within one second, each first media byte within 5 s.
        r = self.clients(rtmp_port, http_port, CROWD, 1000, 4, 5000)
        print("SCALE: flash crowd of %d: %s" % (CROWD, json.dumps(r)))
        self.assertEqual(r["failures"], {})
        self.assertEqual(r["received_media"], CROWD)
        self.assertLess(r["first_media_ms"]["max"], 5000)


if __name__ == "__main__":
    main()
