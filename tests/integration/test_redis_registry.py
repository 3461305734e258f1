"""Several proxies sharing one registry in a real redis-server (backend
redis, one key prefix): an origin registered only at A is listed by B within
a second; it expires on every proxy when its heartbeats stop; a restarted
origin (new service id) replaces its entry everywhere; /api/v1/versions says
the backend and that Redis is reachable; with redis-server stopped a
registration is still answered (accepted locally), the API says unreachable
and each worker logs "lost" once; restarted, each logs "back" and the local
registration reaches Redis (the other proxy lists it). Also -t: where the
workers will connect, PING answered or a clear warning, the password never
printed."""
import re
import signal
import time
import uuid

from harness import ProxyTestCase, free_port, main, wait_for
from redis_fixture import RedisServer


def origin_body(server, service="svc-1", pid="100"):
    # An endpoint port nothing listens on and that is none of the proxies' own.
    return {"ip": "127.0.0.1", "server": server, "service": service, "pid": pid,
            "rtmp": [str(free_port())]}


def origins(p):
    status, body = p.api_json("GET", "/api/v1/origins")
    assert status == 200, (status, body)
    return {o["server"]: o for o in body["origins"]}


def registry_state(p):
    status, body = p.api_json("GET", "/api/v1/versions")
    assert status == 200, (status, body)
    return body["registry"]


