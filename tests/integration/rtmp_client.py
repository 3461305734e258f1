"""A tiny RTMP client for tests that need to see or misbehave on the wire:
simple handshake, AMF0 commands, chunked messages (fmt 0 only, 128-byte
chunks unless told otherwise) and a reader that decodes what the server sends
(enough to find onStatus/_result/_error and count media messages).

Written from the RTMP/AMF0 specifications for tests only; the proxy's own
wire code lives in src/rtmp/.
"""
import os
import socket
import struct
import time


# ---- AMF0 -----------------------------------------------------------------------

def amf_encode(v):
    if v is None:
        return b"\x05"
    if isinstance(v, bool):
        return b"\x01" + (b"\x01" if v else b"\x00")
    if isinstance(v, (int, float)):
        return b"\x00" + struct.pack(">d", float(v))
    if isinstance(v, str):
        b = v.encode()
        return b"\x02" + struct.pack(">H", len(b)) + b
    if isinstance(v, dict):
        out = b"\x03"
        for k, x in v.items():
            kb = k.encode()
            out += struct.pack(">H", len(kb)) + kb + amf_encode(x)
        return out + b"\x00\x00\x09"
    raise TypeError(type(v))


def amf_decode(data, pos=0):
    """Returns (value, new position). Raises ValueError on input it cannot read."""
    t = data[pos]
    pos += 1
    if t == 0x00:
        return struct.unpack_from(">d", data, pos)[0], pos + 8
    if t == 0x01:
        return data[pos] != 0, pos + 1
    if t == 0x02:
        n = struct.unpack_from(">H", data, pos)[0]
        return data[pos + 2:pos + 2 + n].decode(errors="replace"), pos + 2 + n
    if t in (0x03, 0x08):
        if t == 0x08:
            pos += 4
        obj = {}
        while True:
            n = struct.unpack_from(">H", data, pos)[0]
            key = data[pos + 2:pos + 2 + n].decode(errors="replace")
            pos += 2 + n
            if n == 0 and data[pos] == 0x09:
                return obj, pos + 1
            obj[key], pos = amf_decode(data, pos)
    if t in (0x05, 0x06):
        return None, pos
    raise ValueError("amf0 type %d" % t)


def amf_decode_all(data):
    out, pos = [], 0
    while pos < len(data):
        v, pos = amf_decode(data, pos)
        out.append(v)
    return out


# ---- chunks ---------------------------------------------------------------------

def chunk(csid, type_id, stream_id, payload, chunk_size=128, timestamp=0):
    """One message as fmt 0 + fmt 3 chunks."""
    out = bytes([csid]) + struct.pack(">I", timestamp)[1:] + struct.pack(">I", len(payload))[1:] \
        + bytes([type_id]) + struct.pack("<I", stream_id)
    for i in range(0, max(len(payload), 1), chunk_size):
        if i:
            out += bytes([0xC0 | csid])
        out += payload[i:i + chunk_size]
    return out


def command(name, tid, obj=None, *args, stream_id=0):
    payload = amf_encode(name) + amf_encode(tid) + amf_encode(obj) + b"".join(amf_encode(a) for a in args)
    return chunk(3, 20, stream_id, payload)


def set_chunk_size(n):
    return chunk(2, 1, 0, struct.pack(">I", n))


class Client:
    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.in_chunk_size = 128
        self.streams = {}  # csid -> [fmt0 header fields, partial payload]
        self.messages = []

    @classmethod
    def over(cls, sock):
        """A client on an already connected socket (e.g. one with a tiny receive buffer)."""
        c = cls.__new__(cls)
        c.sock, c.buf, c.in_chunk_size, c.streams, c.messages = sock, b"", 128, {}, []
        return c

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def handshake(self):
        self.send(b"\x03" + struct.pack(">II", 0, 0) + os.urandom(1528))
        s0s1s2 = self.read_exact(1 + 1536 * 2)
        self.send(s0s1s2[1:1537])  # C2 echoes S1
        return s0s1s2

    def connect(self, tc_url, app="live"):
        self.send(command("connect", 1, {"app": app, "tcUrl": tc_url, "flashVer": "LNX 9,0,124,2",
                                         "objectEncoding": 0}))
        return self.wait_command(lambda c: c[0] in ("_result", "_error") and c[1] == 1)

    def create_stream(self):
        self.send(command("createStream", 2, None))
        res = self.wait_command(lambda c: c[0] == "_result" and c[1] == 2)
        return int(res[3])

    def publish(self, name, stream_id=1):
        self.send(command("publish", 3, None, name, "live", stream_id=stream_id))

    def play(self, name, stream_id=1):
        self.send(command("play", 3, None, name, -2000, stream_id=stream_id))

    def read_exact(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("connection closed after %d bytes" % len(self.buf))
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_message(self):
        """Reads one complete message: (type_id, stream_id, payload)."""
        while True:
            b0 = self.read_exact(1)[0]
            fmt, csid = b0 >> 6, b0 & 0x3F
            if csid == 0:
                csid = 64 + self.read_exact(1)[0]
            elif csid == 1:
                b = self.read_exact(2)
                csid = 64 + b[0] + 256 * b[1]
            st = self.streams.setdefault(csid, {"len": 0, "type": 0, "sid": 0, "ts": 0, "ext": False,
                                                "payload": b""})
            if fmt <= 2:
                ts = int.from_bytes(self.read_exact(3), "big")
                if fmt <= 1:
                    st["len"] = int.from_bytes(self.read_exact(3), "big")
                    st["type"] = self.read_exact(1)[0]
                if fmt == 0:
                    st["sid"] = struct.unpack("<I", self.read_exact(4))[0]
                st["ext"] = ts == 0xFFFFFF
                if st["ext"]:
                    self.read_exact(4)
            elif st["ext"]:
                self.read_exact(4)
            n = min(self.in_chunk_size, st["len"] - len(st["payload"]))
            st["payload"] += self.read_exact(n)
            if len(st["payload"]) >= st["len"]:
                msg = (st["type"], st["sid"], st["payload"])
                st["payload"] = b""
                if msg[0] == 1:
                    self.in_chunk_size = struct.unpack(">I", msg[2][:4])[0] & 0x7FFFFFFF
                self.messages.append(msg)
                return msg

    def wait_command(self, match, timeout=10):
        """Reads until a command (list of AMF values) matches; returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t, _, payload = self.read_message()
            if t == 20:
                values = amf_decode_all(payload)
                if match(values):
                    return values
        raise AssertionError("no matching command within %ss" % timeout)

    def wait_status(self, timeout=10):
        """The info object of the next onStatus."""
        return self.wait_command(lambda c: c[0] == "onStatus", timeout)[3]
