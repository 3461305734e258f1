"""Command line: -t/-T with exit statuses and messages, -v/-V/-h, -g, -p,
-s with and without a running master, and start-up failures."""
import os
import signal
import socket
import subprocess

from harness import BINARY, ProxyTestCase, main, wait_for


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
        finally:
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not os.path.exists(p.pid_path), what="daemon exit")


if __name__ == "__main__":
    main()
