"""The system API's status page (GET / and /status) with real peers: an
nginx-rtmp origin registered with the proxy and ffmpeg publishing through it,
the page loaded in headless Chromium (DevTools protocol, cdp.py). It must load
with no console errors, show the origin's server id and the stream key, keep
data out of the markup (a server id holding HTML stays text), and its pure
/metrics parser is unit-tested in the page on a fixed text. A screenshot is
kept as a test artefact. With a token, the page needs ?token= and then works;
the allow/deny rules cover it like every route.
"""
import json
import os

from cdp import Browser
from harness import curl, main, wait_for
from rtmp_fixture import DEFAULT_VHOST, RtmpTestCase

ARTEFACTS = os.path.join(os.environ.get("SP_BUILD_DIR") or "objs", "artefacts")
CSP = "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'"

# A fixed scrape in the contract's metric names, with the format's corners:
# HELP/TYPE comments, escaped label values (quote, backslash, newline, braces
# and commas inside quotes), a timestamp, +Inf, NaN, no labels, a bad line.
METRICS_BEFORE = r'''# HELP srsproxy_client_bytes_total Bytes from/to clients.
# TYPE srsproxy_client_bytes_total counter
srsproxy_client_bytes_total{protocol="rtmp",listener="127.0.0.1:1935",direction="in"} 1000
srsproxy_client_bytes_total{protocol="rtmp",listener="127.0.0.1:1935",direction="out"} 5e3 1712345678000
srsproxy_client_bytes_total{protocol="http",listener="[::1]:8080",direction="out"} 700
srsproxy_origin_bytes_total{origin="o1",direction="in"} 4000
srsproxy_sessions_ended_total{protocol="rtmp",listener="l",reason="normal"} 10
srsproxy_sessions_ended_total{protocol="rtmp",listener="l",reason="origin_refused"} 1
srsproxy_origin_connects_total{origin="o \"q\" \\ b\nl, {x}",result="refused"} 2
srsproxy_origin_connects_total{origin="o1",result="ok"} 5
srsproxy_origin_connect_seconds_bucket{origin="o1",le="+Inf"} 7
srsproxy_start_time_seconds NaN
this is { not a sample
srsproxy_reloads_total 4
srsproxy_sessions_ended_total{protocol="rtmp",listener="l",reason="client_closed"} 2
'''
METRICS_AFTER = r'''srsproxy_client_bytes_total{protocol="rtmp",listener="127.0.0.1:1935",direction="in"} 3000
srsproxy_client_bytes_total{protocol="rtmp",listener="127.0.0.1:1935",direction="out"} 9000
srsproxy_client_bytes_total{protocol="http",listener="[::1]:8080",direction="out"} 300
srsproxy_origin_bytes_total{origin="o1",direction="in"} 4000
srsproxy_sessions_ended_total{protocol="rtmp",listener="l",reason="normal"} 30
srsproxy_sessions_ended_total{protocol="rtmp",listener="l",reason="origin_refused"} 4
srsproxy_sessions_ended_total{protocol="rtmp",listener="l",reason="timeout"} 1
srsproxy_origin_connects_total{origin="o \"q\" \\ b\nl, {x}",result="refused"} 3
srsproxy_origin_connects_total{origin="o1",result="ok"} 9
srsproxy_sessions_ended_total{protocol="rtmp",listener="l",reason="client_closed"} 8
'''


def console_errors(browser, metrics_served):
    """The page's errors; before /metrics exists (404) the one failed load of
    it is expected (the page then stops asking), nothing else is."""
    errors = list(browser.errors)
    if not metrics_served:
        missing = [e for e in errors if "404" in e and e.rstrip().endswith("/metrics")]
        assert len(missing) <= 1, "the page kept asking for /metrics after a 404: %s" % missing
        errors = [e for e in errors if e not in missing]
    return errors


