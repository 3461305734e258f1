"""SRT proxy with real peers: srt-live-transmit as the origin (a listener
writing what it receives to a file, or a listener serving a looping MPEG-TS),
registered through the system API; ffmpeg publishing and ffprobe playing
through the proxy. Covers every streamid form, the passphrase per hop, and the
rejections (malformed streamid, no origin) with the worker serving others
afterwards, a caller retried on a live origin when its origin's connect
failed, and sessions kept through reloads.

ffmpeg 5.1 does not percent-decode `streamid=` in an srt:// URL, so the
streamid is written raw ('#', ':' and ',' pass through its URL parser)."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

from harness import Proxy, ProxyTestCase, free_port, main, require, wait_for

TS_PACKET = 188


def udp_bound(port):
    """True once some process has a UDP socket bound to `port` (any address)."""
    needle = ":%04X " % port
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                next(f)
                if any(line.split()[1].endswith(needle.strip()) for line in f):
                    return True
        except OSError:
            continue
    return False


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ts_packets(data):
    """Number of whole TS packets in `data`, or -1 if a sync byte is missing."""
    whole = len(data) // TS_PACKET
    for i in range(whole):
        if data[i * TS_PACKET] != 0x47:
            return -1
    return whole


def srt_url(port, streamid=None, **params):
    query = []
    if streamid is not None:
        query.append("streamid=" + streamid)
    query += ["%s=%s" % kv for kv in params.items()]
    return "srt://127.0.0.1:%d%s" % (port, ("?" + "&".join(query)) if query else "")


class SrtTest(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("ffmpeg", "ffprobe", "srt-live-transmit", "curl"):
            require(tool)
        cls.tmp = tempfile.mkdtemp(prefix="sp-srt-")
        cls.ts = os.path.join(cls.tmp, "testsrc.ts")
        # One-second GOPs so a player joining mid-stream finds a keyframe soon.
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "testsrc=size=320x240:rate=25", "-t", "10", "-c:v", "libx264", "-g", "25",
                        "-preset", "ultrafast", "-f", "mpegts", cls.ts], check=True, timeout=60)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---- peers ----

    def spawn(self, cmd, **kwargs):
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.Popen(cmd, **kwargs)

        def stop():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for pipe in (proc.stdout, proc.stderr):
                if pipe:
                    pipe.close()
        self.addCleanup(stop)
        return proc

    def sink_origin(self, passphrase=None):
        """srt-live-transmit listening for one publisher at a time, writing
        what it receives to a file. Returns (port, path of the file)."""
        port = free_port()
        path = os.path.join(self.tmp, "sink-%d.ts" % port)
        params = {"mode": "listener"}
        if passphrase:
            params["passphrase"] = passphrase
        out = open(path, "wb")
        self.addCleanup(out.close)
        self.spawn(["srt-live-transmit", "-q", srt_url(port, **params), "file://con"], stdout=out,
                   stderr=subprocess.DEVNULL)
        wait_for(lambda: udp_bound(port), what="srt origin on udp %d" % port)
        return port, path

    def ts_origin(self):
        """srt-live-transmit listening for a player, serving a looping TS fed
        to it over UDP by ffmpeg in real time. Returns the SRT port."""
        port, feed = free_port(), free_port()
        self.spawn(["srt-live-transmit", "-q", "udp://127.0.0.1:%d" % feed,
                    srt_url(port, mode="listener")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: udp_bound(port) and udp_bound(feed), what="srt ts origin on udp %d" % port)
        self.spawn(["ffmpeg", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", self.ts, "-c", "copy",
                    "-f", "mpegts", "udp://127.0.0.1:%d?pkt_size=1316" % feed],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return port

    def srt_proxy(self, extra=""):
        port = free_port()
        p = self.proxy(body="srt { listen 127.0.0.1:%d; connect_timeout 2s; %s }" % (port, extra))
        p.wait_children(2)
        p.wait_log("srt listening on 127.0.0.1:%d" % port)
        return p, port

    def register(self, p, srt_port, server="srt-origin"):
        status, body = p.register({"ip": "127.0.0.1", "server": server, "service": "svc-1", "pid": "4242",
                                   "rtmp": ["1935"], "srt": ["udp://0.0.0.0:%d" % srt_port]})
        self.assertEqual(status, 200, body)

    def publish(self, url, seconds=3):
        return subprocess.run(["ffmpeg", "-loglevel", "error", "-re", "-i", self.ts, "-t", str(seconds),
                               "-c", "copy", "-f", "mpegts", url], capture_output=True, text=True, timeout=30)

    def publish_in_background(self, url, seconds=4):
        return self.spawn(["ffmpeg", "-loglevel", "error", "-re", "-i", self.ts, "-t", str(seconds), "-c", "copy",
                           "-f", "mpegts", url], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def caller(self, url):
        """srt-live-transmit as a publishing caller that does not retry; its
        stderr names libsrt's rejection."""
        with open(self.ts, "rb") as f:
            data = f.read(200000)
        return subprocess.run(["srt-live-transmit", "-a", "no", "-t", "5", "file://con", url], input=data,
                              capture_output=True, timeout=30)

    def size(self, path):
        return os.path.getsize(path)

    def assert_ts_arrived(self, path, more_than=0):
        def enough():
            with open(path, "rb") as f:
                data = f.read()
            n = ts_packets(data)
            self.assertNotEqual(n, -1, "TS sync byte missing at the origin")
            return len(data) > more_than and n > 50
        wait_for(enough, timeout=10, what="TS bytes at the origin (%s)" % path)

    # ---- tests ----

    def test_publish_with_each_streamid_form_reaches_the_origin(self):
        p, port = self.srt_proxy()
        origin, sink = self.sink_origin()
        self.register(p, origin)
        forms = ["#!::r=live/s,m=publish", "#!::h=live/s", "live/s"]
        for streamid in forms:
            before = self.size(sink)
            proc = self.publish_in_background(srt_url(port, streamid), seconds=3)
            # Bytes arrive while the publisher is still sending: the size grows.
            wait_for(lambda: self.size(sink) > before + 20000, timeout=10,
                     what="origin file growing for %s" % streamid)
            self.assertEqual(proc.wait(timeout=20), 0, proc.stderr.read().decode(errors="replace"))
            self.assert_ts_arrived(sink, before)
        log = p.log()
        for streamid in forms:
            self.assertIn('streamid "%s", key __defaultVhost__/live/s' % streamid, log)
        self.assertIn("mode publish", log)
        wait_for(lambda: p.log().count("srt session end:") >= 3, what="three session end lines")
        ends = [l for l in p.log().splitlines() if "srt session end:" in l]
        for line in ends:
            self.assertRegex(line, r"bytes client->origin [1-9]\d+ origin->client \d+")
            self.assertIn("lost ", line)
            self.assertIn("retrans ", line)
            self.assertIn("reason: ", line)

    def test_the_srt_worker_does_not_spin(self):
        # libsrt's receiver thread spun at 100% CPU on the master's
        # non-blocking UDP socket; a relay at a few Mbit/s costs far less.
        p, port = self.srt_proxy()
        origin, sink = self.sink_origin()
        self.register(p, origin)
        line = next(l for l in p.log().splitlines() if "srt listening on" in l)
        worker = int(line.split("][")[2])
        proc = self.publish_in_background(srt_url(port, "live/cpu"), seconds=4)
        wait_for(lambda: self.size(sink) > 20000, what="bytes flowing")
        t0, cpu0 = time.monotonic(), cpu_seconds(worker)
        time.sleep(2)  # measuring an interval, not waiting for a condition
        used = (cpu_seconds(worker) - cpu0) / (time.monotonic() - t0)
        self.assertLess(used, 0.3, "SRT worker used %.0f%% of a core" % (used * 100))
        proc.wait(timeout=20)

    def test_play_through_the_proxy_finds_h264(self):
        p, port = self.srt_proxy()
        self.register(p, self.ts_origin())
        out = subprocess.run(["ffprobe", "-v", "quiet", "-show_entries", "stream=codec_name", "-of", "csv=p=0",
                              srt_url(port, "#!::r=live/play,m=request")],
                             capture_output=True, text=True, timeout=40)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("h264", out.stdout)
        wait_for(lambda: "srt session end:" in p.log(), what="session end line")
        self.assertRegex(p.log(), r"mode request.*\n(.*\n)*.*origin->client [1-9]\d+")

    def test_passphrase_right_one_works_wrong_one_is_rejected(self):
        secret = "correct-horse-42"
        p, port = self.srt_proxy('passphrase "%s";' % secret)
        origin, sink = self.sink_origin(passphrase=secret)
        self.register(p, origin)
        # Wrong passphrase, and none at all: libsrt refuses the handshake.
        for params in ({"passphrase": "wrong-horse-000"}, {}):
            r = self.caller(srt_url(port, "live/enc", **params))
            self.assertIn(b"REJECT", r.stderr, r.stderr)
        self.assertEqual(self.size(sink), 0)
        self.assertNotIn("srt session start", p.log())
        # The right one works end to end: decrypted and re-encrypted per hop.
        r = self.publish(srt_url(port, "live/enc", passphrase=secret))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_ts_arrived(sink)

    def test_rejections_then_the_worker_keeps_serving(self):
        p, port = self.srt_proxy()
        workers = set(p.workers())
        # No origin registered: unavailable.
        r = self.caller(srt_url(port, "#!::r=live/none,m=publish"))
        self.assertIn(b"REJECT", r.stderr, r.stderr)
        p.wait_log("rejected with 1503 (service unavailable)")
        self.assertRegex(p.log(), r"srt caller 127\.0\.0\.1:\d+ \(streamid \"#!::r=live/none,m=publish\"\) "
                                  r"rejected with 1503")
        r = self.publish(srt_url(port, "#!::r=live/none,m=publish"), seconds=1)
        self.assertNotEqual(r.returncode, 0)
        # Malformed streamids: bad request.
        for bad in ("#!::m=publish", "#!::r=live/x,r=live/y"):
            r = self.caller(srt_url(port, bad))
            self.assertIn(b"REJECT", r.stderr, r.stderr)
        wait_for(lambda: p.log().count("rejected with 1400 (bad request)") >= 2, what="two bad requests logged")
        self.assertIn("streamid has no resource", p.log())
        self.assertIn("streamid repeats key r", p.log())
        # The same worker still serves a good caller.
        origin, sink = self.sink_origin()
        self.register(p, origin)
        r = self.publish(srt_url(port, "#!::r=live/good,m=publish"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_ts_arrived(sink)
        self.assertEqual(set(p.workers()), workers)

    def test_origin_that_does_not_answer_closes_the_client_with_a_reason(self):
        p, port = self.srt_proxy()
        dead_port = free_port()
        self.register(p, dead_port)  # registered, but nothing listens there
        r = self.caller(srt_url(port, "live/dead"))
        p.wait_log("origin connect failed", timeout=10)
        self.assertRegex(p.log(), r"srt session end: .*key __defaultVhost__/live/dead.*reason: origin connect failed")
        # Passive health: the failed connect marked the origin down, for every worker.
        _, body = p.api_json("GET", "/api/v1/origins")
        o = body["origins"][0]
        self.assertTrue(o["down"], o)
        self.assertIn("srt to 127.0.0.1:%d: origin connect failed" % dead_port, o["down_reason"])

    def test_origin_whose_connect_fails_is_marked_down_and_the_caller_retried(self):
        # A nothing-on-the-port origin fails only when connect_timeout ends,
        # leaving no time to retry (the test above); an origin whose libsrt
        # refuses the handshake (it wants a passphrase the proxy has not: not
        # a refusal by its application) fails at once, and the caller is
        # reconnected to the origin the stream moved to.
        p, port = self.srt_proxy()
        origin, sink = self.sink_origin()
        self.register(p, origin)
        # A pin on the live origin, so the next new stream goes to the locked one (fewest pins).
        self.caller(srt_url(port, "live/other"))
        p.wait_log("srt origin srt-origin 127.0.0.1:%d connected" % origin)
        p.wait_log("srt session end: peer")
        pinned = self.size(sink)
        locked, locked_sink = self.sink_origin(passphrase="locked-origin-42")
        self.register(p, locked, server="locked")
        r = self.publish(srt_url(port, "live/s"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_ts_arrived(sink, more_than=pinned)
        self.assertEqual(self.size(locked_sink), 0)
        self.assertRegex(p.log(), r"srt origin locked 127\.0\.0\.1:%d failed \(origin connect failed: .*\); caller "
                         r"127\.0\.0\.1:\d+ key=__defaultVhost__/live/s retried on origin srt-origin" % locked)
        s = p.stream_entry("__defaultVhost__/live/s")
        self.assertEqual(s["origin"], "srt-origin", s)
        o = p.origin_entry("locked")
        self.assertTrue(o["down"], o)
        self.assertIn("srt to 127.0.0.1:%d: origin connect failed" % locked, o["down_reason"])

    def test_idle_session_is_closed_after_idle_timeout(self):
        p, port = self.srt_proxy("idle_timeout 1s;")
        origin, _ = self.sink_origin()
        self.register(p, origin)
        # A caller that connects and never sends: stdin is a pipe kept open.
        quiet = self.spawn(["srt-live-transmit", "-a", "no", "file://con", srt_url(port, "live/quiet")],
                           stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(quiet.stdin.close)
        p.wait_log("srt session start")
        p.wait_log("reason: idle for 1000ms", timeout=10)
        self.assertEqual(p.log().count("srt session end:"), 1)

    def test_worker_connections_limits_srt_callers(self):
        limit = 16  # the smallest worker_connections allowed
        port = free_port()
        p = self.proxy(body="srt { listen 127.0.0.1:%d; connect_timeout 20s; }" % port, workers=1,
                       extra_main="worker_connections %d;" % limit)
        p.wait_log("srt listening on")
        # An origin that never answers keeps every session alive (connecting)
        # for connect_timeout, so exactly `limit` sessions hold their slots.
        self.register(p, free_port())
        # Callers that connect and stay quiet (stdin is a pipe kept open).
        for i in range(limit):
            quiet = self.spawn(["srt-live-transmit", "-a", "no", "file://con", srt_url(port, "live/q%d" % i)],
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.addCleanup(quiet.stdin.close)
        wait_for(lambda: p.log().count("srt session start") == limit, timeout=20, what="%d sessions" % limit)
        r = self.caller(srt_url(port, "live/over"))
        p.wait_log("reason: refused: worker_connections reached")
        self.assertRegex(p.log(), r"key __defaultVhost__/live/over.*reason: refused: worker_connections")
        self.assertEqual(p.log().count("srt session end"), 1)
        self.assertIn("worker_connections (16) reached, srt client refused", p.log())

    def test_a_second_proxy_on_the_same_srt_port_is_refused(self):
        # SRT sockets share their port with the other generations' (SO_REUSEPORT);
        # another process must still get "address in use", not half the traffic.
        p, port = self.srt_proxy()
        other = Proxy(body="srt { listen 127.0.0.1:%d; }" % port, start=False)
        r = other.run_cli()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("bind() udp 127.0.0.1:%d failed: Address already in use" % port, r.stderr)
        # And the first one still serves, through a reload too.
        p.signal(signal.SIGHUP)
        p.wait_log("reconfigured: generation 2")
        r = self.caller(srt_url(port, "#!::m=publish"))
        self.assertIn(b"REJECT", r.stderr, r.stderr)

    def publishing_through_a_reloadable_proxy(self, stream):
        """A proxy whose old generations may drain for a minute, a sink origin,
        and ffmpeg publishing `stream` through it without end, bytes flowing.
        Returns (proxy, srt port, sink file, publisher process)."""
        port = free_port()
        p = self.proxy(body="srt { listen 127.0.0.1:%d; connect_timeout 2s; }" % port,
                       extra_main="shutdown_timeout 60s;")
        p.wait_log("srt listening on 127.0.0.1:%d" % port)
        origin, sink = self.sink_origin()
        self.register(p, origin)
        publisher = self.spawn(["ffmpeg", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", self.ts,
                                "-c", "copy", "-f", "mpegts", srt_url(port, stream)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: self.size(sink) > 20000, what="bytes flowing before any reload")
        return p, port, sink, publisher

    def srt_workers(self, p):
        """Pids of the SRT workers (slot 0 of each generation), oldest first."""
        return [int(l.split("][")[2]) for l in p.log().splitlines() if "srt listening on" in l]

    def test_reload_keeps_srt_sessions_and_the_new_generation_takes_new_callers(self):
        p, port, sink, publisher = self.publishing_through_a_reloadable_proxy("live/reload")
        for generation in (2, 3):
            p.signal(signal.SIGHUP)
            p.wait_log("reconfigured: generation %d" % generation)
            wait_for(lambda: len(self.srt_workers(p)) == generation, what="srt worker of generation %d" % generation)
            # Once the old SRT worker stopped accepting (or, with no session, exited),
            # the master steers new callers to the new generation.
            p.wait_log("new callers to generation %d" % generation)
            # The session of generation 1 goes on: the origin keeps receiving.
            before = self.size(sink)
            wait_for(lambda: self.size(sink) > before + 100000, timeout=15,
                     what="origin file growing after reload %d" % (generation - 1))
        self.assertIsNone(publisher.poll(), "the publisher lost its stream")
        self.assertIn("srt: generation 1 stopped accepting, keeping its sessions", p.log())
        self.assertNotIn("srt session end", p.log())
        first, _, newest = self.srt_workers(p)
        self.assertTrue(os.path.exists("/proc/%d" % first), "generation 1 still drains its session")
        # A new caller reaches the newest generation (its rejection is logged by it).
        r = self.caller(srt_url(port, "#!::m=publish"))
        self.assertIn(b"REJECT", r.stderr, r.stderr)
        p.wait_log("rejected with 1400")
        line = next(l for l in p.log().splitlines() if "rejected with 1400" in l)
        self.assertEqual(int(line.split("][")[2]), newest, line)
        # The publisher ends: its session ends in generation 1, which then exits.
        publisher.send_signal(signal.SIGINT)
        p.wait_log("srt session end")
        end = next(l for l in p.log().splitlines() if "srt session end" in l)
        self.assertEqual(int(end.split("][")[2]), first, end)
        self.assertRegex(end, r"bytes client->origin [1-9]\d{5,}")
        wait_for(lambda: not os.path.exists("/proc/%d" % first), what="generation 1 exiting once drained")
        self.assertEqual(self.ts_packets_or_fail(sink) > 0, True)

    def test_srt_session_survives_a_reload_every_second(self):
        p, port, sink, publisher = self.publishing_through_a_reloadable_proxy("live/storm")
        # Ten reloads, one a second: generation 1 keeps the session while the
        # group grows to eleven sockets and the empty generations leave it.
        for generation in range(2, 12):
            before = self.size(sink)
            p.signal(signal.SIGHUP)
            p.wait_log("new callers to generation %d" % generation)
            wait_for(lambda: self.size(sink) > before + 20000, timeout=10,
                     what="origin file growing after reload %d" % (generation - 1))
        self.assertIsNone(publisher.poll(), "the publisher lost its stream")
        self.assertNotIn("srt session end", p.log())
        self.ts_packets_or_fail(sink)
        # The empty generations have left the group: generation 1 and the newest remain.
        wait_for(lambda: "srt 127.0.0.1:%d: 2 sockets, new callers to generation 11" % port in p.log(),
                 what="drained generations retired")

    def ts_packets_or_fail(self, path):
        with open(path, "rb") as f:
            n = ts_packets(f.read())
        self.assertNotEqual(n, -1, "TS sync byte missing at the origin")
        return n

if __name__ == "__main__":
    main()
