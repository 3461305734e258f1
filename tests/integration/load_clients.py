"""Many RTMP players and HTTP-FLV viewers in one Python process, for the
stress tests (test_stress_*.py): a thousand ffmpeg or rtmpdump processes
would need far more than the two cores the suite has, while one asyncio loop
holds thousands of sockets.

- RtmpPlayer: handshake, connect, createStream, play (the stream id from the
  createStream answer), then an incremental chunk reader that counts video
  frames and media payload bytes. Only chunk headers are parsed; payloads are
  skipped, so a player costs a few microseconds per message.
- FlvViewer: a raw GET, the response head checked, then FLV tags counted in
  the body (close-delimited, as the proxy answers live streams).
- Both can stop reading (pause_reading) to play the stalled viewer.
- Load: an asyncio loop in a thread of its own; the test thread starts
  clients with bounded concurrency and reads the counters (plain ints, read
  under the GIL) while the loop runs.

Written from the RTMP/FLV specifications for tests only.
"""
import asyncio
import os
import socket
import struct
import threading
import time

from rtmp_client import amf_decode_all, amf_encode, chunk


def _command(name, tid, obj=None, *args, stream_id=0):
    payload = amf_encode(name) + amf_encode(tid) + amf_encode(obj) + b"".join(amf_encode(a) for a in args)
    return chunk(3, 20, stream_id, payload, chunk_size=4096)


_SET_CHUNK_4096 = chunk(2, 1, 0, struct.pack(">I", 4096))
_HANDSHAKE = 1 + 1536 * 2


class _Counters:
    def __init__(self):
        self.connected = False  # TCP connected
        self.started = False    # play started (RTMP: Play.Start seen; HTTP: 200 head)
        self.frames = 0         # video messages / tags
        self.media_bytes = 0    # audio + video payload bytes
        self.bytes = 0          # every byte received
        self.closed = None      # reason text once the connection ended
        self.error = None       # first protocol error (an error status, a bad answer)


class _Client(asyncio.Protocol):
    """What every load client shares: counters, the transport, and a future
    done when the connection is lost. Subclasses say what to send first
    (hello()) and parse what arrives."""

    def __init__(self, stalled):
        self.stalled = stalled
        self.c = _Counters()
        self.transport = None
        self.done = asyncio.get_running_loop().create_future()

    def hello(self):
        raise NotImplementedError

    def connection_made(self, transport):
        self.transport = transport
        self.c.connected = True
        transport.write(self.hello())

    def connection_lost(self, exc):
        self.c.closed = str(exc) if exc else "closed by peer"
        if not self.done.done():
            self.done.set_result(None)


