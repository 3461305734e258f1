"""HTTP stream relay of identity bodies (a Content-Length from the origin),
and of the same bytes sent chunked (de-chunked on the way), byte for byte, on the direct path of plaintext clients (spliced socket to
socket through a pipe) and on the bufferevent path of TLS clients: a 6 MiB
file served by a real nginx origin read at full speed by several clients at
once, by a rate-limited one, by one that stops reading for a while and then
goes on, twice over one keep-alive connection, with HEAD, and over HTTPS;
one that stops for good is closed after idle_timeout. The access line
counts every body byte."""
import hashlib
import os
import socket
import subprocess
import tempfile
import time

from harness import ProxyTestCase, free_port, main, require, self_signed_cert, wait_for
from http_peers import NginxOrigin

SIZE = 6 * 1024 * 1024


class HttpRelayBytes(ProxyTestCase):
    @classmethod
    def setUpClass(cls):
        cls.nginx = NginxOrigin("bytes-origin")
        cls.data = os.urandom(SIZE)
        cls.md5 = hashlib.md5(cls.data).hexdigest()
        for name in ("big.flv", "seg.ts"):
            with open(os.path.join(cls.nginx.hls_dir, name), "wb") as f:
                f.write(cls.data)

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()

    def start_proxy(self, extra="", idle="30s"):
        self.port = free_port()
        p = self.proxy(body="http_stream { listen 127.0.0.1:%d; idle_timeout %s; connect_timeout 3s; %s }"
                       % (self.port, idle, extra), workers=1)
        status, body = p.register(self.nginx.registration())
        self.assertEqual(status, 200, body)
        return p

    def url(self, path, scheme="http", port=None):
        return "%s://127.0.0.1:%d%s" % (scheme, port or self.port, path)

    def fetch(self, url, *args):
        """Starts a curl writing the body to a temp file; returns (proc, path)."""
        out = tempfile.NamedTemporaryFile(prefix="sp-relay-", delete=False).name
        proc = subprocess.Popen([require("curl"), "-sS", "-o", out, "-w", "%{http_code}", *args, url],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return proc, out

    def assert_body(self, proc, path):
        out, err = proc.communicate(timeout=60)
        self.assertEqual((proc.returncode, out), (0, "200"), err)
        with open(path, "rb") as f:
            got = f.read()
        os.unlink(path)
        self.assertEqual(len(got), SIZE)
        self.assertEqual(hashlib.md5(got).hexdigest(), self.md5)

    def test_concurrent_and_rate_limited_readers_get_every_byte(self):
        p = self.start_proxy()
        fast = [self.fetch(self.url("/live/big.flv?r=%d" % i)) for i in range(4)]
        slow = self.fetch(self.url("/live/big.flv?r=slow"), "--limit-rate", "4M")
        for proc, path in fast + [slow]:
            self.assert_body(proc, path)
        # One access line per reader, counting the whole body.
        wait_for(lambda: p.log().count("200 %d bytes" % SIZE) >= 5, what="five access lines with the full size")

    def test_chunked_body_is_dechunked_byte_exact(self):
        direct = subprocess.run([require("curl"), "-sS", "-D", "-", "-o", os.devnull,
                                 "http://127.0.0.1:%d/chunked/big.flv" % self.nginx.http_port],
                                capture_output=True, text=True, timeout=30)
        self.assertIn("transfer-encoding: chunked", direct.stdout.lower(), "the origin sends it chunked")
        p = self.start_proxy()
        readers = [self.fetch(self.url("/chunked/big.flv?r=%d" % i)) for i in range(2)]
        readers.append(self.fetch(self.url("/chunked/big.flv?r=slow"), "--limit-rate", "4M"))
        for proc, path in readers:
            self.assert_body(proc, path)
        wait_for(lambda: p.log().count("GET /chunked/big.flv?r=") >= 3, what="three access lines")
        self.assertEqual(p.log().count("200 %d bytes" % SIZE), 3, "chunk framing is not counted as body")

    def test_reader_that_pauses_then_resumes(self):
        self.start_proxy()
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", self.port))
        s.sendall(b"GET /live/big.flv HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        s.settimeout(20)
        got = b""
        while len(got) < 64 * 1024:
            got += s.recv(65536)
        time.sleep(1.5)  # the proxy's socket and queue fill; the origin is not read meanwhile
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            got += b
        s.close()
        head, _, body = got.partition(b"\r\n\r\n")
        self.assertIn(b"200 OK", head.split(b"\r\n")[0])
        self.assertIn(b"Content-Length: %d" % SIZE, head)
        self.assertEqual(hashlib.md5(body).hexdigest(), self.md5)

    def test_keep_alive_twice_and_head(self):
        p = self.start_proxy()
        a = tempfile.NamedTemporaryFile(prefix="sp-relay-", delete=False).name
        b = tempfile.NamedTemporaryFile(prefix="sp-relay-", delete=False).name
        r = subprocess.run([require("curl"), "-sS", "-o", a, "-o", b, "-w", "%{http_code} %{num_connects}\n",
                            self.url("/live/seg.ts"), self.url("/live/seg.ts?again=1")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split("\n")[:2], ["200 1", "200 0"], "the second request reused the connection")
        for path in (a, b):
            with open(path, "rb") as f:
                self.assertEqual(hashlib.md5(f.read()).hexdigest(), self.md5)
            os.unlink(path)
        h = subprocess.run([require("curl"), "-sS", "-I", self.url("/live/big.flv")],
                           capture_output=True, text=True, timeout=20)
        self.assertIn("Content-Length: %d" % SIZE, h.stdout)
        p.wait_log("HEAD /live/big.flv 200 0 bytes")

    def test_https_reader_gets_every_byte(self):
        cert, key = self_signed_cert(tempfile.mkdtemp(prefix="sp-tls-"))
        tls_port = free_port()
        self.start_proxy("listen 127.0.0.1:%d ssl; ssl_certificate %s; ssl_certificate_key %s;"
                         % (tls_port, cert, key))
        readers = [self.fetch(self.url("/live/big.flv", "https", tls_port), "-k"),
                   self.fetch(self.url("/live/big.flv", "https", tls_port), "-k", "--limit-rate", "4M"),
                   self.fetch(self.url("/live/big.flv"))]
        for proc, path in readers:
            self.assert_body(proc, path)

    def test_reader_that_stops_is_closed_after_idle_timeout(self):
        p = self.start_proxy(idle="2s")
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", self.port))
        s.sendall(b"GET /live/big.flv HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            t0 = time.monotonic()
            p.wait_log("reason=client stopped reading for idle_timeout", timeout=15)
            self.assertGreater(time.monotonic() - t0, 1.5)
        finally:
            s.close()


if __name__ == "__main__":
    main()
