"""RTMP clients that never get as far as publish or play cannot make a worker
hold much memory: `preconnect_buffer` (per client) and
`preconnect_worker_buffer` (per worker) in the rtmp block.

Floods of clients, every one after a complete handshake:
1. the start of a huge message (a header declaring an 8 MiB AMF0 command,
   the most a client may send once accepted, then 1 MiB of its body), half
   of them after a proper connect: each is closed at the header, so none of
   the 100 MiB they send is kept;
2. (20 clients) a connect whose extra argument is a strict array of nulls:
   15 KB of them would take about 1.5 MB kept decoded for the origin, and
   the kept commands count too; 60 KB are over the 16 KiB a command may
   have before publish/play and are not even decoded: each is closed;
3. the first 30000-byte chunks of two 60000-byte commands (60000 bytes held,
   under the per-client cap) and a ping: the worker keeps such clients (and
   answers their ping) until its budget (18 such clients here) is spent,
   and closes the rest.
Then, while the budgets are spent to the byte, a real ffmpeg publish to an
nginx-rtmp origin and an ffprobe play through the proxy work: a real
client's commands fit in the 4 KiB each client may hold without being
charged to the full budget.

The bound: the worker's RSS grows by less than 12 MiB (its 1 MB budget, 4 KiB
per held client, the sessions themselves, one command decoded at a time and
allocator slack); with no cap the first flood alone would add about 100 MiB
(100 x 1 MiB), the second about 75 MB kept decoded.
"""
import os
import struct

from harness import main, wait_for
from origins import probe
from rtmp_client import Client, chunk, set_chunk_size
from rtmp_fixture import DEFAULT_VHOST, RtmpTestCase
from stress_fixture import raise_nofile, rss_kb

CLIENTS = 100
EXPANDING = 20
WORKERS = 1  # so that its budget is spent to the byte before the real clients come
HALF = 30000  # two first chunks of two 60000-byte messages: 60000 bytes held
FREE_SHARE = 4096  # PreconnectBudget::kFreeBytes
# Exactly 18 such clients (the last one also needs room for its 6-byte ping
# while it is read), so a full worker leaves a newcomer only its free share.
PER_WORKER = 18
WORKER_BUDGET = PER_WORKER * (2 * HALF - FREE_SHARE) + 6
HUGE = 8 * 1024 * 1024
HUGE_SENT = 1024 * 1024
BOUND_KB = 12 * 1024
# Under ASan (SP_SANITIZERS=1) freed buffers sit in its quarantine and every
# allocation has redzones.
if os.environ.get("SP_SANITIZERS") == "1":
    BOUND_KB += 16 * 1024


def message_start(csid, type_id, length, body):
    """A fmt 0 header declaring `length` bytes, then the first bytes of the body
    (one chunk: the sender announced a chunk size at least this big)."""
    return (bytes([csid]) + b"\x00\x00\x00" + struct.pack(">I", length)[1:] + bytes([type_id]) +
            struct.pack("<I", 0) + body)


def amf0_command_body(n):
    """n bytes that start like an AMF0 command: the name, a transaction id, a long string."""
    head = b"\x02\x00\x07connect" + b"\x00" + struct.pack(">d", 1.0) + b"\x0c" + struct.pack(">I", 0x7fffffff)
    return head + b"x" * (n - len(head))


def warnings(proxy, text):
    """How many warning lines of the proxy's log contain text (the session-end
    line repeats the reason at info level)."""
    return sum(1 for line in proxy.log().splitlines() if "][warn][" in line and text in line)


def answered_or_closed(sock):
    """"closed" if the peer closed sock (EOF or reset), "answered" if it sent
    something, else None; drains what is readable. Never blocks."""
    sock.setblocking(False)
    got = False
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return "closed"
            got = True
    except (BlockingIOError, InterruptedError):
        return "answered" if got else None
    except OSError:
        return "closed"


def closed_now(sock):
    """True if the peer closed sock (EOF or reset); drains anything readable. Never blocks."""
    sock.setblocking(False)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


