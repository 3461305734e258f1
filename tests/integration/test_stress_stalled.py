"""Stress (ctest label `stress`): viewers that stop reading, on RTMP and on
HTTP-FLV, of a fast stream (8 Mbit/s: ten seconds of it is ~10 MB per
viewer). The proxy's back-pressure bounds what it keeps for each of them, so
the worker's memory stays under a stated bound while other viewers of the
same streams keep receiving.

The bound (man/srs-proxy.conf.5): per stalled RTMP player the session
queues at most its 1 MiB high-water mark plus one 256 KiB read (media is
relayed chunk by chunk, so no partial frame is held); per stalled HTTP-FLV
viewer at most one 256 KiB origin read. Allowing 2 MiB per stalled viewer
of either kind for the allocator's slack, 3 + 3 stalled viewers may grow the
worker by at most 12 MiB; without back-pressure it would grow by the ~60 MB
they were sent.
"""
import os
import time

from harness import free_port, main, wait_for
from rtmp_fixture import DEFAULT_VHOST
from stress_fixture import StressTestCase, rss_kb

STALLED = 3
OTHERS = 10
SECONDS = 10
BOUND_KB = 2 * STALLED * 2 * 1024
# Under ASan (SP_SANITIZERS=1) freed buffers sit in its quarantine (capped
# at 4 MB in tests/CMakeLists.txt) before reuse, and every allocation has
# redzones: measured 37 MB there (21 MB without), still well below the ~60 MB
# the stalled viewers were sent.
if os.environ.get("SP_SANITIZERS") == "1":
    BOUND_KB += 16 * 1024


class StressStalled(StressTestCase):
    def test_stalled_rtmp_and_flv_viewers_bounded_while_others_receive(self):
        flv = self.flv_origin(bitrate="8M", fps=25, size="640x360")
        self.http_port = free_port()
        p = self.rtmp_proxy(workers=1, body="http_stream { listen 127.0.0.1:%d; }" % self.http_port)
        self.origin("o1", p)
        status, body = p.register(flv.registration())
        self.assertEqual(status, 200, body)
        # The RTMP stream is published through the proxy to nginx-rtmp.
        self.low_rate_publisher(self.url("live/fast"), fps=25, bitrate="8M", size="640x360")
        self.wait_publishing(p, DEFAULT_VHOST + "/live/fast")
        worker = p.workers()[0]

        rtmp_ok = self.load.rtmp_players(self.rtmp_port, "fast", OTHERS)
        flv_ok = self.load.flv_viewers(self.http_port, "/live/flv.flv", OTHERS)
        others = rtmp_ok + flv_ok
        self.wait_all_receiving(others, 10, 30, "the other viewers receiving")
        base = rss_kb(worker)

        # Tiny receive buffers and no reading after the play started.
        stalled = (self.load.rtmp_players(self.rtmp_port, "fast", STALLED, stalled=True, rcvbuf=4096) +
                   self.load.flv_viewers(self.http_port, "/live/flv.flv", STALLED, stalled=True, rcvbuf=4096))
        wait_for(lambda: all(c.started for c in stalled), timeout=20, what="stalled viewers started")
        peak, samples = base, []
        t0 = time.monotonic()
        checkpoints = []
        while time.monotonic() - t0 < SECONDS:
            time.sleep(0.5)
            peak = max(peak, rss_kb(worker))
            samples.append(rss_kb(worker))
            if len(samples) % 6 == 0:
                checkpoints.append([c.frames for c in others])
        rtmp_bytes = sum(c.media_bytes for c in rtmp_ok)
        self.report("stalled viewers (%d rtmp + %d http-flv, 8 Mbit/s for %ds): worker RSS %d kB, peak %d kB, "
                    "growth %d kB (bound %d kB); %d other viewers got %d..%d frames" % (
                        STALLED, STALLED, SECONDS, base, peak, peak - base, BOUND_KB, len(others),
                        min(c.frames for c in others), max(c.frames for c in others)))
        self.assertLess(peak - base, BOUND_KB, samples)
        # The others kept receiving through the whole period (every 3 s).
        for a, b in zip(checkpoints, checkpoints[1:]):
            stuck = [i for i, (x, y) in enumerate(zip(a, b)) if y <= x]
            self.assertEqual(stuck, [], "viewers whose frames stopped rising")
        self.assertGreater(rtmp_bytes, OTHERS * 5 * 1024 * 1024, "the rtmp players got the 8 Mbit/s stream")
        # The stalled ones are still connected (back-pressured, not dropped)
        # or were closed by the idle timeout; the worker is the same.
        self.assertEqual(p.workers(), [worker])
        self.assertEqual([c.error for c in others if c.error], [])


if __name__ == "__main__":
    main()
