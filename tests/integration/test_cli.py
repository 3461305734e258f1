"""Command line: -t/-T with exit statuses and messages, -v/-V/-h, -g, -p,
-s with and without a running master (and with a stale pid file), start-up
failures (a busy port, workers that cannot start), and what -t checks
beyond the syntax: the user, the log directory, certificates readable by
the workers, the webrtc candidate."""
import json
import os
import pwd
import signal
import socket
import stat
import subprocess
import time

from harness import BINARY, ProxyTestCase, free_port, main, require, wait_for


def make_cert(directory, bits=2048, name="cert"):
    """A self-signed certificate and key; returns (cert path, key path)."""
    cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
    subprocess.run([require("openssl"), "req", "-x509", "-newkey", "rsa:%d" % bits, "-nodes", "-subj", "/CN=sp",
                    "-days", "2", "-keyout", key, "-out", cert], capture_output=True, check=True, timeout=60)
    return cert, key


def line_of(path, text):
    with open(path) as f:
        return next(i for i, l in enumerate(f.read().splitlines(), 1) if text in l)


def run(*args, env=None):
    return subprocess.run([BINARY] + list(args), capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, **(env or {})))


class Cli(ProxyTestCase):
    def test_t_accepts_a_good_config(self):
        p = self.proxy(body="rtmp { listen 127.0.0.1:1935; }", start=False)
        r = p.run_cli("-t")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("the configuration file %s syntax is ok" % p.conf, r.stderr)
        self.assertIn("test is successful", r.stderr)
        r = p.run_cli("-t", "-q")
        self.assertEqual((r.returncode, r.stderr), (0, ""))

    def test_t_rejects_a_bad_config_with_file_and_line(self):
        p = self.proxy(start=False)
        with open(p.conf, "a") as f:
            f.write("rtmp {\n    listne 1935;\n}\n")
        with open(p.conf) as f:
            line = f.read().splitlines().index("    listne 1935;") + 1
        r = p.run_cli("-t")
        self.assertEqual(r.returncode, 1)
        self.assertIn('[emerg] unknown directive "listne" in %s:%d' % (p.conf, line), r.stderr)
        self.assertIn("test failed", r.stderr)

    def test_T_dumps_the_configuration(self):
        p = self.proxy(body="rtmp { listen 127.0.0.1:1935; }", start=False)
        r = p.run_cli("-T")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("# configuration file %s:" % p.conf, r.stdout)
        self.assertIn("rtmp { listen 127.0.0.1:1935; }", r.stdout)

    def test_version_and_help(self):
        r = run("-v")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"srs-proxy version: srs-proxy/\d+\.\d+\.\d+")
        r = run("-V")
        self.assertIn("configure arguments:", r.stderr)
        r = run("-h")
        self.assertEqual(r.returncode, 0)
        for flag in ("-s signal", "-p prefix", "-c filename", "-g directives", "-t", "-T"):
            self.assertIn(flag, r.stdout)
        r = run("-x")
        self.assertEqual(r.returncode, 1)
        self.assertIn('invalid option: "x"', r.stderr)
        r = run("-s", "restart")
        self.assertEqual(r.returncode, 1)

    def test_g_adds_global_directives(self):
        p = self.proxy(start=False)
        r = p.run_cli("-g", "worker_connections 64;", "-t")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = p.run_cli("-g", "daemon on;", "-t")
        self.assertEqual(r.returncode, 1)
        self.assertIn('"daemon" directive is duplicate', r.stderr)

    def test_p_sets_the_prefix_for_relative_paths(self):
        p = self.proxy(start=False)
        with open(p.conf, "w") as f:
            f.write("daemon off; pid rel.pid; error_log rel.log;\n"
                    "system_api { listen 127.0.0.1:%d; }\n" % p.api_port)
        proc = subprocess.Popen([BINARY, "-p", p.dir, "-c", "srs-proxy.conf"])
        try:
            wait_for(lambda: os.path.exists(os.path.join(p.dir, "rel.pid")), what="pid file under prefix")
            self.assertTrue(os.path.exists(os.path.join(p.dir, "rel.log")))
            r = run("-p", p.dir, "-c", "srs-proxy.conf", "-s", "stop")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(proc.wait(timeout=10), 0)
        finally:
            if proc.poll() is None:
                proc.kill()

    def test_s_without_a_running_master_says_so(self):
        p = self.proxy(start=False)
        r = p.run_cli("-s", "reload")
        self.assertEqual(r.returncode, 1)
        self.assertIn('open() "%s" failed' % p.pid_path, r.stderr)
        self.assertIn("is srs-proxy running?", r.stderr)
        with open(p.pid_path, "w") as f:
            f.write("999999\n")
        r = p.run_cli("-s", "quit")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no srs-proxy master is running", r.stderr)

    def test_s_stop_reaches_the_master(self):
        p = self.proxy()
        r = p.run_cli("-s", "stop")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(p.wait_exit(), 0)

    def test_busy_port_fails_start_with_a_clear_message(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            p = self.proxy(body="rtmp { listen 127.0.0.1:%d; }" % port, start=False)
            r = subprocess.run([BINARY, "-c", p.conf], capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 1)
            self.assertIn("bind() tcp 127.0.0.1:%d failed: Address already in use" % port, r.stderr)

    # ------------------------------------------------ what -t checks for run time

    def assert_t_fails(self, p, *expected):
        r = p.run_cli("-t")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("test failed", r.stderr)
        for text in expected:
            self.assertIn(text, r.stderr)
        return r

    def test_t_rejects_a_missing_user_with_file_and_line(self):
        p = self.proxy(extra_main="user sp-no-such-user;", start=False)
        self.assert_t_fails(p, '"sp-no-such-user" in "user" directive in %s:%d: no such user'
                            % (p.conf, line_of(p.conf, "user sp-no-such-user")))
        # A start with it fails the same way instead of respawning workers.
        r = subprocess.run([BINARY, "-c", p.conf], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such user", r.stderr)

    def test_t_rejects_an_unwritable_log_directory(self):
        missing = os.path.join(self.proxy(start=False).dir, "no-such-dir", "error.log")
        p = self.proxy(start=False)
        with open(p.conf) as f:
            text = f.read().replace("error_log %s" % p.log_path, "error_log %s" % missing)
        with open(p.conf, "w") as f:
            f.write(text)
        self.assert_t_fails(p, 'error_log "%s" cannot be created: directory "%s"' % (missing, os.path.dirname(missing)))
        if os.geteuid() != 0:  # root writes anywhere: only a missing directory stops it
            ro = os.path.join(p.dir, "ro")
            os.mkdir(ro, 0o555)
            with open(p.conf, "w") as f:
                f.write(text.replace(missing, os.path.join(ro, "error.log")))
            self.assert_t_fails(p, 'directory "%s" is not writable' % ro)

    def test_t_rejects_a_certificate_the_workers_cannot_read(self):
        p = self.proxy(start=False)
        cert, key = make_cert(p.dir)
        port = free_port()
        # Relative names resolve against the configuration file's directory.
        body = "http_stream { listen 127.0.0.1:%d ssl; ssl_certificate cert.pem; ssl_certificate_key cert.key; }" % port
        p.write_conf(body=body)
        r = p.run_cli("-t")
        self.assertEqual(r.returncode, 0, r.stderr)
        if os.geteuid() == 0:
            # Root reads anything; the workers, as `user`, may not.
            os.chmod(key, 0o600)
            os.chmod(p.dir, 0o755)
            p.write_conf(body=body, extra_main="user nobody;")
            self.assert_t_fails(p, 'ssl_certificate_key in "http_stream" "%s" cannot be read by user "nobody"' % key)
        else:
            os.chmod(key, 0)
            self.assert_t_fails(p, 'cannot read "%s"' % key)
        # A missing file is named by its resolved path.
        p.write_conf(body=body.replace("cert.pem", "missing.pem"))
        self.assert_t_fails(p, '"%s"' % os.path.join(p.dir, "missing.pem"))

    def test_t_rejects_a_bad_webrtc_candidate(self):
        port = free_port(socket.SOCK_DGRAM)
        for bad in ("'*'", "'bad host!'", "203.0.113.10:9000"):
            p = self.proxy(body="webrtc { listen 127.0.0.1:%d; candidate %s; }" % (port, bad), start=False)
            self.assert_t_fails(p, 'in "candidate" directive in %s:%d' % (p.conf, line_of(p.conf, "candidate")))
        # SRS's convention: the address from the environment.
        p = self.proxy(body="webrtc { listen 127.0.0.1:%d; candidate $CANDIDATE; }" % port, start=False)
        p.env.pop("CANDIDATE", None)
        p.env.pop("PROXY_WEBRTC_CANDIDATE", None)
        self.assert_t_fails(p, "environment variable CANDIDATE is not set")
        p.env["CANDIDATE"] = "192.0.2.10"
        r = p.run_cli("-T")
        self.assertEqual(r.returncode, 0, r.stderr)
        p.env["PROXY_WEBRTC_CANDIDATE"] = "*"
        self.assert_t_fails(p, "PROXY_WEBRTC_CANDIDATE")

    # ------------------------------------------------ workers that fail at start-up

    def weak_cert_conf(self, daemon):
        """A certificate -t accepts (it parses, the key matches) but the
        workers' OpenSSL refuses (RSA-1024 is below the security level):
        every worker serving http_stream fails at start-up."""
        p = self.proxy(start=False)
        make_cert(p.dir, bits=1024, name="weak")
        p.write_conf(body="http_stream { listen 127.0.0.1:%d ssl; ssl_certificate weak.pem; "
                          "ssl_certificate_key weak.key; }" % free_port())
        if daemon:
            with open(p.conf) as f:
                text = f.read().replace("daemon off;", "daemon on;")
            with open(p.conf, "w") as f:
                f.write(text)
        return p

    def test_workers_failing_at_startup_stop_the_master(self):
        p = self.weak_cert_conf(daemon=False)
        self.assertEqual(p.run_cli("-t").returncode, 0)
        start = time.monotonic()
        r = subprocess.run([BINARY, "-c", p.conf], capture_output=True, text=True, timeout=20)
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("failed at start-up", r.stderr)
        self.assertIn("weak.pem", r.stderr)
        log = p.log()
        self.assertIn("stopping instead of respawning it", log)
        self.assertNotIn("respawning", log.replace("instead of respawning", ""))
        self.assertFalse(os.path.exists(p.pid_path))
        # master_process off: the one process fails the same way.
        r = subprocess.run([BINARY, "-c", p.conf, "-g", "master_process off;"], capture_output=True, text=True,
                           timeout=20)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("failed at start-up", r.stderr)

    def test_workers_failing_at_startup_fail_a_daemon_start(self):
        p = self.weak_cert_conf(daemon=True)
        start = time.monotonic()
        r = p.run_cli()
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("[emerg] worker process", r.stderr)
        self.assertIn("failed at start-up", r.stderr)
        wait_for(lambda: not os.path.exists(p.pid_path) and "exit" in p.log(), what="the master to stop")

    # ------------------------------------------------ -s, -V, pid, logs

    def test_s_refuses_a_pid_file_naming_another_process(self):
        p = self.proxy(start=False)
        other = subprocess.Popen(["sleep", "30"])
        try:
            with open(p.pid_path, "w") as f:
                f.write("%d\n" % other.pid)
            r = p.run_cli("-s", "stop")
            self.assertEqual(r.returncode, 1)
            self.assertIn("is not an srs-proxy master", r.stderr)
            self.assertIsNone(other.poll(), "the unrelated process was signalled")
        finally:
            other.kill()
            other.wait()

    def test_V_names_libsrt(self):
        r = run("-V")
        self.assertRegex(r.stderr, r"libsrt \d+\.\d+\.\d+")

    def test_log_is_private_and_hides_tokens(self):
        port = free_port()
        p = self.proxy(body="http_stream { listen 127.0.0.1:%d; }" % port)
        p.api("GET", "/api/v1/versions?token=sp-secret-1&x=visible")
        from harness import curl
        curl("http://127.0.0.1:%d/live/a.flv?token=sp-secret-2&authKey=sp-secret-3&vhost=v" % port, timeout=3)
        wait_for(lambda: "a.flv" in p.log(), what="the request in the log")
        log = p.log()
        self.assertNotIn("sp-secret", log)
        self.assertIn("token=***", log)
        self.assertEqual(stat.S_IMODE(os.stat(p.log_path).st_mode), 0o640)

    def test_daemon_mode_detaches_and_writes_pid(self):
        p = self.proxy(start=False)
        with open(p.conf) as f:
            text = f.read().replace("daemon off;", "daemon on;")
        with open(p.conf, "w") as f:
            f.write(text)
        r = p.run_cli()
        self.assertEqual(r.returncode, 0, r.stderr)
        pid = wait_for(lambda: int(open(p.pid_path).read()), what="daemon pid file")
        try:
            wait_for(p.api_ready, what="daemonised proxy serving")
            # Origins are told the master's pid (the pid file's), not the
            # pid of the process that daemonised.
            status, body = p.register({"ip": "127.0.0.1", "server": "pid-test", "service": "s", "pid": "1",
                                       "rtmp": ["19350"]})
            self.assertEqual(status, 200, body)
            self.assertEqual(body["pid"], str(pid))
        finally:
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not os.path.exists(p.pid_path), what="daemon exit")


if __name__ == "__main__":
    main()
