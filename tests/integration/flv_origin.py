"""A real live HTTP-FLV / HTTP-TS origin for the HTTP stream tests: for
GET /APP/STREAM.flv (or .ts) it runs `ffmpeg -i RTMP_BASE/APP/STREAM -c copy
-f flv -` (or mpegts) and streams ffmpeg's stdout as the response body, chunked
like SRS (or close-delimited with --close-delimited). Anything else is 404.

Usage: flv_origin.py PORT RTMP_BASE EVENT_LOG [--close-delimited]
Writes "open PATH" and "closed PATH" lines to EVENT_LOG so a test can see when
the proxy drops its origin request.
"""
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
RTMP_BASE = sys.argv[2].rstrip("/")
EVENTS = sys.argv[3]
CHUNKED = "--close-delimited" not in sys.argv
LOCK = threading.Lock()


def event(text):
    with LOCK, open(EVENTS, "a") as f:
        f.write(text + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1" if CHUNKED else "HTTP/1.0"

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path.endswith(".flv"):
            fmt, ctype = "flv", "video/x-flv"
        elif path.endswith(".ts"):
            fmt, ctype = "mpegts", "video/mp2t"
        else:
            body = b"not found\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            return
        src = RTMP_BASE + path.rsplit(".", 1)[0]
        ff = subprocess.Popen(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", src, "-c", "copy",
                               "-f", fmt, "-"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        event("open " + self.path)
        try:
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Access-Control-Allow-Origin", "*")
            if CHUNKED:
                self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            while True:
                data = os.read(ff.stdout.fileno(), 65536)
                if not data:
                    break
                if CHUNKED:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                else:
                    self.wfile.write(data)
                self.wfile.flush()
            if CHUNKED:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            ff.kill()
            ff.wait()
            ff.stdout.close()
            event("closed " + self.path)


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
