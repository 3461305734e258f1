"""A headless Chromium driven over the DevTools protocol, for tests of pages
the proxy serves. The protocol runs over --remote-debugging-pipe (JSON
messages ending in NUL on fds 3 and 4), so no WebSocket library is needed.
One page (a target attached with flatten) per Browser; every console error,
uncaught exception and error log entry (failed loads, CSP refusals) it
produces is kept in `errors`."""
import base64
import fcntl
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from harness import require


class CdpError(AssertionError):
    pass


class Browser:
    def __init__(self, width=1280, height=900):
        browser = require("chromium")
        self.profile = tempfile.mkdtemp(prefix="sp-cdp-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # Chromium's ends above fd 4, so moving them to 3 and 4 cannot clobber one another.
        to_child_r, from_child_w = [self._high_fd(fd) for fd in (to_child_r, from_child_w)]
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
                "--disable-default-apps", "--mute-audio", "--window-size=%d,%d" % (width, height),
                "--user-data-dir=" + self.profile, "--remote-debugging-pipe", "about:blank"]
        # bash (dash only knows fds 0-9) moves our pipe ends to the fds Chromium reads (3) and writes (4).
        script = 'exec "$0" "$@" 3<&%d %d<&- 4>&%d %d>&-' % (to_child_r, to_child_r, from_child_w, from_child_w)
        self.proc = subprocess.Popen([require("bash"), "-c", script, browser] + args, pass_fds=(to_child_r, from_child_w),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=None if os.environ.get("SP_CDP_DEBUG") else subprocess.DEVNULL, start_new_session=True)
        os.close(to_child_r)
        os.close(from_child_w)
        self._next_id = 0
        self._replies = {}
        self._cond = threading.Condition()
        self.events = queue.Queue()
        self.errors = []
        self.session = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            self.call(domain + ".enable")

    @staticmethod
    def _high_fd(fd):
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(fd)
        return high

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_child, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._replies[None] = "closed"
                    self._cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._cond:
                        self._replies[msg["id"]] = msg
                        self._cond.notify_all()
                else:
                    self._on_event(msg)

    def _on_event(self, msg):
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.errors.append("console.%s: %s" % (params["type"], text))
        elif method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            self.errors.append("exception: %s %s" % (d.get("text", ""), d.get("exception", {}).get("description", "")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            e = params["entry"]
            self.errors.append("log(%s): %s %s" % (e.get("source"), e.get("text"), e.get("url", "")))
        self.events.put(msg)

    def call(self, method, timeout=30, **params):
        """Sends one command (to the page once attached) and returns its result."""
        with self._cond:
            self._next_id += 1
            mid = self._next_id
        msg = {"id": mid, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            msg["sessionId"] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._cond:
            while mid not in self._replies:
                if None in self._replies:
                    raise CdpError("chromium went away during %s" % method)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CdpError("no answer to %s within %ss" % (method, timeout))
                self._cond.wait(left)
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise CdpError("%s: %s" % (method, reply["error"]))
        return reply.get("result", {})

    def navigate(self, url):
        self.call("Page.navigate", url=url)

    def evaluate(self, expression):
        """The JSON value of a JS expression in the page (promises awaited)."""
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise CdpError("evaluating %r threw: %s" % (expression[:80], r["exceptionDetails"]))
        return r["result"].get("value")

    def screenshot(self, path):
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def close(self):
        try:
            if self.proc.poll() is None:
                self.call("Browser.close", timeout=5)
                self.proc.wait(timeout=5)
        except Exception:
            pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)
