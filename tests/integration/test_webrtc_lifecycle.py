"""WebRTC session lifecycle through the proxy: a reload keeps live relay
sessions on the old workers (new sessions go to the new generation, the old
workers exit once their sessions end), idle sessions end after
webrtc idle_timeout, and WHIP over an `ssl` http_api listener (with the TLS
context of http/tls.cpp, as on http_stream)."""
import os
import signal
import socket
import subprocess
import sys
import tempfile

from harness import BINARY, ProxyTestCase, alive, curl, free_port, main, require, self_signed_cert, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "rtc"))
import peers  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "rtc")


class WebRtcLifecycle(ProxyTestCase):
    def start(self, workers=2, idle="3s", http_listen=None, extra_api=""):
        self.http_port = free_port()
        self.udp_port = free_port(socket.SOCK_DGRAM)
        listen = http_listen or "listen 127.0.0.1:%d;" % self.http_port
        body = ("http_api { %s %s }\nwebrtc { listen 127.0.0.1:%d; idle_timeout %s; }\n"
                % (listen, extra_api, self.udp_port, idle))
        p = self.proxy(body=body, workers=workers)
        p.wait_children(workers)
        origin = peers.Origin(free_port)
        self.addCleanup(origin.stop)
        status, reply = p.register(origin.registration())
        self.assertEqual(status, 200, reply)
        return p, origin

    def url(self, kind, stream):
        return "http://127.0.0.1:%d/rtc/v1/%s/?app=live&stream=%s" % (self.http_port, kind, stream)

    def test_reload_keeps_live_sessions(self):
        p, origin = self.start(workers=2, idle="3s")
        old_workers = p.workers()
        pub = peers.client("publish", self.url("whip", "r1"), seconds=10, background=True)
        frames = lambda: origin.stats()["frames_in"].get("live/r1", 0)  # noqa: E731
        wait_for(lambda: frames() > 10, timeout=20, what="publishing before the reload")
        p.signal(signal.SIGHUP)
        p.wait_log("reconfigured: generation 2")
        wait_for(lambda: len([w for w in p.workers() if w not in old_workers]) == 2, what="new workers")
        # The publisher's media still flows through its old worker's session.
        before = frames()
        wait_for(lambda: frames() > before + 30, timeout=10, what="frames after the reload")
        self.assertTrue(any(alive(w) for w in old_workers), "old workers left with live sessions")
        # A new session goes to the new generation.
        play = peers.client("play", self.url("whep", "r1"), seconds=3)
        self.assertGreater(play["frames"], 0, play)
        new_pids = [w for w in p.workers() if w not in old_workers]
        starts = [l for l in p.log().splitlines() if "webrtc: session" in l and " start," in l]
        self.assertTrue(any("worker %d" % w in starts[-1] for w in new_pids), starts[-1])
        self.assertEqual(peers.finish(pub, 10)["status"], 201)
        # The publisher is gone: its session idles out and the old workers exit.
        wait_for(lambda: not any(alive(w) for w in old_workers), timeout=20, what="old workers exiting")
        self.assertIn("reason: idle timeout", p.log())

    def test_session_survives_owner_worker_crash(self):
        # The claim socket dies with the worker; the client's next consent
        # check lets another worker adopt the session (see src/rtc/README.md).
        p, origin = self.start(workers=2, idle="10s")
        pub = peers.client("publish", self.url("whip", "crash"), seconds=20, background=True)
        frames = lambda: origin.stats()["frames_in"].get("live/crash", 0)  # noqa: E731
        wait_for(lambda: frames() > 10, timeout=20, what="publishing")
        start = [l for l in p.log().splitlines() if "webrtc: session" in l and " start," in l][-1]
        owner = int(start.rsplit("worker ", 1)[1])
        os.kill(owner, signal.SIGKILL)
        p.wait_log("exited on signal 9, respawning")
        before = frames()
        wait_for(lambda: frames() > before + 30, timeout=15, what="frames after the owner died")
        starts = [l for l in p.log().splitlines() if "webrtc: session" in l and " start," in l]
        self.assertEqual(len(starts), 2, starts)
        self.assertNotIn("worker %d" % owner, starts[-1])
        pub.kill()
        pub.communicate()

    def test_idle_session_ends(self):
        p, origin = self.start(workers=1, idle="2s")
        play_pub = peers.client("publish", self.url("whip", "idle"), seconds=3)
        self.assertEqual(play_pub["status"], 201)
        p.wait_log("reason: idle timeout", timeout=10)
        status, body = p.api_json("GET", "/api/v1/streams")
        rtc = [s["clients"]["rtc"] for s in body["streams"] if s["key"] == "__defaultVhost__/live/idle"]
        self.assertEqual(rtc, [0])

    def test_whip_over_ssl_listener(self):
        cert, key = self_signed_cert(tempfile.mkdtemp(prefix="sp-rtc-tls-"), cn="127.0.0.1")
        tls_port = free_port()
        p, origin = self.start(workers=1, http_listen="listen 127.0.0.1:%d ssl;" % tls_port,
                               extra_api="ssl_certificate %s; ssl_certificate_key %s;" % (cert, key))
        with open(os.path.join(FIXTURES, "aiortc_offer.sdp")) as f:
            offer = f.read()
        status, body = curl("https://127.0.0.1:%d/rtc/v1/whip/?app=live&stream=tls" % tls_port, "-k", "-D", "-",
                            method="POST", data=offer, headers=("Content-Type: application/sdp",))
        self.assertEqual(status, 201, body)
        self.assertIn("Location: https://127.0.0.1:%d/rtc/v1/whip/" % tls_port, body)
        cands = [l for l in body.splitlines() if l.startswith("a=candidate:")]
        self.assertTrue(cands)
        for c in cands:
            self.assertIn(" 127.0.0.1 %d typ host" % self.udp_port, c)
        # TLS 1.1 is refused for its version (alert 70 "protocol version"), as
        # on http_stream: TLS 1.2 is the configured minimum, not an accident of
        # the system's security level (which alone answers "internal error").
        old = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % tls_port, "-tls1_1",
                              "-cipher", "DEFAULT@SECLEVEL=0"], input=b"", capture_output=True, timeout=10)
        self.assertIn(b"alert protocol version", old.stdout + old.stderr)
        self.assertEqual(curl("https://127.0.0.1:%d/api/v1/versions" % tls_port, "-k")[0], 200)

    def test_ssl_certificate_under_a_relative_prefix(self):
        # `-p pfx` with relative certificate paths: they resolve once, against
        # the configuration file's directory (not the prefix, and not twice).
        require("openssl")
        self.http_port = free_port()
        p = self.proxy(body="http_api { listen 127.0.0.1:%d ssl; ssl_certificate cert.pem; "
                            "ssl_certificate_key key.pem; }" % self.http_port, workers=1, start=False)
        os.mkdir(os.path.join(p.dir, "pfx"))
        conf_dir = os.path.dirname(os.path.abspath(os.path.join(p.dir, p.conf)))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-keyout", os.path.join(conf_dir, "key.pem"), "-out",
                        os.path.join(conf_dir, "cert.pem")], check=True, capture_output=True)
        p.proc = subprocess.Popen([os.path.abspath(BINARY), "-p", "pfx", "-c", p.conf], cwd=p.dir, env=p.env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_for(p.api_ready, what="system api")
        wait_for(lambda: curl("https://127.0.0.1:%d/api/v1/versions" % self.http_port, "-k", timeout=3)[0] == 200,
                 what="https on http_api")
        self.assertNotIn("cannot load", p.log())

    def test_signalling_connections_count_against_worker_connections(self):
        limit = 16  # the smallest worker_connections allowed
        self.http_port = free_port()
        p = self.proxy(body="http_api { listen 127.0.0.1:%d; idle_timeout 30s; }" % self.http_port, workers=1,
                       extra_main="worker_connections %d;" % limit)
        p.wait_children(1)
        # Connections that send nothing hold their slots (idle_timeout is long).
        held = []
        for _ in range(limit):
            s = socket.create_connection(("127.0.0.1", self.http_port))
            self.addCleanup(s.close)
            held.append(s)
        # One more: accepted by the kernel, then closed at once by the worker.
        extra = socket.create_connection(("127.0.0.1", self.http_port))
        self.addCleanup(extra.close)
        extra.settimeout(5)
        self.assertEqual(extra.recv(1), b"", "the connection over the limit was not closed")
        p.wait_log("worker_connections (%d) reached, http_api client refused" % limit)
        # A held connection is still served, and once some close, new ones are too.
        held[0].sendall(b"GET /api/v1/versions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        held[0].settimeout(5)
        self.assertTrue(held[0].recv(100).startswith(b"HTTP/1.1 200"))
        for s in held[:4]:
            s.close()
        wait_for(lambda: curl("http://127.0.0.1:%d/api/v1/versions" % self.http_port)[0] == 200,
                 what="a new signalling connection served")


if __name__ == "__main__":
    main()
