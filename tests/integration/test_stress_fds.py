"""Stress (ctest label `stress`): file-descriptor exhaustion. The workers get
RLIMIT_NOFILE 64 and are sent more connections than that on every TCP
listener (rtmp, http_stream, http_api, system_api): accept() fails with
EMFILE, which is logged (at most once a second per listener) and retried
every 100 ms: no busy loop (the workers' CPU time stays low), no crash (the
same worker pids), and once the extra connections close, the clients that
waited in the listen queue meanwhile and new ones are served.

Before core/accept_backoff.h, libevent retried the failing accept() at once,
forever, warning on stderr each time: a core at 100%, and a worker whose
stderr pipe filled blocked in write(2) and served no one again.
"""
import resource
import socket
import time

from harness import ProxyTestCase, curl, free_port, main, wait_for
from stress_fixture import cpu_seconds, raise_nofile

NOFILE = 64
EXTRA = 120  # connections per listener: well past what 64 descriptors hold


def rtmp_handshake(sock, timeout=5):
    """Sends C0C1 and reads S0S1S2: a worker accepted the connection and serves it."""
    sock.settimeout(timeout)
    sock.sendall(b"\x03" + bytes(1536))
    got = b""
    while len(got) < 1 + 2 * 1536:
        data = sock.recv(8192)
        if not data:
            raise EOFError("closed after %d bytes" % len(got))
        got += data
    return True


class StressFds(ProxyTestCase):
    def test_descriptor_exhaustion_is_logged_retried_and_recovers(self):
        raise_nofile(4096)
        ports = {k: free_port() for k in ("rtmp", "http_stream", "http_api")}
        p = self.proxy(body="rtmp { listen 127.0.0.1:%d; handshake_timeout 60s; }\n"
                            "http_stream { listen 127.0.0.1:%d; idle_timeout 60s; }\n"
                            "http_api { listen 127.0.0.1:%d; idle_timeout 60s; }\n"
                            % (ports["rtmp"], ports["http_stream"], ports["http_api"]), workers=1)
        ports["system_api"] = p.api_port
        p.wait_children(1)
        worker, api = p.workers()[0], p.api_workers()[0]
        # Every listener serves a client first. (Besides, in a sanitizer
        # build UBSan's first check of each virtual call needs a pipe(),
        # which fails with EMFILE and reads as a bad vptr: the checks are
        # cached once made.)
        self.serve_everyone(p, ports)
        for pid in (p.pid, worker, api):  # respawned workers would inherit the master's
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (NOFILE, NOFILE))

        held = []
        try:
            for kind, port in ports.items():
                for _ in range(EXTRA):
                    held.append((kind, socket.create_connection(("127.0.0.1", port), timeout=5)))
            for kind in ports:
                p.wait_log("%s: accept() failed: Too many open files" % kind, timeout=10)
            # No busy loop: over 3 s with connections waiting that cannot be
            # accepted, each worker uses a few ticks (10 retries a second).
            c0 = {pid: cpu_seconds(pid) for pid in (worker, api)}
            time.sleep(3)
            used = {pid: cpu_seconds(pid) - c0[pid] for pid in (worker, api)}
            self.report(used)
            for pid, seconds in used.items():
                self.assertLess(seconds, 0.3, "worker %d used %.2fs of CPU in 3s" % (pid, seconds))
            # Logged at most about once a second per listener, not per try.
            lines = [l for l in p.log().splitlines() if "accept() failed" in l]
            self.assertLess(len(lines), 4 * 8, lines[-5:])
            self.assertEqual((p.workers(), p.api_workers()), ([worker], [api]))

            # A connection that waited in the listen queue is served once
            # descriptors are free: close all others.
            waiting = [s for k, s in held if k == "rtmp"][-1]
            for _, s in held:
                if s is not waiting:
                    s.close()
            self.assertTrue(rtmp_handshake(waiting, timeout=10))
        finally:
            for _, s in held:
                s.close()
        # Everything closed: new clients of every listener are served.
        self.serve_everyone(p, ports)
        self.assertEqual((p.workers(), p.api_workers()), ([worker], [api]))
        self.assertNotIn("exited", "\n".join(l for l in p.log().splitlines() if "worker" in l and "exited" in l))

    def serve_everyone(self, p, ports):
        with socket.create_connection(("127.0.0.1", ports["rtmp"]), timeout=5) as s:
            self.assertTrue(rtmp_handshake(s))
        wait_for(lambda: curl("http://127.0.0.1:%d/api/v1/versions" % ports["http_stream"], timeout=3)[0] == 200,
                 timeout=10, what="http_stream answering")
        wait_for(lambda: p.api("GET", "/api/v1/versions", timeout=3)[0] == 200, timeout=10,
                 what="system api answering")
        status, _ = curl("http://127.0.0.1:%d/rtc/v1/whep/?app=live&stream=x" % ports["http_api"],
                         method="OPTIONS", timeout=3)
        self.assertNotEqual(status, 0, "http_api answers")

    @staticmethod
    def report(used):
        import sys
        sys.stderr.write("STRESS: fd exhaustion: CPU seconds in 3 s per worker %s\n" % (
            {pid: round(s, 3) for pid, s in used.items()},))


if __name__ == "__main__":
    main()