class RtmpPreconnect(RtmpTestCase):
    def test_unidentified_clients_leave_workers_bounded_and_real_ones_get_through(self):
        raise_nofile(4 * CLIENTS)
        p = self.rtmp_proxy(workers=WORKERS, rtmp_extra="handshake_timeout 40s; preconnect_worker_buffer %d;"
                            % WORKER_BUDGET)
        self.origin("o1", p)
        workers = p.workers()
        self.assertEqual(len(workers), WORKERS)
        base = {w: rss_kb(w) for w in workers}
        peak = dict(base)

        def sample():
            for w in workers:
                peak[w] = max(peak[w], rss_kb(w))

        # 1. Huge messages: refused at their header.
        huge = []
        body = amf0_command_body(HUGE_SENT)
        for i in range(CLIENTS):
            c = Client(self.rtmp_port)
            c.handshake()
            if i % 2:
                self.assertEqual(c.connect(self.url("live"))[0], "_result")
            try:
                c.send(set_chunk_size(0xFFFFFF) + message_start(3, 20, HUGE, body))
            except OSError:
                pass  # already closed by the proxy: what we want
            huge.append(c)
            if i % 10 == 0:
                sample()
        wait_for(lambda: all(closed_now(c.sock) for c in huge), timeout=10,
                 what="every huge-message client closed")
        sample()
        for c in huge:
            c.close()
        refused = warnings(p, "over preconnect_buffer (65536 bytes) before publish/play was accepted")
        self.assertEqual(refused, CLIENTS)
        self.assertIn("rtmp client 127.0.0.1:", p.log())
        self.assertIn("message of %d bytes on csid 3 exceeds the limit of 65536" % HUGE, p.log())

        # 2. Commands small on the wire that would be big decoded: a connect
        # whose extra argument is a strict array of nulls. Under 16 KiB (15000
        # nulls, about 1.5 MB as decoded values) it is decoded, but may not be
        # kept for the origin; over 16 KiB it is not even decoded.
        def connect_with_nulls(n):
            tc_url = self.url("live").encode()
            return (b"\x02\x00\x07connect\x00" + struct.pack(">d", 1.0) + b"\x03" +
                    b"\x00\x05tcUrl\x02" + struct.pack(">H", len(tc_url)) + tc_url + b"\x00\x00\x09" +
                    b"\x0a" + struct.pack(">I", n) + b"\x05" * n)
        expanding = []
        for i in range(EXPANDING):
            c = Client(self.rtmp_port)
            c.handshake()
            payload = connect_with_nulls(15000 if i % 2 else 60000)
            try:
                c.send(set_chunk_size(65536) + chunk(3, 20, 0, payload, chunk_size=65536))
            except OSError:
                pass
            expanding.append(c)
            sample()
        wait_for(lambda: all(closed_now(c.sock) for c in expanding), timeout=10,
                 what="every client with an expanding connect closed")
        for c in expanding:
            c.close()
        self.assertEqual(warnings(p, "\"connect\" would keep"), EXPANDING // 2)
        self.assertEqual(warnings(p, "bytes before publish/play was accepted (at most 16384)"), EXPANDING // 2)

        # 3. Partial messages under the per-client cap: held until the
        # worker's budget is spent. The ping comes after both reservations,
        # so a client that is answered has been kept.
        ping = chunk(2, 4, 0, struct.pack(">HI", 6, 1234))
        small = []
        for i in range(CLIENTS):
            c = Client(self.rtmp_port)
            c.handshake()
            try:
                c.send(set_chunk_size(HALF) + message_start(4, 20, 2 * HALF, amf0_command_body(HALF)) +
                       message_start(5, 20, 2 * HALF, amf0_command_body(HALF)) + ping)
            except OSError:
                pass
            small.append(c)
            if i % 10 == 0:
                sample()
        outcome = {}

        def decided():
            for c in small:
                if outcome.get(c) != "closed":
                    outcome[c] = answered_or_closed(c.sock) or outcome.get(c)
            return all(outcome.get(c) for c in small)

        wait_for(decided, timeout=10, what="every client closed or answered")
        held = [c for c in small if outcome[c] == "answered"]
        # Every refusal was logged; the worker charges a held client
        # 2 x HALF - FREE_SHARE bytes, so it holds PER_WORKER.
        self.assertEqual(warnings(p, "worker's preconnect_worker_buffer is full"), CLIENTS - len(held))
        self.assertEqual(len(held), WORKERS * PER_WORKER)  # kept, harmlessly, until handshake_timeout
        sample()

        # 4. A real publisher and a real player get through while the budgets are full.
        self.publisher(self.url("live/real"))
        self.wait_publishing(p, DEFAULT_VHOST + "/live/real")
        self.assertEqual(probe(self.url("live/real")), ["aac", "h264"])
        sample()
        self.assertEqual([c for c in held if closed_now(c.sock)], [], "held clients stay connected")
        for c in small:
            c.close()

        for w in workers:
            self.assertLess(peak[w] - base[w], BOUND_KB, "worker %d RSS %d -> %d kB" % (w, base[w], peak[w]))
        self.assertEqual(sorted(p.workers()), sorted(workers))
        print("preconnect: worker RSS growth %s kB (bound %d kB), %d of %d small clients held" % (
            [peak[w] - base[w] for w in workers], BOUND_KB, len(held), CLIENTS))


if __name__ == "__main__":
    main()
