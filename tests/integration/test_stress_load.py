"""Stress (ctest label `stress`): 2,000 concurrent RTMP players of one stream
through the proxy, then 2,000 concurrent HTTP-FLV viewers; every one of them
receives video, and keeps receiving. The proxy's RSS per session (the
growth of its workers' RSS over the number of clients) is printed on lines
starting with "STRESS:".

The clients are load_clients.py's asyncio players (one process, one loop);
the origins are nginx-rtmp (raised worker_connections: the proxy relays every
player to the origin on a connection of its own) and fanout_flv_origin.py.
"""
import time

from harness import free_port, main
from rtmp_fixture import DEFAULT_VHOST
from stress_fixture import StressTestCase

PLAYERS = 2000
# worker_connections is per worker: room for all players on one worker.
PROXY_BODY = "worker_connections 2100;"


class StressLoad(StressTestCase):
    def test_2000_rtmp_players_then_2000_flv_viewers(self):
        self.assertGreaterEqual(self.nofile, 3 * PLAYERS + 200, "RLIMIT_NOFILE hard limit too low")
        p = self.rtmp_proxy(workers=2, extra_main=PROXY_BODY)
        self.origin("o1", p, events="worker_connections %d;" % (PLAYERS * 2 + 500))
        key = DEFAULT_VHOST + "/live/load"
        self.low_rate_publisher(self.url("live/load"))
        self.wait_publishing(p, key)
        self.wait_all_receiving(self.load.rtmp_players(self.rtmp_port, "load", 1), 5, 20, "a first player")
        # The registry counts every relayed client (publisher, first player, the load).
        self.run_load(p, "rtmp players", lambda: self.load.rtmp_players(self.rtmp_port, "load", PLAYERS),
                      check=lambda: self.assertEqual(self.stream_clients(p, key), PLAYERS + 2))
        p.stop()

        # 2,000 HTTP-FLV viewers on a fresh proxy (so the RSS growth is
        # theirs), each relayed to the fan-out origin.
        flv = self.flv_origin()
        port = free_port()
        p = self.proxy(body="http_stream { listen 127.0.0.1:%d; }" % port, workers=2, extra_main=PROXY_BODY)
        p.wait_children(2)
        status, body = p.register(flv.registration())
        self.assertEqual(status, 200, body)
        self.wait_all_receiving(self.load.flv_viewers(port, "/live/load.flv", 1), 5, 20, "a first viewer")
        self.run_load(p, "http-flv viewers", lambda: self.load.flv_viewers(port, "/live/load.flv", PLAYERS))

    def run_load(self, p, what, start, check=None):
        """Starts PLAYERS clients; all must receive video and keep receiving."""
        base_rss = self.workers_rss_kb(p)
        t0 = time.monotonic()
        clients = start()
        connected = time.monotonic() - t0
        failed = [c.closed for c in clients if c.closed]
        self.assertEqual(len(failed), 0, "%s that could not connect: %d, e.g. %r" % (what, len(failed), failed[:3]))
        self.wait_all_receiving(clients, 3, 60, "%d %s receiving" % (PLAYERS, what))
        before = max(c.frames for c in clients)
        self.wait_all_receiving(clients, before + 10, 30, "%d %s still receiving" % (PLAYERS, what))
        rss = self.workers_rss_kb(p)
        errors = [c.error for c in clients if c.error]
        self.assertEqual(len(errors), 0, errors[:3])
        self.report("%d %s connected in %.1fs; worker RSS %d kB -> %d kB: %.1f kB per session; "
                    "media bytes per client %d..%d" % (
                        PLAYERS, what, connected, base_rss, rss, (rss - base_rss) / PLAYERS,
                        min(c.media_bytes for c in clients), max(c.media_bytes for c in clients)))
        if check:
            check()
        self.load.close(clients)
        return clients

if __name__ == "__main__":
    main()