class RedisRegistry(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.redis = RedisServer().start()
        self.addCleanup(self.redis.stop)
        self.prefix = "it-%s:" % uuid.uuid4().hex[:8]

    def redis_proxy(self, origin_ttl="300s", extra="", start=True):
        body = ("registry { backend redis; redis %s; redis_key_prefix %s; origin_ttl %s; "
                "redis_timeout 500ms; %s }" % (self.redis.address, self.prefix, origin_ttl, extra))
        return self.proxy(body, workers=1, start=start)

    def test_an_origin_registered_at_a_is_listed_by_b_within_a_second(self):
        a, b = self.redis_proxy(), self.redis_proxy()
        status, body = a.register(origin_body("o-shared"))
        self.assertEqual((status, body["code"]), (200, 0), body)
        registered = time.monotonic()
        wait_for(lambda: "o-shared" in origins(b), timeout=1.0, interval=0.02,
                 what="origin o-shared listed by proxy B")
        self.assertLess(time.monotonic() - registered, 1.0)
        o = origins(b)["o-shared"]
        self.assertTrue(o["alive"])
        self.assertEqual(o["service"], "svc-1")
        # The registration is in Redis under the shared prefix.
        self.assertEqual(self.redis.command("SISMEMBER", self.prefix + "origins", "o-shared"), 1)

    def test_an_origin_expires_on_every_proxy_when_its_heartbeats_stop(self):
        a, b, c = self.redis_proxy("2s"), self.redis_proxy("2s"), self.redis_proxy("2s")
        status, _ = b.register(origin_body("o-mortal"))
        self.assertEqual(status, 200)
        for p in (a, b, c):
            self.assertTrue(origins(p)["o-mortal"]["heartbeat_alive"])
        stopped = time.monotonic()
        for p in (a, b, c):
            wait_for(lambda: not origins(p).get("o-mortal", {"heartbeat_alive": False})["heartbeat_alive"],
                     timeout=6, interval=0.05, what="o-mortal dead on every proxy")
        self.assertGreater(time.monotonic() - stopped, 1.5)
        # Then its entry goes away everywhere (Redis's TTL, not a host clock).
        for p in (a, b, c):
            wait_for(lambda: "o-mortal" not in origins(p), timeout=8, interval=0.1,
                     what="o-mortal dropped on every proxy")

    def test_a_restarted_origin_replaces_its_entry_everywhere(self):
        a, b = self.redis_proxy(), self.redis_proxy()
        self.assertEqual(a.register(origin_body("o-re", service="first", pid="10"))[0], 200)
        self.assertEqual(origins(b)["o-re"]["service"], "first")
        self.assertEqual(b.register(origin_body("o-re", service="second", pid="20"))[0], 200)
        for p in (a, b):
            listed = origins(p)
            self.assertEqual([s for s in listed if s == "o-re"], ["o-re"])
            self.assertEqual((listed["o-re"]["service"], listed["o-re"]["pid"]), ("second", "20"))

    def test_versions_says_redis_is_reachable_and_names_the_proxy(self):
        a, b = self.redis_proxy(), self.redis_proxy()
        ra, rb = registry_state(a), registry_state(b)
        self.assertEqual(ra["backend"], "redis")
        self.assertTrue(ra["redis_reachable"])
        self.assertEqual(ra["redis"], self.redis.address)
        self.assertEqual(ra["redis_key_prefix"], self.prefix)
        self.assertRegex(ra["proxy_id"], r"^[\w.-]+:%d:\d+$" % a.pid)
        self.assertNotEqual(ra["proxy_id"], rb["proxy_id"])
        # This proxy's heartbeat is in Redis under its id.
        wait_for(lambda: self.redis.command("EXISTS", self.prefix + "px:" + ra["proxy_id"]) == 1,
                 timeout=5, what="proxy heartbeat key in redis")

    def test_an_outage_accepts_registrations_and_writes_them_when_redis_is_back(self):
        a, b = self.redis_proxy(), self.redis_proxy()
        wait_for(lambda: a.log().count("connected (db 0)") >= 2, what="both of A's workers connected")
        self.redis.stop()
        wait_for(lambda: not registry_state(a)["redis_reachable"], timeout=5, what="A to see redis unreachable")
        status, body = a.register(origin_body("o-outage"))
        self.assertEqual((status, body["code"]), (200, 0), body)
        self.assertIn("o-outage", origins(a))  # the local cache's view
        # One "lost" line per worker connection (the protocol worker and the
        # API worker), not one per request.
        wait_for(lambda: len(re.findall(r"\]\[(\d+)\]\[[^\]]*\] registry: redis [^:]+:\d+: connection lost",
                                        a.log())) >= 2, timeout=5, what="both workers' lost lines")
        for _ in range(5):
            self.assertEqual(a.register(origin_body("o-outage"))[0], 200)
        lost = re.findall(r"\]\[(\d+)\]\[[^\]]*\] registry: redis [^:]+:\d+: connection lost", a.log())
        self.assertEqual(len(lost), len(set(lost)), "one lost line per worker: %s" % lost)
        self.assertEqual(len(lost), 2)

        self.redis.start()
        wait_for(lambda: registry_state(a)["redis_reachable"], timeout=8, what="A to reconnect")
        wait_for(lambda: a.log().count("back, reachable again") >= 2, timeout=8, what="both workers back")
        wait_for(lambda: "o-outage" in origins(b), timeout=5, what="the outage registration at proxy B")
        self.assertTrue(origins(b)["o-outage"]["alive"])

    def test_a_reload_moves_the_new_workers_to_redis(self):
        p = self.proxy(workers=1)
        self.assertEqual(registry_state(p), {"backend": "memory"})
        p.write_conf("registry { backend redis; redis %s; redis_key_prefix %s; }" % (self.redis.address, self.prefix),
                     workers=1)
        p.signal(signal.SIGHUP)
        p.wait_log("reconfigured: generation 2")
        self.assertIn("registry: the new workers use backend redis at %s" % self.redis.address, p.log())
        wait_for(lambda: registry_state(p).get("redis_reachable") is True, timeout=10,
                 what="the new API worker on redis")
        self.assertEqual(p.register(origin_body("o-reloaded"))[0], 200)
        self.assertEqual(self.redis.command("SISMEMBER", self.prefix + "origins", "o-reloaded"), 1)

    def test_t_says_where_it_connects_and_never_prints_the_password(self):
        p = self.redis_proxy(extra="redis_password hunter2;", start=False)
        r = p.run_cli("-t")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("registry: backend redis: the workers will connect to %s" % self.redis.address, r.stderr)
        # This redis has no password: AUTH fails, reported as a warning.
        self.assertIn("registry: warning: redis %s did not answer PING" % self.redis.address, r.stderr)
        self.assertNotIn("hunter2", r.stderr)
        r = p.run_cli("-T")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("redis_password ***;", r.stdout)
        self.assertNotIn("hunter2", r.stdout + r.stderr)
        p = self.redis_proxy(start=False)
        r = p.run_cli("-t")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"registry: redis %s answered PING in \d+ ms" % re.escape(self.redis.address))
        p.write_conf("registry { backend redis; redis 127.0.0.1:0; }", workers=1)
        r = p.run_cli("-t")
        self.assertEqual(r.returncode, 1)
        self.assertIn('invalid value "127.0.0.1:0" in "redis" directive', r.stderr)
        p.write_conf("registry { backend redis; redis_key_prefix 'a b'; }", workers=1)
        r = p.run_cli("-t")
        self.assertEqual(r.returncode, 1)
        self.assertIn("redis_key_prefix", r.stderr)


if __name__ == "__main__":
    main()
