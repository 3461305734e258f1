"""Signals around fork and log reopening: a `-s reopen` (USR1) storm while
workers are being killed and respawned must never kill a fresh worker (a
child used to unblock signals with their default actions before its event
loop installed handlers), and the log must keep being written, into the new
file after a logrotate-style rename."""
import os
import re
import signal
import threading

from harness import ProxyTestCase, free_port, main, wait_for


def fast_children(pid):
    """Children of pid from /proc/PID/task/PID/children (no /proc scan), so
    the storm reaches a new worker within a millisecond of its fork."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def not_killed_by_us(p):
    """True while no child has died of a signal other than the test's SIGKILL
    (the master logs each exit with its reason); raises otherwise."""
    deaths = re.findall(r"((?:worker process|api worker) \d+ exited on signal (\d+))", p.log())
    other = [line for line, signo in deaths if signo != str(int(signal.SIGKILL))]
    if other:
        raise AssertionError("a child died of a signal during the reopen storm: %s" % other[0])
    return True


class SignalRaces(ProxyTestCase):
    def test_reopen_storm_while_workers_respawn(self):
        srt = free_port()
        # An SRT listener, so the workers run libsrt's threads (they log too).
        p = self.proxy(body="srt { listen 127.0.0.1:%d; }" % srt, workers=2)
        p.wait_children(2)
        stop = threading.Event()
        sent = [0]

        def storm():
            while not stop.is_set():
                # Through the master (it forwards USR1 to every child, the
                # one it forked a moment ago included) and at each child.
                for pid in [p.pid] + fast_children(p.pid):
                    try:
                        os.kill(pid, signal.SIGUSR1)
                        sent[0] += 1
                    except ProcessLookupError:
                        pass
                stop.wait(0.0005)

        t = threading.Thread(target=storm, daemon=True)
        t.start()
        respawned = 0
        try:
            for _ in range(6):
                victims = p.workers()
                for v in victims:
                    os.kill(v, signal.SIGKILL)
                # A worker killed within a second of its start is respawned a
                # second after that start, so each round takes about 1 s.
                wait_for(lambda: not_killed_by_us(p) and len(p.workers()) == 2
                         and not set(p.workers()) & set(victims), timeout=5, interval=0.02,
                         what="two new workers replacing %s" % victims)
                respawned += len(victims)
        finally:
            stop.set()
            t.join(5)
        self.assertGreater(sent[0], 1000)
        self.assertEqual(respawned, 12)
        self.assertTrue(not_killed_by_us(p))
        self.assertNotIn("exited with code", p.log())
        self.assertEqual(len(p.workers()), 2)

        # logrotate: rename, reopen; every process writes into the new file.
        os.rename(p.log_path, p.log_path + ".1")
        workers = p.workers() + p.api_workers()
        p.signal(signal.SIGUSR1)
        for pid in [p.pid] + workers:
            p.wait_log("[%d][" % pid, timeout=5)
        self.assertIn("log reopened", p.log())
        with open(p.log_path + ".1") as f:
            self.assertIn("log reopened", f.read())


if __name__ == "__main__":
    main()