class RtmpPlayer(_Client):
    """One RTMP player: tc_url like rtmp://127.0.0.1:PORT/live, stream name."""

    def __init__(self, tc_url, name, stalled=False):
        super().__init__(stalled)
        self.tc_url, self.name = tc_url, name
        self.buf = bytearray()
        self.pos = 0
        self.handshaken = False
        self.chunk_size = 128
        self.streams = {}  # csid -> [length, type, stream id, remaining, extended ts, payload]

    def hello(self):
        return b"\x03" + bytes(8) + os.urandom(1528)  # C0 C1

    def data_received(self, data):
        self.c.bytes += len(data)
        self.buf += data
        if not self.handshaken:
            if len(self.buf) < _HANDSHAKE:
                return
            s1 = bytes(self.buf[1:1537])
            del self.buf[:_HANDSHAKE]
            self.handshaken = True
            self.transport.write(s1 + _SET_CHUNK_4096 +
                                 _command("connect", 1, {"app": "live", "tcUrl": self.tc_url,
                                                         "flashVer": "LNX 9,0,124,2"}) +
                                 _command("createStream", 2, None))
        try:
            self.parse()
        except (ValueError, IndexError, struct.error) as e:
            self.c.error = "bad rtmp from the proxy: %s" % e
            self.transport.close()

    def parse(self):
        buf, pos = self.buf, self.pos
        n = len(buf)
        while pos < n:
            start = pos
            b0 = buf[pos]
            fmt, csid = b0 >> 6, b0 & 0x3F
            pos += 1
            if csid == 0:
                if pos + 1 > n:
                    break
                csid = 64 + buf[pos]
                pos += 1
            elif csid == 1:
                if pos + 2 > n:
                    break
                csid = 64 + buf[pos] + 256 * buf[pos + 1]
                pos += 2
            st = self.streams.get(csid)
            if st is None:
                st = self.streams[csid] = [0, 0, 0, 0, False, bytearray()]
            hlen = (11, 7, 3, 0)[fmt]
            if pos + hlen > n:
                pos = start
                break
            if fmt <= 2:
                ext = buf[pos] == 0xFF and buf[pos + 1] == 0xFF and buf[pos + 2] == 0xFF
                if fmt <= 1:
                    st[0] = (buf[pos + 3] << 16) | (buf[pos + 4] << 8) | buf[pos + 5]
                    st[1] = buf[pos + 6]
                if fmt == 0:
                    st[2] = struct.unpack_from("<I", buf, pos + 7)[0]
                st[4] = ext
            pos += hlen
            if st[4]:
                pos += 4
            if st[3] == 0:  # a new message begins
                st[3] = st[0]
            take = min(self.chunk_size, st[3])
            if pos + take > n:
                pos = start
                break
            mtype = st[1]
            if mtype in (8, 9):
                self.c.media_bytes += take
            else:  # control and command messages are small: keep them
                st[5] += buf[pos:pos + take]
            pos += take
            st[3] -= take
            if st[3] == 0:
                if mtype == 9:
                    self.c.frames += 1
                elif mtype != 8:
                    payload, st[5] = bytes(st[5]), bytearray()
                    self.message(mtype, st[2], payload)
        if pos > 65536 or pos == n:
            del buf[:pos]
            pos = 0
        self.pos = pos

    def message(self, mtype, stream_id, payload):
        if mtype == 1:
            self.chunk_size = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
        elif mtype == 20:
            values = amf_decode_all(payload)
            name = values[0] if values else ""
            if name == "_result" and values[1] == 2:
                self.transport.write(_command("play", 3, None, self.name, -2000,
                                              stream_id=int(values[3])))
            elif name == "_error":
                self.c.error = "error answer: %r" % (values,)
            elif name == "onStatus":
                info = values[3] if len(values) > 3 and isinstance(values[3], dict) else {}
                if info.get("code") == "NetStream.Play.Start":
                    self.c.started = True
                    if self.stalled:
                        self.transport.pause_reading()
                elif info.get("level") == "error":
                    self.c.error = "%s: %s" % (info.get("code"), info.get("description"))


class FlvViewer(_Client):
    """One HTTP-FLV viewer of http://host:port/path."""

    def __init__(self, host, path, stalled=False):
        super().__init__(stalled)
        self.request = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sp-load\r\n\r\n" % (path, host)).encode()
        self.head = bytearray()
        self.status = 0
        self.skip = 13   # FLV header + first PreviousTagSize
        self.tag = bytearray()  # a tag header being collected

    def hello(self):
        return self.request

    def data_received(self, data):
        self.c.bytes += len(data)
        if not self.c.started:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) > 16384:
                    self.c.error = "no response head"
                    self.transport.close()
                return
            line = bytes(self.head[:self.head.find(b"\r\n")])
            self.status = int(line.split()[1])
            if self.status != 200:
                self.c.error = "status %d" % self.status
                self.transport.close()
                return
            self.c.started = True
            data = bytes(self.head[end + 4:])
            self.head = bytearray()
            if self.stalled:
                self.transport.pause_reading()
        self.body(memoryview(data))

    def body(self, data):
        pos, n = 0, len(data)
        while pos < n:
            if self.skip:
                take = min(self.skip, n - pos)
                self.skip -= take
                pos += take
                continue
            need = 11 - len(self.tag)
            self.tag += data[pos:pos + need]
            pos += min(need, n - pos)
            if len(self.tag) < 11:
                break
            size = (self.tag[1] << 16) | (self.tag[2] << 8) | self.tag[3]
            if self.tag[0] & 0x1F == 9:
                self.c.frames += 1
            if self.tag[0] & 0x1F in (8, 9):
                self.c.media_bytes += size
            self.skip = size + 4  # payload + PreviousTagSize
            self.tag = bytearray()


