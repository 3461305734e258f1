"""The HTTP stream listener against bad and hostile clients, and its static
files: malformed request lines, oversized heads, slowloris, traversal
attempts (plain, encoded, through symlinks), wrong methods and bodies; the
worker keeps serving everyone else throughout. Also Range, HEAD, MIME types,
keep-alive and graceful stop."""
import os
import signal
import socket
import subprocess
import tempfile
import time

from harness import ProxyTestCase, curl, free_port, main

INDEX = "<html><body>srs-proxy players</body></html>\n"
CROSSDOMAIN = '<?xml version="1.0"?>\n<cross-domain-policy><allow-access-from domain="*"/></cross-domain-policy>\n'


def recv_all(sock, timeout):
    """Everything the proxy sends until it closes; raises if it stays open."""
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


class HttpErrors(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.root = tempfile.mkdtemp(prefix="sp-root-")
        os.makedirs(os.path.join(self.root, "players"))
        with open(os.path.join(self.root, "index.html"), "w") as f:
            f.write(INDEX)
        with open(os.path.join(self.root, "crossdomain.xml"), "w") as f:
            f.write(CROSSDOMAIN)
        with open(os.path.join(self.root, "players", "player.js"), "w") as f:
            f.write("console.log('play');\n")
        self.blob = os.urandom(300 * 1024)
        with open(os.path.join(self.root, "blob.bin"), "wb") as f:
            f.write(self.blob)
        os.symlink("/etc", os.path.join(self.root, "escape"))
        os.symlink(os.path.join(self.root, "crossdomain.xml"), os.path.join(self.root, "alias.xml"))

    def start_proxy(self, root=True, idle="2s", workers=1):
        self.port = free_port()
        body = "http_stream { listen 127.0.0.1:%d; idle_timeout %s; %s }" % (
            self.port, idle, "root %s;" % self.root if root else "")
        return self.proxy(body=body, workers=workers)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def raw(self, data, timeout=5):
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.sendall(data)
            return recv_all(s, timeout)

    def assert_serving(self):
        status, body = curl(self.url("/crossdomain.xml"))
        self.assertEqual((status, body), (200, CROSSDOMAIN))

    def test_static_files(self):
        self.start_proxy()
        self.assert_serving()
        out = subprocess.run(["curl", "-sS", "-D", "-", self.url("/")], capture_output=True, text=True).stdout
        self.assertIn("Content-Type: text/html; charset=utf-8", out)
        self.assertTrue(out.endswith(INDEX))
        out = subprocess.run(["curl", "-sS", "-D", "-", "-o", "/dev/null", self.url("/players/player.js")],
                             capture_output=True, text=True).stdout
        self.assertIn("Content-Type: application/javascript", out)
        self.assertIn("Content-Type: text/xml", subprocess.run(
            ["curl", "-sS", "-I", self.url("/alias.xml")], capture_output=True, text=True).stdout)
        # HEAD: headers with the length, no body.
        head = self.raw(b"HEAD /blob.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertIn(b"Content-Length: %d\r\n" % len(self.blob), head)
        self.assertTrue(head.endswith(b"\r\n\r\n"))
        # Single ranges.
        p = subprocess.run(["curl", "-sS", "-D", "-", "-r", "1000-1999", self.url("/blob.bin")], capture_output=True)
        head, _, body = p.stdout.partition(b"\r\n\r\n")
        self.assertIn(b"206 Partial Content", head)
        self.assertIn(b"Content-Range: bytes 1000-1999/%d" % len(self.blob), head)
        self.assertEqual(body, self.blob[1000:2000])
        p = subprocess.run(["curl", "-sS", "-r", "-100", self.url("/blob.bin")], capture_output=True)
        self.assertEqual(p.stdout, self.blob[-100:])
        status, _ = curl(self.url("/blob.bin"), "-r", "999999999-")
        self.assertEqual(status, 416)
        p = subprocess.run(["curl", "-sS", self.url("/blob.bin")], capture_output=True)
        self.assertEqual(p.stdout, self.blob)
        self.assertEqual(curl(self.url("/nosuch.html"))[0], 404)
        self.assertEqual(curl(self.url("/players"))[0], 404)  # a directory

    def test_traversal_is_refused(self):
        self.start_proxy()
        for path in (b"/../../../../etc/passwd", b"/players/../../etc/passwd", b"/%2e%2e/%2e%2e/etc/passwd",
                     b"/%2E%2E/etc/passwd", b"/players/..%2f..%2f..%2fetc%2fpasswd", b"/escape/passwd",
                     b"/escape/../etc/passwd", b"/blob.bin%00.html"):
            reply = self.raw(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            status = int(reply.split(b" ", 2)[1])
            self.assertIn(status, (403, 404), path)
            self.assertNotIn(b"root:", reply, path)
        self.assert_serving()

    def test_no_root_unknown_path_is_404(self):
        self.start_proxy(root=False)
        status, body = curl(self.url("/crossdomain.xml"))
        self.assertEqual(status, 404)
        self.assertIn("no stream or file", body)

    def test_malformed_and_oversized_requests_are_closed(self):
        p = self.start_proxy()
        worker = p.wait_children(1) and p.workers()[0]
        cases = [
            (b"GARBAGE\r\n\r\n", b"400"),
            (b"GET /a b HTTP/1.1\r\n\r\n", b"400"),
            (b"GET / HTTP/3.0\r\n\r\n", b"505"),
            (b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", b"400"),
            (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", b"414"),
            (b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n", b"431"),
            (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"\r\n", b"431"),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n", b"400"),  # TLS hello
            (b"POST /live/s.flv HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", b"413"),
            (b"DELETE /live/s.flv HTTP/1.1\r\nHost: x\r\n\r\n", b"405"),
            (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"501"),
        ]
        for data, status in cases:
            t0 = time.monotonic()
            reply = self.raw(data)  # recv_all returns only once the proxy closed
            self.assertTrue(reply.startswith(b"HTTP/1.1 " + status), (data[:40], reply[:80]))
            self.assertLess(time.monotonic() - t0, 3)
        self.assert_serving()
        self.assertEqual(p.workers(), [worker])  # no crash, no respawn
        self.assertIn("bad request from 127.0.0.1:", p.log())

    def test_slowloris_is_closed_within_the_timeout(self):
        p = self.start_proxy(idle="2s")
        s = socket.create_connection(("127.0.0.1", self.port))
        t0 = time.monotonic()
        s.sendall(b"GET /crossdomain.xml HTTP/1.1\r\n")
        closed = False
        try:
            for i in range(20):  # trickle a header line every 0.3 s, far past the timeout
                time.sleep(0.3)
                self.assert_serving()  # everyone else is served meanwhile
                s.sendall(b"X-Slow-%d: y\r\n" % i)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        if not closed:
            s.settimeout(3)
            try:
                closed = s.recv(100) == b""
            except ConnectionResetError:
                closed = True
        elapsed = time.monotonic() - t0
        s.close()
        self.assertTrue(closed)
        self.assertLess(elapsed, 4.5)
        p.wait_log("no complete request from 127.0.0.1:")
        # A silent connection is closed too.
        with socket.create_connection(("127.0.0.1", self.port)) as idle:
            t0 = time.monotonic()
            self.assertEqual(recv_all(idle, 5), b"")
            self.assertLess(time.monotonic() - t0, 4)
        self.assert_serving()

    def test_cors_headers_follow_the_cors_directive(self):
        self.start_proxy()
        head = self.raw(b"GET /crossdomain.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertIn(b"Access-Control-Allow-Origin: *", head)
        self.port = free_port()
        self.proxy(body="http_stream { listen 127.0.0.1:%d; root %s; cors off; }" % (self.port, self.root),
                   workers=1)
        head = self.raw(b"GET /crossdomain.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertIn(b"200 OK", head)
        self.assertNotIn(b"Access-Control", head)
        reply = self.raw(b"OPTIONS /live/s.flv HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 200 OK"))
        self.assertIn(b"Content-Length: 0", reply)

    def test_keep_alive_and_pipelining(self):
        self.start_proxy()
        req = b"GET /crossdomain.xml HTTP/1.1\r\nHost: x\r\n\r\n"
        last = b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        reply = self.raw(req + req + last)
        self.assertEqual(reply.count(b"HTTP/1.1 200 OK"), 3)
        self.assertEqual(reply.count(CROSSDOMAIN.encode()), 2)
        self.assertTrue(reply.endswith(INDEX.encode()))
        self.assertEqual(reply.count(b"Connection: keep-alive"), 2)

    def test_graceful_stop_closes_idle_keep_alive_clients(self):
        p = self.start_proxy(idle="30s")
        worker = p.wait_children(1) and p.workers()[0]
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.sendall(b"GET /crossdomain.xml HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(5)
            first = b""
            while not first.endswith(CROSSDOMAIN.encode()):  # the whole answer, head and body
                chunk = s.recv(65536)
                self.assertTrue(chunk, first)
                first += chunk
            self.assertIn(b"200 OK", first)
            t0 = time.monotonic()
            p.signal(signal.SIGQUIT)
            # The idle keep-alive connection is closed at once, so the worker
            # exits long before shutdown_timeout or idle_timeout.
            self.assertEqual(recv_all(s, 5), b"")
        self.assertEqual(p.wait_exit(timeout=10), 0)
        self.assertLess(time.monotonic() - t0, 5)


if __name__ == "__main__":
    main()