class StatusPage(RtmpTestCase):
    def browser(self):
        b = Browser()
        self.addCleanup(b.close)
        # The collector itself works: a console error made on purpose is seen.
        b.navigate("about:blank")
        b.evaluate("console.error('sp-probe')")
        wait_for(lambda: any("sp-probe" in e for e in b.errors), what="the probe console error")
        b.errors.clear()
        return b

    def test_page_shows_origin_and_live_stream(self):
        p = self.rtmp_proxy(workers=1)
        self.origin("o-status", p)
        self.publisher(self.url("live/statuscam"), seconds=30)
        key = DEFAULT_VHOST + "/live/statuscam"
        self.wait_publishing(p, key)
        # A server id holding markup (registered once the stream is pinned, so
        # it is never picked): the page must show it as text.
        hostile = '<img src=x id=injected onerror="document.title=1">'
        status, body = p.register({"ip": "127.0.0.1", "server": hostile, "service": "s", "pid": "1",
                                   "rtmp": ["19"]})
        self.assertEqual(status, 200, body)

        for path in ("/", "/status", "/status/"):
            status, text = p.api("GET", path)
            self.assertEqual(status, 200, path)
            self.assertIn("window.spParseMetrics", text)
        status, out = curl("http://127.0.0.1:%d/" % p.api_port, "-I")
        self.assertEqual(status, 200)
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in out.splitlines()[1:] if ":" in line)}
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        self.assertTrue(headers["content-security-policy"].startswith(CSP), headers)
        self.assertGreater(int(headers["content-length"]), 1000)
        self.assertEqual(p.api("POST", "/status", "x")[0], 405)
        metrics_served = p.api("GET", "/metrics")[0] == 200

        b = self.browser()
        b.navigate("http://127.0.0.1:%d/" % p.api_port)
        text = wait_for(lambda: (lambda t: t if "o-status" in t and key in t else None)(
            b.evaluate("document.body.innerText")), timeout=15, what="origin and stream on the page")
        self.assertIn("alive", text)
        self.assertIn(hostile, text)
        self.assertIsNone(b.evaluate("document.getElementById('injected') && 'found'"))
        self.assertEqual(b.evaluate("document.title"), "srs-proxy status")
        # The stream row counts the publisher as an RTMP client.
        row = b.evaluate("[...document.querySelectorAll('#streams tbody tr')]"
                         ".map(r => [...r.cells].map(c => c.textContent))")
        [stream_row] = [r for r in row if r[0] == key]
        self.assertEqual(stream_row[1], "o-status")
        heads = b.evaluate("[...document.querySelectorAll('#streams thead th')].map(c => c.textContent)")
        self.assertEqual(stream_row[heads.index("rtmp")], "1")
        # Two refreshes later (2 s apart) it is still clean.
        updated = b.evaluate("document.getElementById('updated').textContent")
        wait_for(lambda: b.evaluate("document.getElementById('updated').textContent") != updated,
                 timeout=6, what="a refresh of the page")
        if metrics_served:
            # Two scrapes apart, the publisher's bytes into the proxy show as an RTMP rate.
            def rtmp_in_rate():
                rows = b.evaluate("[...document.querySelectorAll('#traffic tbody tr')]"
                                  ".map(r => [...r.cells].map(c => c.textContent))")
                return next((r[1] for r in rows if r[0] == "rtmp" and r[1] != "0 B/s"), None)
            wait_for(rtmp_in_rate, timeout=10, what="an RTMP client rate on the page")
        else:
            self.assertIn("need GET /metrics", b.evaluate("document.getElementById('traffic').textContent"))

        self.check_metrics_helpers(b)
        png = b.screenshot(os.path.join(ARTEFACTS, "status.png"))
        print("status page screenshot: %s" % os.path.abspath(png))
        with open(png, "rb") as f:
            data = f.read()
        self.assertGreater(len(data), 1000)
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
        self.assertEqual(console_errors(b, metrics_served), [])

    def check_metrics_helpers(self, b):
        """spParseMetrics, spRates and spFailures on the fixed scrapes above."""
        parsed = json.loads(b.evaluate(
            "JSON.stringify(spParseMetrics(%s).map(s => [s.name, s.labels, String(s.value)]))"
            % json.dumps(METRICS_BEFORE)))
        self.assertEqual(len(parsed), 12)
        self.assertEqual(parsed[0], ["srsproxy_client_bytes_total",
                                     {"protocol": "rtmp", "listener": "127.0.0.1:1935", "direction": "in"}, "1000"])
        self.assertEqual(parsed[1][2], "5000")  # 5e3, timestamp ignored
        self.assertEqual(parsed[6], ["srsproxy_origin_connects_total",
                                     {"origin": 'o "q" \\ b\nl, {x}', "result": "refused"}, "2"])
        self.assertEqual(parsed[8][1]["le"], "+Inf")
        self.assertEqual(parsed[8][2], "7")
        self.assertEqual(parsed[9], ["srsproxy_start_time_seconds", {}, "NaN"])
        self.assertEqual(parsed[10], ["srsproxy_reloads_total", {}, "4"])

        rates = b.evaluate("spRates(spParseMetrics(%s), spParseMetrics(%s), 2)"
                           % (json.dumps(METRICS_BEFORE), json.dumps(METRICS_AFTER)))
        # rtmp in: (3000-1000)/2; out: (9000-5000)/2; http out went down (a
        # restart): all 300 of it are new.
        self.assertEqual(rates["clients"], {"rtmp": {"in": 1000, "out": 2000}, "http": {"in": 0, "out": 150}})
        self.assertEqual(rates["origins"], {"o1": {"in": 0, "out": 0}})

        fails = b.evaluate("spFailures(spParseMetrics(%s), spParseMetrics(%s))"
                           % (json.dumps(METRICS_BEFORE), json.dumps(METRICS_AFTER)))
        # origin_refused +3, the refused connect +1; "normal" and
        # "client_closed" ends (a viewer leaving) and "ok" connects are no failures; the new "timeout" series has no known start.
        self.assertEqual([(f["kind"], f["count"]) for f in fails], [("session", 3), ("connect", 1)])
        self.assertEqual(fails[0]["labels"]["reason"], "origin_refused")
        self.assertEqual(fails[1]["labels"]["origin"], 'o "q" \\ b\nl, {x}')

    def test_token_is_needed_and_passed_on(self):
        p = self.proxy(workers=1, start=False)
        p.write_conf(workers=1, system_api="listen 127.0.0.1:%d; token s3cret;" % p.api_port)
        p.api_ready = lambda: p.api("GET", "/api/v1/versions?token=s3cret")[0] == 200
        p.start()
        status, body = p.register({"ip": "127.0.0.1", "server": "o-token", "service": "s", "pid": "1",
                                   "rtmp": ["19"]}, headers=("Authorization: Bearer s3cret",))
        self.assertEqual(status, 200, body)
        for path in ("/", "/status"):
            self.assertEqual(p.api("GET", path)[0], 401)
            self.assertEqual(p.api("GET", path + "?token=wrong")[0], 401)
            status, text = p.api("GET", path + "?token=s3cret")
            self.assertEqual(status, 200)
            self.assertIn("<title>srs-proxy status</title>", text)
        metrics_served = p.api("GET", "/metrics?token=s3cret")[0] == 200

        b = self.browser()
        # The page's own fetches carry no ?token=: they pass it as a Bearer header.
        b.navigate("http://127.0.0.1:%d/status?token=s3cret" % p.api_port)
        wait_for(lambda: "o-token" in b.evaluate("document.body.innerText"), timeout=15,
                 what="the origin on the page opened with the token")
        self.assertEqual(b.evaluate("document.getElementById('banner').textContent"), "")
        self.assertEqual(console_errors(b, metrics_served), [])

    def test_network_rules_cover_the_page(self):
        p = self.proxy(workers=1, start=False)
        p.write_conf(workers=1, system_api="listen 127.0.0.1:%d; allow 10.0.0.0/8; deny all;" % p.api_port)
        p.api_ready = lambda: p.api("GET", "/api/v1/versions")[0] == 403
        p.start()
        for path in ("/", "/status"):
            status, body = p.api("GET", path)
            self.assertEqual(status, 403)
            self.assertNotIn("<html", body)


if __name__ == "__main__":
    main()
