"""Reload (HUP): a valid new configuration starts new workers while the old
ones drain; a kept listener never refuses a connection during the reload; an
invalid configuration changes nothing. USR1 reopens a rotated log."""
import os
import signal
import socket
import subprocess
import threading

from harness import ProxyTestCase, free_port, main, require, wait_for


class ConnectLoop(threading.Thread):
    """Connects to a port over and over and counts refusals."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.ok, self.refused = port, 0, []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.sendall(b"GET /api/v1/versions HTTP/1.0\r\n\r\n")
                    self.ok += 1
            except OSError as e:
                self.refused.append(repr(e))


class Reload(ProxyTestCase):
    def test_hup_with_new_config_replaces_workers_without_refusing(self):
        p = self.proxy(workers=2)
        old = set(p.children())
        p.wait_children(2)
        old = set(p.children())
        loop = ConnectLoop(p.api_port)
        loop.start()
        wait_for(lambda: loop.ok > 20, what="connections before reload")
        rtmp_port = free_port()
        p.write_conf(workers=3, body="rtmp { listen 127.0.0.1:%d; }" % rtmp_port)
        p.signal(signal.SIGHUP)
        p.wait_log("reconfigured: generation 2")
        wait_for(lambda: len(p.workers()) == 3 and not (set(p.children()) & old), timeout=15,
                 what="old workers gone, 3 new ones")
        before = loop.ok
        wait_for(lambda: loop.ok > before + 20, what="connections after reload")
        loop.stop.set()
        loop.join()
        self.assertEqual(loop.refused, [])
        # The new listener from the new configuration is open.
        socket.create_connection(("127.0.0.1", rtmp_port), timeout=2).close()

    def test_listen_backlog_is_set_and_changed_by_a_reload(self):
        """`listen ... backlog=N` is the socket's accept queue (ss shows it as
        Send-Q of a listening socket); a reload changes it on the socket it
        keeps, and without the parameter it is 511."""
        def backlog(port):
            out = subprocess.run([require("ss"), "-Hltn", "sport = :%d" % port], capture_output=True, text=True,
                                 check=True).stdout.split()
            return int(out[2]) if len(out) > 2 else None
        rtmp_port = free_port()
        p = self.proxy(workers=1, body="rtmp { listen 127.0.0.1:%d backlog=300; }" % rtmp_port)
        p.wait_children(1)
        self.assertEqual(backlog(rtmp_port), 300)
        self.assertEqual(backlog(p.api_port), 511)
        p.write_conf(workers=1, body="rtmp { listen 127.0.0.1:%d backlog=1000; }" % rtmp_port)
        p.signal(signal.SIGHUP)
        p.wait_log("reconfigured: generation 2")
        self.assertEqual(backlog(rtmp_port), 1000)

    def test_hup_with_broken_config_keeps_everything(self):
        p = self.proxy(workers=2)
        p.wait_children(2)
        before = set(p.children())
        with open(p.conf, "a") as f:
            f.write("\nbogus_directive on;\n")
        p.signal(signal.SIGHUP)
        p.wait_log('reload failed, configuration unchanged: unknown directive "bogus_directive"')
        self.assertEqual(set(p.children()), before)
        self.assertTrue(p.api_ready())

    def test_hup_dropping_a_listener_closes_it(self):
        port = free_port()
        p = self.proxy(workers=1, body="rtmp { listen 127.0.0.1:%d; }" % port)
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        p.write_conf(workers=1)
        p.signal(signal.SIGHUP)
        p.wait_log("reconfigured: generation 2")

        def refused():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return False
            except ConnectionRefusedError:
                return True
        wait_for(refused, timeout=15, what="dropped listener closed")

    def test_usr1_reopens_a_rotated_log(self):
        p = self.proxy(workers=1)
        p.wait_children(1)
        rotated = p.log_path + ".1"
        os.rename(p.log_path, rotated)
        p.signal(signal.SIGUSR1)
        wait_for(lambda: os.path.exists(p.log_path), what="new log file")
        p.wait_log("log reopened")
        # Every process writes to the new file: one line from each worker.
        wait_for(lambda: p.log().count("log reopened") >= 3, what="all processes reopened")
        with open(rotated) as f:
            self.assertIn("started worker process", f.read())


if __name__ == "__main__":
    main()
