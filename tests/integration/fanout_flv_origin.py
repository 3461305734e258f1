"""A live HTTP-FLV origin for thousands of viewers, for the stress tests: one
ffmpeg encodes a test pattern to FLV on its stdout, and every GET of
/APP/STREAM.flv gets, chunked like SRS, the FLV header, the metadata and
sequence headers, then the live tags from the moment it joined. flv_origin.py
runs one ffmpeg per request, which is right for a handful of viewers and far
too heavy for 2,000 on two cores.

Live tags are batched and written to every viewer every 50 ms (one write per
viewer per batch). A viewer more than 32 MB behind is dropped, as a real
origin would. Anything but *.flv is 404.

Usage: fanout_flv_origin.py PORT [BITRATE] [FPS] [SIZE] [FLUSH_MS]
FLUSH_MS (default 50) is the batching interval; bench/scale uses a longer
one so that thousands of viewers cost fewer writes.
Prints "ready" on stdout once the first tags arrived from ffmpeg.
"""
import asyncio
import struct
import sys

PORT = int(sys.argv[1])
BITRATE = sys.argv[2] if len(sys.argv) > 2 else "150k"
FPS = sys.argv[3] if len(sys.argv) > 3 else "10"
SIZE = sys.argv[4] if len(sys.argv) > 4 else "160x120"
FLUSH = (int(sys.argv[5]) if len(sys.argv) > 5 else 50) / 1000.0
MAX_BEHIND = 32 * 1024 * 1024

header = b""       # FLV header + PreviousTagSize0
init_tags = []     # onMetaData and the first AVC/AAC sequence headers
pending = bytearray()
viewers = set()


def chunked(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"


def is_init(tag):
    t = tag[0] & 0x1F
    if t == 18:
        return True
    if t == 9 and len(tag) > 12:
        return tag[12] == 0  # AVCPacketType 0: sequence header
    if t == 8 and len(tag) > 12:
        return (tag[11] >> 4) == 10 and tag[12] == 0  # AAC sequence header
    return False


async def encoder(ready):
    global header
    ff = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-loglevel", "error", "-re",
        "-f", "lavfi", "-i", "testsrc=size=%s:rate=%s" % (SIZE, FPS),
        "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=22050",
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", FPS,
        "-b:v", BITRATE, "-minrate", BITRATE, "-maxrate", BITRATE, "-bufsize", BITRATE,
        "-x264-params", "nal-hrd=cbr",
        "-c:a", "aac", "-b:a", "32k", "-f", "flv", "-", stdout=asyncio.subprocess.PIPE)
    buf = bytearray()
    while True:
        data = await ff.stdout.read(65536)
        if not data:
            break
        buf += data
        if not header:
            if len(buf) < 13:
                continue
            header = bytes(buf[:13])
            del buf[:13]
        pos = 0
        while len(buf) - pos >= 11:
            size = struct.unpack(">I", b"\x00" + bytes(buf[pos + 1:pos + 4]))[0]
            end = pos + 11 + size + 4
            if end > len(buf):
                break
            tag = bytes(buf[pos:end])
            if is_init(tag) and len(init_tags) < 3:
                init_tags.append(tag)
            else:
                pending.extend(tag)
                if not ready.done():
                    ready.set_result(None)
            pos = end
        del buf[:pos]
    await ff.wait()


async def flusher():
    while True:
        await asyncio.sleep(FLUSH)
        if not pending:
            continue
        data = chunked(bytes(pending))
        pending.clear()
        for v in list(viewers):
            if v.get_write_buffer_size() > MAX_BEHIND:
                viewers.discard(v)
                v.abort()
            else:
                v.write(data)


class Viewer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.head = b""

    def data_received(self, data):
        if self.transport in viewers:
            return  # a viewer says nothing more
        self.head += data
        if b"\r\n\r\n" not in self.head:
            if len(self.head) > 16384:
                self.transport.close()
            return
        path = self.head.split(b" ", 2)[1].split(b"?")[0]
        if not path.endswith(b".flv"):
            self.transport.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\n"
                                 b"not found\n")
            self.transport.close()
            return
        self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nCache-Control: no-cache\r\n"
                             b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                             chunked(header + b"".join(init_tags)))
        viewers.add(self.transport)

    def connection_lost(self, exc):
        viewers.discard(self.transport)


async def main():
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    enc = asyncio.ensure_future(encoder(ready))
    await asyncio.wait([ready, enc], return_when=asyncio.FIRST_COMPLETED)
    if enc.done():
        sys.exit("ffmpeg ended before producing a stream")
    server = await loop.create_server(Viewer, "127.0.0.1", PORT, backlog=4096)
    asyncio.ensure_future(flusher())
    print("ready", flush=True)
    async with server:
        await enc  # the origin lives as long as its encoder


asyncio.run(main())
