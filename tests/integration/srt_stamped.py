"""Stamped SRT streams for latency tests (test_srt_latency.py): this process
sends UDP datagrams that each carry a sequence number and their send time
(CLOCK_MONOTONIC) to an srt-live-transmit caller, which publishes them over
SRT; the SRT end receiver (an srt-live-transmit listener, playing them out
with its TSBPD as a player would) writes them back to this process over UDP,
which records each one's delay and order. One clock, so the one-way delay of
every packet is exact. LossyRelay is a UDP forwarder of our own that drops a
share of the SRT packets between a caller and the proxy (no netem needed)."""
import random
import socket
import struct
import threading
import time

MESSAGE = 1316  # seven MPEG-TS packets, the SRT live payload
HEADER = struct.Struct("!QQ")  # sequence, send time (ns)
WARMUP = 1 << 62  # sequence numbers from here on are readiness probes


def message(seq):
    body = bytearray(b"\xff" * MESSAGE)
    for off in range(0, MESSAGE, 188):
        body[off] = 0x47  # TS sync bytes, for tools that look
    body[4:4 + HEADER.size] = HEADER.pack(seq, time.monotonic_ns())
    return bytes(body)


class Receiver(threading.Thread):
    """Collects (sequence, delay ms) of the stamped datagrams on a UDP port."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.1)
        self.seqs, self.delays_ms, self.warm = [], [], threading.Event()
        self.done = threading.Event()
        self.start()

    def run(self):
        while not self.done.is_set():
            try:
                data = self.sock.recv(2048)
            except socket.timeout:
                continue
            now = time.monotonic_ns()
            if len(data) < 4 + HEADER.size:
                continue
            seq, sent = HEADER.unpack_from(data, 4)
            if seq >= WARMUP:
                self.warm.set()
                continue
            self.seqs.append(seq)
            self.delays_ms.append((now - sent) / 1e6)

    def close(self):
        self.done.set()
        self.join()
        self.sock.close()


class Sender:
    """Sends stamped datagrams to a UDP port (the publishing caller's input)."""

    def __init__(self, port):
        self.addr = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def warm_up(self, receiver, timeout=10.0):
        """Probes until one comes out at the receiver: the SRT chain is up."""
        deadline = time.monotonic() + timeout
        seq = WARMUP
        while not receiver.warm.wait(0.05):
            if time.monotonic() > deadline:
                raise AssertionError("no probe came through the SRT chain in %.0fs" % timeout)
            self.sock.sendto(message(seq), self.addr)
            seq += 1

    def send(self, count, rate):
        """`count` stamped datagrams, `rate` a second, paced on the clock."""
        start = time.monotonic()
        for seq in range(count):
            due = start + seq / rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            self.sock.sendto(message(seq), self.addr)

    def keep_live(self, done, rate, timeout):
        """Goes on sending probes at `rate`, as a live stream would, until
        done() or `timeout`: a lost last packet is only noticed, and resent,
        once a later one arrives. Returns done()."""
        deadline = time.monotonic() + timeout
        seq = WARMUP + (1 << 30)
        while not done() and time.monotonic() < deadline:
            self.sock.sendto(message(seq), self.addr)
            seq += 1
            time.sleep(1.0 / rate)
        return done()

    def close(self):
        self.sock.close()


def median(values):
    v = sorted(values)
    return v[len(v) // 2]


def percentile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


class LossyRelay(threading.Thread):
    """Forwards UDP between one SRT caller and `target`, dropping `loss` of
    the SRT packets each way (not handshakes, so the connection is made)."""

    def __init__(self, target_port, loss, seed=7):
        super().__init__(daemon=True)
        self.target = ("127.0.0.1", target_port)
        self.loss = loss
        self.rng = random.Random(seed)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.connect(self.target)
        self.port = self.front.getsockname()[1]
        self.caller = None
        self.dropped = {"to_proxy": 0, "to_caller": 0}
        self.dropped_seqs = set()  # stamped sequence numbers of dropped data packets
        self.stop = threading.Event()
        self.start()

    def keep(self, data, way):
        handshake = len(data) >= 4 and data[0] == 0x80 and data[1] == 0x00  # control type 0
        if handshake or self.rng.random() >= self.loss:
            return True
        self.dropped[way] += 1
        # A data packet (first bit 0): 16 bytes of SRT header, then our stamp.
        if not data[0] & 0x80 and len(data) >= 16 + 4 + HEADER.size:
            seq, _ = HEADER.unpack_from(data, 16 + 4)
            if seq < WARMUP:
                self.dropped_seqs.add(seq)
        return False

    def run(self):
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(self.front, selectors.EVENT_READ)
        sel.register(self.back, selectors.EVENT_READ)
        while not self.stop.is_set():
            for key, _ in sel.select(0.1):
                try:
                    if key.fileobj is self.front:
                        data, self.caller = self.front.recvfrom(2048)
                        if self.keep(data, "to_proxy"):
                            self.back.send(data)
                    else:
                        data = self.back.recv(2048)
                        if self.caller and self.keep(data, "to_caller"):
                            self.front.sendto(data, self.caller)
                except OSError:
                    continue

    def close(self):
        self.stop.set()
        self.join()
        self.front.close()
        self.back.close()
