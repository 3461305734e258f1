"""The Go proxy's environment: a `.env` file named by `env_file`, with
PROXY_ORIGIN_SERVER_TTL setting how long an origin stays alive without a
heartbeat, the real environment winning over the file, and -t saying where
each setting came from."""
import json
import os
import subprocess
import time

from harness import BINARY, ProxyTestCase, fixture, free_port, main, port_open, wait_for


class Environment(ProxyTestCase):
    def env_file(self, p, text):
        path = os.path.join(p.dir, "proxy.env")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_origin_expires_after_the_ttl_from_the_env_file(self):
        rtmp = free_port()
        p = self.proxy(workers=1, start=False)
        path = self.env_file(p, "# from the Go proxy's deployment\n"
                                "export PROXY_RTMP_SERVER=127.0.0.1:%d\n"
                                "PROXY_ORIGIN_SERVER_TTL='2s'   # upstream's Go duration\n" % rtmp)
        p.write_conf(workers=1, extra_main="env_file %s;" % path)
        p.env.pop("PROXY_ORIGIN_SERVER_TTL", None)
        p.env.pop("PROXY_RTMP_SERVER", None)
        p.start()
        wait_for(lambda: port_open(rtmp), what="rtmp listener from the env file")
        p.wait_log("environment: PROXY_ORIGIN_SERVER_TTL=2s from %s:3 sets registry { origin_ttl }" % path)

        status, body = p.register(fixture("srs-heartbeat.json"))
        registered = time.monotonic()
        self.assertEqual(status, 200, body)
        server = json.loads(fixture("srs-heartbeat.json"))["server"]
        entry = p.origin_entry(server)
        self.assertTrue(entry["heartbeat_alive"], entry)
        # One registration and no heartbeat: dead once the 2 s pass (the
        # default 300 s would keep it alive for the whole test).
        wait_for(lambda: not p.origin_entry(server)["heartbeat_alive"], timeout=8, interval=0.05,
                 what="origin %s to expire" % server)
        elapsed = time.monotonic() - registered
        self.assertGreater(elapsed, 1.5)
        self.assertLess(elapsed, 4.0)

    def test_the_environment_wins_and_t_says_where_from(self):
        p = self.proxy(workers=1, start=False)
        path = self.env_file(p, "PROXY_ORIGIN_SERVER_TTL=2s\nPROXY_REDIS_PASSWORD=secret\nPROXY_GRACE_QUIT_TIMEOUT=5s\n")
        p.write_conf(workers=1, extra_main="env_file %s;" % path)
        p.env["PROXY_ORIGIN_SERVER_TTL"] = "1m30s"
        r = p.run_cli("-t")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("PROXY_ORIGIN_SERVER_TTL=1m30s from the environment sets registry { origin_ttl }", r.stderr)
        self.assertIn("PROXY_GRACE_QUIT_TIMEOUT=5s from %s:3 sets shutdown_timeout" % path, r.stderr)
        # Applied, but the password itself is never printed.
        self.assertIn("PROXY_REDIS_PASSWORD=*** from %s:2 sets registry { redis_password }" % path, r.stderr)
        self.assertNotIn("secret", r.stderr)
        self.assertIn("every other setting comes from %s" % p.conf, r.stderr)
        r = p.run_cli("-T")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("#   PROXY_GRACE_QUIT_TIMEOUT=5s from %s:3" % path, r.stdout)
        self.assertNotIn("secret", r.stdout)

    def test_malformed_lines_and_values_name_file_and_line(self):
        p = self.proxy(workers=1, start=False)
        p.env.pop("PROXY_ORIGIN_SERVER_TTL", None)
        path = self.env_file(p, "PROXY_RTMP_SERVER=11935\nPROXY_ORIGIN_SERVER_TTL 2s\n")
        p.write_conf(workers=1, extra_main="env_file %s;" % path)
        r = p.run_cli("-t")
        self.assertEqual(r.returncode, 1)
        self.assertIn("env_file: %s:2: expected KEY=VALUE" % path, r.stderr)
        self.env_file(p, "PROXY_ORIGIN_SERVER_TTL=5 minutes\n")
        r = p.run_cli("-t")
        self.assertEqual(r.returncode, 1)
        self.assertIn('invalid PROXY_ORIGIN_SERVER_TTL="5 minutes" from %s:1' % path, r.stderr)

    def test_no_env_file_is_read_without_the_directive(self):
        p = self.proxy(workers=1, start=False)
        p.env.pop("PROXY_ORIGIN_SERVER_TTL", None)
        with open(os.path.join(p.dir, ".env"), "w") as f:
            f.write("PROXY_ORIGIN_SERVER_TTL=broken\n")
        r = subprocess.run([BINARY, "-c", p.conf, "-t"], capture_output=True, text=True, env=p.env, cwd=p.dir,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("PROXY_ORIGIN_SERVER_TTL", r.stderr)


if __name__ == "__main__":
    main()
