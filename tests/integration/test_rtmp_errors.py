"""RTMP failures through the proxy: no origin, a dead origin (refused, then
its pin dropped once it expires), and bad input of every kind while another
session keeps flowing; a player that stops reading leaves memory bounded."""
import os
import socket
import subprocess
import threading
import time

from harness import main, wait_for
from origins import play_frames
from rtmp_client import Client, chunk, command, set_chunk_size
from rtmp_fixture import DEFAULT_VHOST, RtmpTestCase


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def closed_by_peer(sock, timeout):
    """True when the peer closes sock (EOF or reset) within timeout; reads and discards."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


class Heartbeats(threading.Thread):
    """Keeps re-registering origins, as real origins do, until stopped."""

    def __init__(self, proxy, origins):
        super().__init__(daemon=True)
        self.proxy, self.origins, self.stop = proxy, list(origins), threading.Event()

    def run(self):
        while not self.stop.wait(0.3):
            for o in list(self.origins):
                o.register(self.proxy)


class RtmpErrors(RtmpTestCase):
    def test_no_origin_the_client_gets_an_error_status_naming_the_stream(self):
        p = self.rtmp_proxy(workers=1)
        # ffmpeg prints the status description.
        r = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-re", "-f", "lavfi", "-i",
                            "testsrc=size=160x120:rate=10", "-t", "2", "-c:v", "libx264", "-f", "flv",
                            self.url("live/nowhere")], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no origin for stream __defaultVhost__/live/nowhere", r.stderr)
        # The exact status codes, for a publisher and a player.
        for verb, code in (("publish", "NetStream.Publish.BadName"), ("play", "NetStream.Play.StreamNotFound")):
            c = Client(self.rtmp_port)
            c.handshake()
            c.connect(self.url("live"))
            sid = c.create_stream()
            getattr(c, verb)("nowhere?token=1", stream_id=sid)
            info = c.wait_status()
            self.assertEqual(info["level"], "error")
            self.assertEqual(info["code"], code)
            self.assertIn("__defaultVhost__/live/nowhere", info["description"])
            self.assertTrue(closed_by_peer(c.sock, 5))
            c.close()
        p.wait_log("reason=no origin")

    def test_dead_origin_refused_then_its_pin_moves_after_expiry(self):
        # Passive health off (max_fails 0): a failed connect neither marks the
        # origin down nor retries the client (test_failover covers those), so
        # only heartbeat expiry moves the pin.
        p = self.rtmp_proxy(workers=1, body="registry { origin_ttl 2s; max_fails 0; }")
        o1 = self.origin("o1", p)
        o2 = self.origin("o2", p)
        beats = Heartbeats(p, [o1, o2])
        beats.start()
        self.addCleanup(beats.stop.set)
        key = DEFAULT_VHOST + "/live/d"
        self.publisher(self.url("live/d"))
        self.wait_publishing(p, key)
        dead = self.origin_by_id(self.stream_origins(p)[key])
        live = o2 if dead is o1 else o1
        beats.origins.remove(dead)
        dead.kill()
        # Still pinned and not yet expired: the client hears the origin is unreachable.
        c = Client(self.rtmp_port)
        c.handshake()
        c.connect(self.url("live"))
        c.publish("d", stream_id=c.create_stream())
        info = c.wait_status()
        c.close()
        self.assertEqual(info["level"], "error")
        self.assertIn("origin %s" % dead.server_id, info["description"])
        self.assertIn("unreachable", info["description"])
        # Once it expired, a new publish goes to the live origin.
        def alive(server_id):
            _, body = p.api_json("GET", "/api/v1/origins")
            return any(o["server"] == server_id and o["alive"] for o in body["origins"])
        wait_for(lambda: not alive(dead.server_id), timeout=10, what="%s expired" % dead.server_id)
        self.publisher(self.url("live/d"))
        wait_for(lambda: self.stream_origins(p).get(key) == live.server_id and
                 self.stream_clients(p, key) >= 1, timeout=20, what="d re-pinned to the live origin")
        self.assertGreater(play_frames(self.url("live/d"), seconds=2), 20)

    def test_connect_and_idle_timeouts(self):
        p = self.rtmp_proxy(workers=1, rtmp_extra="connect_timeout 1s; idle_timeout 2s;")
        # An "origin" that accepts TCP connections (kernel backlog) and never answers.
        mute = socket.socket()
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)
        self.addCleanup(mute.close)
        status, body = p.register({"ip": "127.0.0.1", "server": "mute", "service": "x", "pid": "1",
                                   "rtmp": [str(mute.getsockname()[1])]})
        self.assertEqual(status, 200, body)
        c = Client(self.rtmp_port)
        c.handshake()
        c.connect(self.url("live"))
        t0 = time.monotonic()
        c.publish("m", stream_id=c.create_stream())
        info = c.wait_status()
        self.assertEqual(info["level"], "error")
        self.assertIn("origin mute", info["description"])
        self.assertIn("connect_timeout", info["description"])
        self.assertLess(time.monotonic() - t0, 5)
        self.assertTrue(closed_by_peer(c.sock, 5))
        c.close()
        # A player of a stream nobody publishes: nothing flows either way.
        o = self.origin("o1")
        status, body = p.register(dict(o.registration(), server="mute"))  # same id, now a real origin
        self.assertEqual(status, 200, body)
        c = Client(self.rtmp_port)
        c.handshake()
        c.connect(self.url("live"))
        c.play("quiet", stream_id=c.create_stream())
        self.assertEqual(c.wait_status()["level"], "status")
        t0 = time.monotonic()
        self.assertTrue(closed_by_peer(c.sock, 8))
        self.assertGreater(time.monotonic() - t0, 1.0)
        c.close()
        p.wait_log("reason=idle_timeout")

    def test_bad_input_closes_only_that_session_and_a_stalled_player_stays_bounded(self):
        p = self.rtmp_proxy(workers=1, rtmp_extra="handshake_timeout 2s;")
        self.origin("o1", p)
        worker = p.workers()[0]
        # A high-bitrate stream (intra-only flv1, ~15 Mbit/s) and a healthy player.
        self.publisher(self.url("live/good"), size="1280x720",
                       extra=["-c:v", "flv", "-q:v", "1", "-g", "1"])
        self.wait_publishing(p, DEFAULT_VHOST + "/live/good")
        good = self.player(self.url("live/good"))
        wait_for(lambda: good.frames() > 10, timeout=20, what="frames at the good player")

        def still_flowing():
            n = good.frames()
            wait_for(lambda: good.frames() > n + 5, timeout=10, what="the good player advancing")

        # 1. Garbage instead of C0/C1: closed at once.
        s = socket.create_connection(("127.0.0.1", self.rtmp_port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(closed_by_peer(s, 3))
        s.close()
        p.wait_log("bad handshake: C0 version 71 is not 3")
        # 2. Truncated handshake: closed by handshake_timeout.
        s = socket.create_connection(("127.0.0.1", self.rtmp_port))
        s.sendall(b"\x03" + b"\x00" * 700)
        self.assertTrue(closed_by_peer(s, 6))
        s.close()
        p.wait_log("handshake_timeout")
        still_flowing()
        # 3. An oversized chunk size.
        c = Client(self.rtmp_port)
        c.handshake()
        c.send(set_chunk_size(0x7FFFFFFF))
        self.assertTrue(closed_by_peer(c.sock, 3))
        c.close()
        p.wait_log("invalid chunk size")
        # 4. Malformed AMF in connect (a number cut short).
        c = Client(self.rtmp_port)
        c.handshake()
        c.send(chunk(3, 20, 0, b"\x02\x00\x07connect\x00\x3f\xf0"))
        self.assertTrue(closed_by_peer(c.sock, 3))
        c.close()
        p.wait_log("malformed command")
        # 5. Publish before connect: an error status, then closed.
        c = Client(self.rtmp_port)
        c.handshake()
        c.send(command("publish", 3, None, "good", "live", stream_id=1))
        info = c.wait_status()
        self.assertEqual((info["level"], info["code"]), ("error", "NetStream.Publish.BadName"))
        self.assertIn("before connect", info["description"])
        self.assertTrue(closed_by_peer(c.sock, 5))
        c.close()
        p.wait_log("publish before connect")
        still_flowing()

        # 6. A player that stops reading: the proxy stops reading its origin
        # side past the high-water mark, so the worker's memory stays bounded.
        rss_before = rss_kb(worker)
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        raw.connect(("127.0.0.1", self.rtmp_port))
        c = Client.over(raw)
        c.handshake()
        c.connect(self.url("live"))
        c.play("good", stream_id=c.create_stream())
        self.assertIn(c.wait_status()["code"], ("NetStream.Play.Reset", "NetStream.Play.Start"))
        # From now on the socket is never read again.
        p.wait_log("pausing reads from the origin", timeout=30)
        peak = rss_before
        for _ in range(20):
            still_flowing()
            peak = max(peak, rss_kb(worker))
        # Under ASan (SP_SANITIZERS=1) freed buffers sit in its quarantine
        # (capped in tests/CMakeLists.txt) before reuse.
        slack = 8 * 1024 if os.environ.get("SP_SANITIZERS") == "1" else 0
        self.assertLess(peak - rss_before, 24 * 1024 + slack, "worker RSS grew from %d to %d kB" % (rss_before, peak))
        raw.close()
        still_flowing()
        self.assertEqual(p.workers(), [worker])


if __name__ == "__main__":
    main()
