"""Chromium headless (fake camera) publishing via WHIP and playing via WHEP
through the proxy to the aiortc test origin; asserts frames decoded > 0 and
that Chromium was only ever given the proxy's candidate. The page is served
by a tiny local HTTP server that also receives the page's reports."""
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.parse

from harness import ProxyTestCase, free_port, main, require, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "rtc"))
import peers  # noqa: E402


class PageServer(http.server.ThreadingHTTPServer):
    """GET / serves the test page; POST /report collects what it reports."""

    def __init__(self, port):
        self.reports = []
        with open(os.path.join(HERE, "rtc", "chromium_page.html"), "rb") as f:
            self.page = f.read()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(outer.page)))
                self.end_headers()
                self.wfile.write(outer.page)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                outer.reports.append(json.loads(self.rfile.read(n)))
                self.send_response(204)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", port), Handler)


class Chromium(ProxyTestCase):
    def test_chromium_whip_publish_and_whep_play(self):
        browser = shutil.which("chromium") or require("chromium")
        http_port, udp_port = free_port(), free_port(socket.SOCK_DGRAM)
        p = self.proxy(body="http_api { listen 127.0.0.1:%d; }\nwebrtc { listen 127.0.0.1:%d; }\n"
                       % (http_port, udp_port), workers=2)
        p.wait_children(2)
        origin = peers.Origin(free_port)
        self.addCleanup(origin.stop)
        status, reply = p.register(origin.registration())
        self.assertEqual(status, 200, reply)

        page = PageServer(free_port())
        threading.Thread(target=page.serve_forever, daemon=True).start()
        self.addCleanup(page.shutdown)
        api = "http://127.0.0.1:%d/rtc/v1" % http_port
        query = urllib.parse.urlencode({
            "whip": api + "/whip/?app=live&stream=chrome",
            "whep": api + "/whep/?app=live&stream=chrome",
            "report": "http://127.0.0.1:%d/report" % page.server_port})
        profile = tempfile.mkdtemp(prefix="sp-chromium-")
        self.addCleanup(shutil.rmtree, profile, True)
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream",
               "--use-fake-ui-for-media-stream", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--allow-loopback-in-peer-connection",
               "--autoplay-policy=no-user-gesture-required", "--user-data-dir=" + profile,
               "--remote-debugging-port=0",
               "http://127.0.0.1:%d/?%s" % (page.server_port, query)]
        chrome = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)

        def stop_chrome():
            try:
                os.killpg(chrome.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            chrome.wait()
            chrome.stderr.close()
        self.addCleanup(stop_chrome)

        def decoded():
            for r in page.reports:
                if r.get("stage") == "error":
                    raise AssertionError("page error: %s" % r["error"])
            frames = [r.get("framesDecoded", 0) for r in page.reports if r.get("stage") == "playing"]
            return max(frames) if frames and max(frames) > 0 else None
        try:
            wait_for(decoded, timeout=60, interval=0.2, what="Chromium decoding frames played via WHEP")
        except AssertionError:
            sys.stderr.write("reports: %s\n" % json.dumps(page.reports)[-3000:])
            raise
        self.assertGreater(origin.stats()["frames_in"].get("live/chrome", 0), 0, "origin got no published frames")
        for r in page.reports:
            for line in (r.get("answer") or "").splitlines():
                if line.startswith("a=candidate:"):
                    self.assertIn(" 127.0.0.1 %d typ host" % udp_port, line)
        p.wait_log("webrtc: session")


if __name__ == "__main__":
    main()
