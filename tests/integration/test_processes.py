"""Process model: master + N workers + API worker, titles, respawn after a
crash with the shared-memory registry intact, graceful and fast stop."""
import os
import signal
import time

from harness import ProxyTestCase, alive, cmdline, fixture, main, wait_for


class Processes(ProxyTestCase):
    def test_master_workers_and_api_worker_with_titles(self):
        p = self.proxy(workers=3)
        p.wait_children(3)
        self.assertIn("srs-proxy: master process", cmdline(p.pid))
        self.assertIn("-c " + p.conf, cmdline(p.pid))
        self.assertEqual(len(p.workers()), 3)
        self.assertEqual(len(p.api_workers()), 1)
        with open(p.pid_path) as f:
            self.assertEqual(int(f.read()), p.pid)

    def test_killed_worker_is_respawned_and_registry_survives(self):
        p = self.proxy(workers=2)
        p.wait_children(2)
        status, body = p.register(fixture("srs-heartbeat.json"))
        self.assertEqual(status, 200, body)
        victim = p.workers()[0]
        t0 = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: victim not in p.workers() and len(p.workers()) == 2, timeout=5,
                 what="a new worker replacing %d" % victim)
        self.assertLess(time.monotonic() - t0, 1.5, "respawn took too long")
        p.wait_log("exited on signal 9, respawning")
        # The API worker holds no registry state of its own: kill it too.
        api = p.api_workers()[0]
        os.kill(api, signal.SIGKILL)
        wait_for(lambda: p.api_workers() and p.api_workers()[0] != api and p.api_ready(),
                 timeout=5, what="a new api worker")
        status, origins = p.api_json("GET", "/api/v1/origins")
        self.assertEqual(status, 200)
        self.assertEqual([o["server"] for o in origins["origins"]], ["vid-682yv42"])

    def test_a_worker_dying_at_start_is_respawned_at_most_once_a_second(self):
        p = self.proxy(workers=1)
        p.wait_children(1)
        t0 = time.monotonic()
        victim = p.workers()[0]
        for _ in range(3):
            os.kill(victim, signal.SIGKILL)
            victim = wait_for(lambda: [w for w in p.workers() if w != victim and alive(w)],
                              timeout=5, what="respawned worker")[0]
        # Three deaths right after start: held back to one fork a second.
        self.assertGreaterEqual(time.monotonic() - t0, 1.8)
        self.assertEqual(len(p.workers()), 1)

    def test_quit_stops_everything_and_removes_pid_file(self):
        p = self.proxy(workers=2)
        p.wait_children(2)
        kids = p.children()
        p.signal(signal.SIGQUIT)
        self.assertEqual(p.wait_exit(), 0)
        for k in kids:
            wait_for(lambda: not alive(k), what="child %d gone" % k)
        self.assertFalse(os.path.exists(p.pid_path))
        self.assertIn("graceful shutdown", p.log())

    def test_term_is_a_fast_stop(self):
        p = self.proxy(workers=1)
        p.wait_children(1)
        p.signal(signal.SIGTERM)
        self.assertEqual(p.wait_exit(timeout=5), 0)
        self.assertIn("fast shutdown", p.log())

    def test_single_process_mode(self):
        p = self.proxy(workers=1, extra_main="master_process off;")
        self.assertEqual(p.children(), [])
        status, body = p.register(fixture("srs-heartbeat.json"))
        self.assertEqual(status, 200, body)
        p.signal(signal.SIGQUIT)
        self.assertEqual(p.wait_exit(), 0)


if __name__ == "__main__":
    main()
