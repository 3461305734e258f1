"""Hostile registrations through the real binary: addresses nobody can connect
to, NUL and control characters, invalid UTF-8, and an origin that is the proxy
itself (a self-loop) are refused with 400 naming the field, while the real
origin and /api/v1/origins stay intact. Also the warning for a system API that
listens on every address without a token (PROXY_SYSTEM_API=<bare port>)."""
import http.client
import json
import signal
import socket

from harness import ProxyTestCase, free_port, main, wait_for


def post_raw(p, body):
    """POSTs raw bytes to the register API; (status, parsed JSON answer)."""
    conn = http.client.HTTPConnection("127.0.0.1", p.api_port, timeout=10)
    try:
        conn.request("POST", "/api/v1/srs/register", body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, json.loads(r.read().decode("utf-8"))
    finally:
        conn.close()


def origins_strict(p):
    """/api/v1/origins read as bytes, decoded as strict UTF-8, parsed as JSON."""
    conn = http.client.HTTPConnection("127.0.0.1", p.api_port, timeout=10)
    try:
        conn.request("GET", "/api/v1/origins")
        r = conn.getresponse()
        raw = r.read()
        assert r.status == 200, (r.status, raw)
        return json.loads(raw.decode("utf-8", errors="strict"))["origins"]
    finally:
        conn.close()


def host_address():
    """A non-loopback IPv4 address of this host (the source address the kernel
    picks for an outside destination; no packet is sent), or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            addr = s.getsockname()[0]
    except OSError:
        return None
    return None if addr.startswith("127.") else addr


def body(ip="127.0.0.1", server="s", rtmp=("19351",), **extra):
    b = {"ip": ip, "server": server, "service": "svc", "pid": "1", "rtmp": list(rtmp)}
    b.update(extra)
    return b


FZ = body(server="fz", device_id="real-fz", rtmp=("19351",))


class HostileFields(ProxyTestCase):
    def test_unconnectable_ips_are_refused(self):
        p = self.proxy(workers=1)
        for ip in ("localhost", "0.0.0.0", "255.255.255.255", "1.2.3.4; rm -rf", "224.0.0.1", "::", "ff02::1",
                   "example.com"):
            status, reply = p.register(body(ip=ip, server="bad"))
            self.assertEqual(status, 400, (ip, reply))
            self.assertIn('field "ip"', reply["error"], ip)
        # A specific endpoint host follows the same rule.
        status, reply = p.register(body(server="bad", rtmp=("tcp://255.255.255.255:1935",)))
        self.assertEqual(status, 400, reply)
        self.assertIn('field "rtmp"', reply["error"])
        self.assertEqual(origins_strict(p), [])

    def test_nul_and_invalid_utf8_never_reach_the_registry(self):
        p = self.proxy(workers=1)
        self.assertEqual(p.register(FZ)[0], 200)
        cases = [
            ("server", json.dumps(body(server="fz\u0000evil")).encode()),
            ("device_id", json.dumps(body(server="x", device_id="real\u0000evil")).encode()),
            ("server", b'{"ip":"127.0.0.1","server":"fz\xff\xfe","service":"s","pid":"1","rtmp":["1"]}'),
            ("device_id", b'{"ip":"127.0.0.1","server":"y","device_id":"\xc0\x80","service":"s","pid":"1",'
                          b'"rtmp":["1"]}'),
            ("service", json.dumps(body(server="z", service="a\u0001b")).encode()),
            ("pid", b'{"ip":"127.0.0.1","server":"w","service":"s","pid":"1\x00","rtmp":["1"]}'),
        ]
        for field, raw in cases:
            status, reply = post_raw(p, raw)
            self.assertEqual(status, 400, (field, raw, reply))
            self.assertIn('field "%s"' % field, reply["error"], raw)
        [o] = origins_strict(p)
        self.assertEqual((o["server"], o["device_id"], o["service"]), ("fz", "real-fz", "svc"))
        self.assertTrue(o["alive"])


class SelfLoop(ProxyTestCase):
    def test_own_specific_listener_is_refused(self):
        rtmp, http = free_port(), free_port()
        p = self.proxy(workers=1, body="rtmp { listen 127.0.0.1:%d; }\nhttp_stream { listen 127.0.0.1:%d; }"
                       % (rtmp, http))
        status, reply = p.register(body(server="loop", rtmp=(str(rtmp),)))
        self.assertEqual(status, 400, reply)
        self.assertIn('field "rtmp"', reply["error"])
        self.assertIn("self-loop", reply["error"])
        status, reply = p.register(body(server="loop", ip="10.1.2.3", http=["tcp://127.0.0.1:%d" % http]))
        self.assertEqual(status, 400, reply)
        self.assertIn('field "http"', reply["error"])
        # The system API's own port as an origin's api endpoint.
        status, reply = p.register(body(server="loop", api=[str(p.api_port)]))
        self.assertEqual(status, 400, reply)
        self.assertIn('field "api"', reply["error"])
        # Another loopback address or another port is some other server.
        self.assertEqual(p.register(body(server="ok1", ip="127.0.0.2", rtmp=(str(rtmp),)))[0], 200)
        self.assertEqual(p.register(body(server="ok2", rtmp=(str(free_port()),)))[0], 200)
        self.assertEqual(sorted(o["server"] for o in origins_strict(p)), ["ok1", "ok2"])

    def test_wildcard_listener_matches_every_local_address(self):
        rtmp, srt = free_port(), free_port()
        p = self.proxy(workers=1, body="rtmp { listen %d; }\nsrt { listen %d; }" % (rtmp, srt))
        for ip in ("127.0.0.1", "127.9.9.9"):
            status, reply = p.register(body(server="loop", ip=ip, rtmp=(str(rtmp),)))
            self.assertEqual(status, 400, (ip, reply))
            self.assertIn("self-loop", reply["error"])
        status, reply = p.register(body(server="loop", srt=["udp://0.0.0.0:%d" % srt]))
        self.assertEqual(status, 400, reply)
        self.assertIn('field "srt"', reply["error"])
        # An address of one of this host's interfaces, when it has one besides lo.
        own = host_address()
        if own:
            status, reply = p.register(body(server="loop", ip=own, rtmp=(str(rtmp),)))
            self.assertEqual(status, 400, (own, reply))
            self.assertIn("self-loop", reply["error"])
        # A TCP endpoint on the SRT (UDP) port reaches no proxy.
        self.assertEqual(p.register(body(server="ok", rtmp=(str(srt),)))[0], 200)

    def test_rules_follow_a_reload(self):
        a, b = free_port(), free_port()
        p = self.proxy(workers=1, body="rtmp { listen 127.0.0.1:%d; }" % a)
        self.assertEqual(p.register(body(server="o1", rtmp=(str(b),)))[0], 200)
        self.assertEqual(p.register(body(server="o2", rtmp=(str(a),)))[0], 400)
        p.write_conf(body="rtmp { listen 127.0.0.1:%d; }" % b, workers=1)
        p.signal(signal.SIGHUP)
        p.wait_log("reconfigured: generation 2")
        # Once the new API worker answers, port b is the proxy and port a is free.
        wait_for(lambda: p.register(body(server="o3", rtmp=(str(b),)))[0] == 400, what="refusal of the new port")
        wait_for(lambda: p.register(body(server="o4", rtmp=(str(a),)))[0] == 200, what="the old port accepted")


class Exposure(ProxyTestCase):
    def test_bare_port_system_api_warns(self):
        p = self.proxy(workers=1, start=False)
        p.env["PROXY_SYSTEM_API"] = str(p.api_port)
        p.start()
        p.wait_log("reachable from other hosts")
        self.assertIn("0.0.0.0:%d" % p.api_port, p.log())
        self.assertIn("no token", p.log())
        # And again on reload.
        p.signal(signal.SIGHUP)
        p.wait_log("reconfigured: generation 2")
        wait_for(lambda: p.log().count("reachable from other hosts") >= 2, what="warning after reload")

    def test_loopback_system_api_does_not_warn(self):
        p = self.proxy(workers=1)
        self.assertEqual(p.register(FZ)[0], 200)
        self.assertNotIn("reachable from other hosts", p.log())


if __name__ == "__main__":
    main()
