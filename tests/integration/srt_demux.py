"""An SRT origin that takes a publisher and serves players of the same stream
on one port, made of real libsrt peers: two srt-live-transmit listeners (P
receives the publisher's TS and writes it to a UDP port, Q reads that port and
serves it to a player) behind a UDP demultiplexer of our own on the origin's
port. The proxy reaches an origin by one SRT port whatever the mode, and
srt-live-transmit moves one stream in one direction, hence the demultiplexer.

The demultiplexer routes each caller (by source address) from its SRT
conclusion handshake: a streamid with "m=request" goes to Q, anything else to
P. A caller's induction is sent to both listeners and their answers go back
(srt-live-transmit stops answering once it has its one peer, so either may be
silent); each one's SYN cookie is kept and the chosen listener's is written
into the conclusion (a listener accepts only its own cookie). After that the
caller's datagrams go to its listener alone, and its listener's back.
"""
import os
import selectors
import signal
import socket
import struct
import subprocess
import threading

from harness import free_port, wait_for

HS_TYPE_OFFSET = 16 + 20  # handshake type in the handshake CIF
COOKIE_OFFSET = 16 + 28  # SYN cookie
EXT_OFFSET = 16 + 48  # handshake extensions (word aligned)
CONCLUSION = 0xFFFFFFFF


def udp_bound(port):
    """True once some process has a UDP socket bound to `port`."""
    suffix = ":%04X" % port
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                next(f)
                if any(line.split()[1].endswith(suffix) for line in f):
                    return True
        except OSError:
            continue
    return False


def is_handshake(data):
    return len(data) >= EXT_OFFSET and data[0] & 0x80 and (struct.unpack_from("!H", data, 0)[0] & 0x7FFF) == 0


def wants_play(data):
    """True when a conclusion's streamid asks for m=request (libsrt sends the
    streamid in 32-bit words in the other byte order, so both are looked at)."""
    ext = data[EXT_OFFSET:]
    swapped = b"".join(ext[i:i + 4][::-1] for i in range(0, len(ext) - len(ext) % 4, 4))
    return b"m=request" in ext or b"m=request" in swapped


class _Caller:
    def __init__(self, addr, publish_port, play_port):
        self.addr = addr
        self.route = None
        self.cookies = {}
        self.up = {}
        for which, port in (("p", publish_port), ("q", play_port)):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.connect(("127.0.0.1", port))
            s.setblocking(False)
            self.up[which] = s


class SrtOrigin:
    """Publish and play of one stream on self.port (see the module text)."""

    def __init__(self, name):
        self.name = name
        self.port, self.publish_port, self.play_port, self.feed = free_port(), free_port(), free_port(), free_port()
        self.procs = []
        # Q first: it binds the feed port P writes to.
        self._spawn(["srt-live-transmit", "-q", "udp://127.0.0.1:%d" % self.feed,
                     "srt://127.0.0.1:%d?mode=listener" % self.play_port])
        self._spawn(["srt-live-transmit", "-q", "srt://127.0.0.1:%d?mode=listener" % self.publish_port,
                     "udp://127.0.0.1:%d" % self.feed])
        wait_for(lambda: all(udp_bound(p) for p in (self.feed, self.play_port, self.publish_port)),
                 what="srt-live-transmit listeners of %s" % name)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.setblocking(False)
        self.callers = {}
        self.routes = []  # ("p" | "q", caller address) in the order callers were routed
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ, None)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _spawn(self, cmd):
        self.procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL))

    def registration(self):
        return {"ip": "127.0.0.1", "server": self.name, "service": "svc-" + self.name, "pid": str(os.getpid()),
                "rtmp": [str(free_port())], "srt": ["udp://0.0.0.0:%d" % self.port]}

    def _run(self):
        while not self.done.is_set():
            for key, _ in self.sel.select(timeout=0.1):
                try:
                    if key.data is None:
                        self._from_caller()
                    else:
                        self._from_listener(*key.data)
                except OSError:
                    pass

    def _from_caller(self):
        data, addr = self.sock.recvfrom(65536)
        c = self.callers.get(addr)
        if c is None:
            c = self.callers[addr] = _Caller(addr, self.publish_port, self.play_port)
            for which, s in c.up.items():
                self.sel.register(s, selectors.EVENT_READ, (c, which))
        if c.route is None and is_handshake(data) and struct.unpack_from("!I", data, HS_TYPE_OFFSET)[0] == CONCLUSION:
            c.route = "q" if wants_play(data) else "p"
            self.routes.append((c.route, addr))
            other = "p" if c.route == "q" else "q"
            self.sel.unregister(c.up[other])
            c.up.pop(other).close()
        if c.route in c.cookies and is_handshake(data):
            data = bytearray(data)
            struct.pack_into("!I", data, COOKIE_OFFSET, c.cookies[c.route])
            data = bytes(data)
        if c.route:
            c.up[c.route].send(data)
        else:
            for s in c.up.values():
                s.send(data)

    def _from_listener(self, c, which):
        s = c.up.get(which)
        if s is None:
            return
        data = s.recv(65536)
        if c.route is None:
            if is_handshake(data):
                c.cookies[which] = struct.unpack_from("!I", data, COOKIE_OFFSET)[0]
        elif which != c.route:
            return
        self.sock.sendto(data, c.addr)

    def stop(self):
        self.done.set()
        self.thread.join(timeout=2)
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for c in self.callers.values():
            for s in c.up.values():
                s.close()
        self.sock.close()
