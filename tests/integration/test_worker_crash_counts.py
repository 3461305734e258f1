"""Client counts survive worker crashes (issue 11): the registry's counts are
owned per process and the master drops a child's when it reaps it.

- A proxy with 2 workers in front of a real nginx-rtmp origin, an ffmpeg
  publisher and 50 RTMP players. `kill -9` of the worker holding players
  (not the publisher's when it can): within one second of the respawn,
  /api/v1/streams counts exactly the clients still connected to the other
  worker, and the master logged what it dropped (the killed worker's
  clients, one stream). Without the drop the count stays at 51 forever.
- Then every client leaves: the count reaches 0 and the pin expires
  normally, session_ttl (short here) later, neither at once nor never.
"""
import os
import re
import signal
import time

from harness import main, wait_for
from rtmp_fixture import DEFAULT_VHOST
from stress_fixture import StressTestCase, socket_owner_map, tcp_local_ports

KEY = DEFAULT_VHOST + "/live/s"
PLAYERS = 50
SESSION_TTL_S = 4


class WorkerCrashCounts(StressTestCase):
    def streams(self, p):
        status, body = p.api_json("GET", "/api/v1/streams")
        self.assertEqual(status, 200, body)
        return {s["key"]: s for s in body["streams"]}

    def total_clients(self, p):
        s = self.streams(p).get(KEY)
        return None if s is None else sum(s["clients"].values())

    def test_kill_9_drops_the_workers_counts_and_the_pin_expires(self):
        p = self.rtmp_proxy(workers=2, body="registry { session_ttl %ds; }" % SESSION_TTL_S)
        self.origin("o1", p)
        pub = self.low_rate_publisher(self.url("live/s"))
        self.wait_publishing(p, KEY)
        players = self.load.rtmp_players(self.rtmp_port, "s", PLAYERS)
        self.wait_all_receiving(players, 5, 30, "%d players receiving" % PLAYERS)
        wait_for(lambda: self.total_clients(p) == PLAYERS + 1, timeout=10,
                 what="the publisher and %d players counted" % PLAYERS)

        # Which worker holds what (from /proc).
        workers = p.workers()
        self.assertEqual(len(workers), 2)
        owners = socket_owner_map(workers, self.rtmp_port)
        ports = self.load.local_ports(players)
        owner_of = {id(c): owners.get(ports.get(id(c))) for c in players}
        self.assertNotIn(None, owner_of.values(), "every player's worker found")
        pub_workers = {owners[port] for port in tcp_local_ports(pub.pid) if port in owners}
        self.assertEqual(len(pub_workers), 1, "the publisher's worker")
        pub_worker = pub_workers.pop()
        held = {w: sum(1 for o in owner_of.values() if o == w) for w in workers}
        others = [w for w in workers if w != pub_worker and held[w] > 0]
        victim = others[0] if others else pub_worker  # the publisher's only if it holds every player
        doomed = [c for c in players if owner_of[id(c)] == victim]
        spared = [c for c in players if owner_of[id(c)] != victim]
        pub_spared = pub_worker != victim
        self.assertTrue(doomed)
        dropped_expected = len(doomed) + (0 if pub_spared else 1)

        def expected_now():
            live = sum(1 for c in spared if c.closed is None)
            return live + (1 if pub_spared and pub.poll() is None else 0)

        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: victim not in p.workers() and len(p.workers()) == 2, timeout=5, interval=0.01,
                 what="the killed worker respawned")
        t_respawn = time.monotonic()
        # The count is right within one second of the respawn (the master
        # drops before it respawns, so normally at once).
        wait_for(lambda: self.total_clients(p) == expected_now(), timeout=1.0, interval=0.02,
                 what="/api/v1/streams counting only the other worker's clients (%d)" % expected_now())
        settled_ms = (time.monotonic() - t_respawn) * 1000
        counted = self.total_clients(p)
        self.assertLess(counted, PLAYERS + 1)
        if pub_spared:
            self.assertEqual(counted, len(spared) + 1, "the spared players kept playing and are counted")
        m = wait_for(lambda: re.search(r"worker process %d left (\d+) clients? on (\d+) streams?; dropped" % victim,
                                       p.log()), timeout=5, what="the master's drop line")
        self.assertEqual((int(m.group(1)), int(m.group(2))), (dropped_expected, 1), m.group(0))
        self.report("kill -9 of worker %d holding %d of %d players%s: counts right %.0f ms after the respawn "
                    "(%d counted)" % (victim, len(doomed), PLAYERS, "" if pub_spared else " and the publisher",
                                      settled_ms, counted))

        # Every client leaves: the pin is kept for session_ttl, then expires.
        self.load.close()
        pub.terminate()
        wait_for(lambda: self.total_clients(p) == 0, timeout=10, what="every client gone from the counts")
        t_idle = time.monotonic()
        self.assertIn(KEY, self.streams(p), "the pin outlives its last client for session_ttl")
        wait_for(lambda: KEY not in self.streams(p), timeout=SESSION_TTL_S + 6, interval=0.1,
                 what="the idle pin expired")
        gone_after = time.monotonic() - t_idle
        self.assertGreater(gone_after, SESSION_TTL_S - 1.5, "expired only after session_ttl")
        self.report("pin expired %.1f s after its last client left (session_ttl %d s)" % (gone_after, SESSION_TTL_S))


if __name__ == "__main__":
    main()
