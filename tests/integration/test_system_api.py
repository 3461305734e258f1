"""System API through the real binary and curl: registration with the real
SRS heartbeat bodies, restart replacement, expiry after origin_ttl, default
backend, token and allow/deny refusals, and hostile bodies."""
import json
import socket

from harness import ProxyTestCase, fixture, main, wait_for


def origins(p):
    status, body = p.api_json("GET", "/api/v1/origins")
    assert status == 200, (status, body)
    return body["origins"]


class Registration(ProxyTestCase):
    def test_srs_heartbeats_with_and_without_summaries(self):
        p = self.proxy(workers=1)
        for name in ("srs-heartbeat.json", "srs-heartbeat-summaries.json"):
            status, body = p.register(fixture(name),
                                      headers=("User-Agent: SRS/7.0.18", "Connection: keep-alive"))
            self.assertEqual(status, 200, body)
            self.assertEqual(body["code"], 0)
            self.assertTrue(body["pid"].isdigit())
        by_server = {o["server"]: o for o in origins(p)}
        self.assertEqual(sorted(by_server), ["vid-682yv42", "vid-9nqk930"])
        o = by_server["vid-682yv42"]
        self.assertEqual((o["device_id"], o["ip"]), ("origin1", "127.0.0.1"))
        self.assertTrue(o["alive"])
        eps = o["endpoints"]
        self.assertEqual(len(eps["rtmp"]), 1)
        self.assertIn("19351", eps["rtmp"][0])
        self.assertIn("10081", eps["srt"][0])
        self.assertIn("8001", eps["rtc"][0])

    def test_every_endpoint_format(self):
        p = self.proxy(workers=1)
        formats = ["1935", ":1935", "tcp://:1935", "tcp://0.0.0.0:1935", "udp://0.0.0.0:8001",
                   "tcp://192.168.3.10:1935", "0.0.0.0:1935", "[::]:1935"]
        for i, f in enumerate(formats):
            status, body = p.register({"ip": "127.0.0.1", "server": "s%d" % i, "service": "x",
                                       "pid": "1", "rtmp": [f]})
            self.assertEqual(status, 200, (f, body))
        self.assertEqual(len(origins(p)), len(formats))

    def test_restart_replaces_the_origin(self):
        p = self.proxy(workers=1)
        hb = json.loads(fixture("srs-heartbeat.json"))
        self.assertEqual(p.register(hb)[0], 200)
        hb.update(service="newservice", pid="999")
        self.assertEqual(p.register(hb)[0], 200)
        [o] = origins(p)
        self.assertEqual((o["service"], o["pid"]), ("newservice", "999"))

    def test_bad_bodies_get_400_naming_the_field(self):
        p = self.proxy(workers=1)
        good = json.loads(fixture("srs-heartbeat.json"))
        cases = [
            ("{not json", None),
            ("[]", None),
            (json.dumps(dict(good, rtmp=[])), "rtmp"),
            (json.dumps(dict(good, ip=5)), "ip"),
            (json.dumps({k: v for k, v in good.items() if k != "server"}), "server"),
            (json.dumps(dict(good, rtmp=["tcp://:99999"])), "rtmp"),
            (json.dumps(dict(good, http="8080")), "http"),
        ]
        for body, field in cases:
            status, reply = p.register(body)
            self.assertEqual(status, 400, body)
            self.assertNotEqual(reply["code"], 0)
            if field:
                self.assertIn(field, reply["error"])
        self.assertEqual(origins(p), [])
        # The worker survived all of it.
        self.assertEqual(p.register(good)[0], 200)

    def test_huge_body_gets_413(self):
        p = self.proxy(workers=1)
        status, _ = p.api("POST", "/api/v1/srs/register", "x" * (256 * 1024),
                          headers=("Content-Type: application/json",))
        self.assertEqual(status, 413)
        self.assertTrue(p.api_ready())

    def test_expect_100_continue_is_answered_before_the_body(self):
        # curl asks for it on bodies over 1 KiB and, unanswered, waits a
        # second before sending the body anyway.
        p = self.proxy(workers=1)
        body = fixture("srs-heartbeat.json").encode()
        with socket.create_connection(("127.0.0.1", p.api_port), timeout=5) as s:
            s.sendall(b"POST /api/v1/srs/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
            interim = b""
            while len(interim) < 25:
                chunk = s.recv(25 - len(interim))
                if not chunk:
                    break
                interim += chunk
            self.assertEqual(interim, b"HTTP/1.1 100 Continue\r\n\r\n")
            s.sendall(body)
            reply = s.recv(4096)
        self.assertTrue(reply.startswith(b"HTTP/1.1 200 OK\r\n"), reply)
        self.assertEqual([o["server"] for o in origins(p)], ["vid-682yv42"])

    def test_unknown_route_and_method(self):
        p = self.proxy(workers=1)
        self.assertEqual(p.api("GET", "/api/v1/nothing")[0], 404)
        self.assertEqual(p.api("GET", "/api/v1/srs/register")[0], 405)

    def test_expiry_after_origin_ttl(self):
        p = self.proxy(workers=1, extra_main="registry { origin_ttl 1s; }")
        self.assertEqual(p.register(fixture("srs-heartbeat.json"))[0], 200)
        self.assertTrue(origins(p)[0]["alive"])
        wait_for(lambda: origins(p) and not origins(p)[0]["alive"], timeout=5, what="origin dead")
        # Dead for another ttl: purged by the API worker's expiry job.
        wait_for(lambda: origins(p) == [], timeout=5, what="origin purged")

    def test_default_backend_is_registered(self):
        p = self.proxy(workers=1, env={"PROXY_DEFAULT_BACKEND_ENABLED": "on",
                                       "PROXY_DEFAULT_BACKEND_IP": "127.0.0.1",
                                       "PROXY_DEFAULT_BACKEND_RTMP": "19350",
                                       "PROXY_DEFAULT_BACKEND_SRT": "udp://0.0.0.0:10081"})
        [o] = wait_for(lambda: origins(p), what="default backend")
        self.assertEqual(o["server"], "default-backend")
        self.assertTrue(o["alive"])
        self.assertIn("19350", o["endpoints"]["rtmp"][0])


class Access(ProxyTestCase):
    def token_proxy(self):
        p = self.proxy(workers=1, start=False)
        p.write_conf(workers=1, system_api="listen 127.0.0.1:%d; token s3cret;" % p.api_port)
        p.start_ready = lambda: p.api("GET", "/api/v1/versions?token=s3cret")[0] == 200
        p.api_ready = p.start_ready
        return p.start()

    def test_token_required(self):
        p = self.token_proxy()
        hb = fixture("srs-heartbeat.json")
        status, body = p.register(hb)
        self.assertEqual(status, 401)
        self.assertNotEqual(body["code"], 0)
        self.assertEqual(p.register(hb, headers=("Authorization: Bearer wrong",))[0], 401)
        self.assertEqual(p.register(hb, headers=("Authorization: Bearer s3cret",))[0], 200)
        status, _ = p.api_json("POST", "/api/v1/srs/register?token=s3cret", hb)
        self.assertEqual(status, 200)
        p.wait_log("401")

    def test_deny_network(self):
        p = self.proxy(workers=1, start=False)
        p.write_conf(workers=1, system_api="listen 127.0.0.1:%d; allow 10.0.0.0/8; deny all;" % p.api_port)
        p.api_ready = lambda: p.api("GET", "/api/v1/versions")[0] == 403
        p.start()
        status, body = p.register(fixture("srs-heartbeat.json"))
        self.assertEqual(status, 403)
        self.assertNotEqual(body["code"], 0)
        p.wait_log("127.0.0.1")

    def test_allow_network(self):
        p = self.proxy(workers=1, start=False)
        p.write_conf(workers=1, system_api="listen 127.0.0.1:%d; allow 127.0.0.0/8; deny all;" % p.api_port)
        p.start()
        self.assertEqual(p.register(fixture("srs-heartbeat.json"))[0], 200)


if __name__ == "__main__":
    main()