class Load:
    """An asyncio loop in a thread that owns every client it starts."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.clients = []

    def call(self, coro, timeout=120):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def rtmp_players(self, port, name, n, stalled=False, parallel=64, rcvbuf=None, timeout=120):
        """Starts n players of rtmp://127.0.0.1:port/live/name; returns their counters."""
        tc_url = "rtmp://127.0.0.1:%d/live" % port
        return self._start(port, lambda: RtmpPlayer(tc_url, name, stalled), n, parallel, rcvbuf, timeout)

    def flv_viewers(self, port, path, n, stalled=False, parallel=64, rcvbuf=None, timeout=120):
        host = "127.0.0.1:%d" % port
        return self._start(port, lambda: FlvViewer(host, path, stalled), n, parallel, rcvbuf, timeout)

    def _start(self, port, factory, n, parallel, rcvbuf, timeout):
        async def one(sem):
            async with sem:
                proto = None
                for attempt in range(3):  # a full accept queue drops SYNs: retry, bounded
                    sock = socket.socket()
                    sock.setblocking(False)
                    if rcvbuf:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
                    try:
                        await asyncio.wait_for(self.loop.sock_connect(sock, ("127.0.0.1", port)), 5)
                        _, proto = await self.loop.create_connection(factory, sock=sock)
                        break
                    except (OSError, asyncio.TimeoutError) as e:
                        sock.close()
                        err = e
                if proto is None:
                    c = _Counters()
                    c.closed = "connect failed: %r" % (err,)
                    return c, None
                return proto.c, proto

        async def all_of():
            sem = asyncio.Semaphore(parallel)
            return await asyncio.gather(*(one(sem) for _ in range(n)))

        pairs = self.call(all_of(), timeout)
        self.clients += [p for _, p in pairs if p]
        return [c for c, _ in pairs]

    def http_flood(self, port, request, total, connections=32, seconds=60):
        """Sends `request` (bytes, one HTTP/1.1 request) `total` times over
        `connections` keep-alive connections (reopened when the server
        closes one), within `seconds`. Returns {status: count}; 0 counts
        requests that got no answer."""
        statuses = {}

        async def worker(share, deadline):
            reader = writer = None
            done = 0
            while done < share and time.monotonic() < deadline:
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.write(request)
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                    status = int(head.split(b" ", 2)[1])
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    await asyncio.wait_for(reader.readexactly(length), 10)
                    if b"connection: close" in head.lower():
                        writer.close()
                        writer = None
                except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError):
                    status = 0
                    if writer:
                        writer.close()
                    writer = None
                statuses[status] = statuses.get(status, 0) + 1
                done += 1
            if writer:
                writer.close()

        async def flood():
            deadline = time.monotonic() + seconds
            shares = [total // connections + (1 if i < total % connections else 0) for i in range(connections)]
            await asyncio.gather(*(worker(n, deadline) for n in shares))

        self.call(flood(), timeout=seconds + 30)
        return statuses

    def slowloris(self, port, payload, n, interval=0.2, seconds=6.0):
        """Opens n connections that send `payload` one byte every `interval`
        seconds. Returns, per connection, how many seconds after connecting
        the server closed it (None: still open after `seconds`; -1: the
        connection could not be opened). Returns at once a future of that
        list, so the test can check other clients meanwhile."""
        async def one():
            t0 = time.monotonic()
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
            except (OSError, asyncio.TimeoutError):
                return -1
            closed = []

            async def watch():
                try:
                    while await reader.read(65536):
                        pass
                except OSError:
                    pass
                closed.append(time.monotonic() - t0)

            watcher = asyncio.ensure_future(watch())
            sent = 0
            while not watcher.done() and time.monotonic() - t0 < seconds:
                if sent < len(payload):
                    writer.write(payload[sent:sent + 1])
                    sent += 1
                await asyncio.wait([watcher], timeout=interval)
            watcher.cancel()
            writer.close()
            return closed[0] if closed else None

        async def all_of():
            return await asyncio.gather(*(one() for _ in range(n)))

        return asyncio.run_coroutine_threadsafe(all_of(), self.loop)

    def close(self, counters=None):
        """Closes the clients whose counters are given (all by default)."""
        async def close_them():
            for p in self.clients:
                if (counters is None or p.c in counters) and p.transport:
                    p.transport.abort()
        self.call(close_them())
        if counters is None:
            self.clients = []
        else:
            self.clients = [p for p in self.clients if p.c not in counters]

    def local_ports(self, counters):
        """The client-side port of each connection (to find which worker serves it)."""
        async def ports():
            out = {}
            for p in self.clients:
                if p.c in counters and p.transport and p.c.closed is None:
                    out[id(p.c)] = p.transport.get_extra_info("sockname")[1]
            return out
        return self.call(ports())

    def stop(self):
        try:
            self.close()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)

