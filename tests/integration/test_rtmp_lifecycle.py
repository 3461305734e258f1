"""RTMP sessions across process events: QUIT lets a held session finish (up
to shutdown_timeout) while new connections are refused; a HUP reload and the
crash of an unrelated worker leave a publishing and a playing ffmpeg flowing."""
import os
import signal
import socket
import time

from harness import accepted_tcp, alive, main, socket_holders, wait_for
from rtmp_fixture import DEFAULT_VHOST, RtmpTestCase


def serving(pids, port):
    """Which of `pids` hold an established connection accepted on `port`."""
    holding = set(socket_holders(pids, accepted_tcp(port)).values())
    return [pid for pid in pids if pid in holding]


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


class RtmpLifecycle(RtmpTestCase):
    def start_stream(self, p, name="s"):
        self.origin("o1", p)
        self.publisher(self.url("live/" + name))
        self.wait_publishing(p, DEFAULT_VHOST + "/live/" + name)
        pl = self.player(self.url("live/" + name))
        wait_for(lambda: pl.frames() > 10, timeout=20, what="frames at the player")
        return pl

    def assert_flowing(self, pl, more=25, timeout=10):
        n = pl.frames()
        wait_for(lambda: pl.frames() > n + more, timeout=timeout, what="player frames rising past %d" % (n + more))

    def test_quit_lets_the_session_finish(self):
        p = self.rtmp_proxy(workers=1, extra_main="shutdown_timeout 30s;")
        pl = self.start_stream(p)
        worker = p.workers()[0]
        p.signal(signal.SIGQUIT)
        wait_for(lambda: refused(self.rtmp_port), timeout=5, what="the rtmp listener closed")
        self.assert_flowing(pl)
        self.assertTrue(alive(p.pid) and alive(worker))
        # The sessions end (publisher and player stop): the worker and master go.
        t0 = time.monotonic()
        for proc in self.procs:
            proc.kill()
        pl.stop()
        self.assertEqual(p.wait_exit(timeout=15), 0)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertNotIn("shutdown_timeout reached", p.log())
        self.assertIn("rtmp session end", p.log())

    def test_quit_ends_a_held_session_at_shutdown_timeout(self):
        p = self.rtmp_proxy(workers=1, extra_main="shutdown_timeout 3s;")
        pl = self.start_stream(p)
        t0 = time.monotonic()
        p.signal(signal.SIGQUIT)
        self.assertEqual(p.wait_exit(timeout=15), 0)
        self.assertGreater(time.monotonic() - t0, 2.5)
        self.assertIn("shutdown_timeout reached, closing 2 sessions", p.log())
        self.assertIn("reason=worker exiting", p.log())

    def test_reload_and_an_unrelated_worker_crash_keep_the_stream_flowing(self):
        p = self.rtmp_proxy(workers=3)
        pl = self.start_stream(p)
        old_workers = p.workers()
        busy = serving(old_workers, self.rtmp_port)
        self.assertTrue(1 <= len(busy) <= 2, busy)
        # Kill a worker that serves neither the publisher nor the player.
        victim = next(w for w in old_workers if w not in busy)
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: victim not in p.workers() and len(p.workers()) == 3, timeout=5,
                 what="the killed worker respawned")
        self.assert_flowing(pl)
        # HUP with the same configuration: new workers, the old busy ones drain.
        before = set(p.workers())
        p.signal(signal.SIGHUP)
        p.wait_log("reconfigured: generation 2")
        wait_for(lambda: len(set(p.workers()) - before) == 3, timeout=10, what="three new workers")
        self.assert_flowing(pl)
        for w in busy:
            self.assertTrue(alive(w), "old worker %d serving the stream is gone" % w)
        self.assert_flowing(pl)
        # New players reach the stream through the new generation.
        pl2 = self.player(self.url("live/s"))
        wait_for(lambda: pl2.frames() > 10, timeout=20, what="frames at a player after reload")
        # The old generation still holds the first sessions.
        self.assertTrue(serving(busy, self.rtmp_port))


if __name__ == "__main__":
    main()
