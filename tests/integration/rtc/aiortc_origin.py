#!/usr/bin/python3
"""A small WHIP/WHEP (and SRS JSON signalling) WebRTC origin built on aiortc,
for the proxy's integration tests.

- POST /rtc/v1/whip/?app=A&stream=S (or /rtc/v1/publish/ JSON): receives the
  published video track; counts its decoded frames.
- POST /rtc/v1/whep/?app=A&stream=S (or /rtc/v1/play/ JSON): sends the published
  track (aiortc MediaRelay) to the player.
- DELETE on the Location it hands out closes that peer connection.
- GET /stats: JSON counters the tests assert on (sessions, deletes, frames in).

Like an origin on a private network, it cannot reach clients directly: it
ignores the offer's candidates and only learns the client (really: the proxy's
relay socket) from incoming ICE checks, as a peer-reflexive candidate. aioice
fails at once with an empty check list, so a single candidate pointing at a
silent local UDP socket (`--sink-port`, which the test also registers as the
rtc endpoint) keeps its check list non-empty.

`--no-candidates` makes every answer carry no candidate (for the proxy's 502
test). Usage: aiortc_origin.py --port HTTP_PORT --sink-port UDP_PORT
"""
import argparse
import asyncio
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rtc_common import loopback_only  # noqa: E402

loopback_only()

from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.contrib.media import MediaRelay  # noqa: E402

ARGS = None
PCS = {}          # session id -> RTCPeerConnection
PUBLISHED = {}    # "app/stream" -> (MediaRelay, track)
STATS = {"offers": 0, "sessions": 0, "deleted": [], "frames_in": {}, "ice": {}}


def strip_candidates(sdp):
    out = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:") or line.startswith("a=end-of-candidates"):
            continue
        out.append(line)
        if line.startswith("c="):
            out.append("a=candidate:1 1 udp 1 127.0.0.1 %d typ host" % ARGS.sink_port)
    return "\r\n".join(out) + "\r\n"


def ice_ufrag(sdp):
    for line in sdp.splitlines():
        if line.startswith("a=ice-ufrag:"):
            return line.split(":", 1)[1].strip()
    return ""


async def count_frames(key, track):
    STATS["frames_in"].setdefault(key, 0)
    try:
        while True:
            await track.recv()
            STATS["frames_in"][key] += 1
    except Exception:
        pass


async def answer(kind, key, offer_sdp):
    STATS["offers"] += 1
    pc = RTCPeerConnection()
    if kind == "play":
        if key not in PUBLISHED:
            return 404, None, None
        relay, track = PUBLISHED[key]
    else:
        @pc.on("track")
        def on_track(track):
            if track.kind != "video":
                return
            relay = MediaRelay()
            PUBLISHED[key] = (relay, track)
            asyncio.ensure_future(count_frames(key, relay.subscribe(track)))
    await pc.setRemoteDescription(RTCSessionDescription(strip_candidates(offer_sdp), "offer"))
    if kind == "play":
        pc.addTrack(relay.subscribe(track, buffered=False))
    await pc.setLocalDescription(await pc.createAnswer())
    sdp = pc.localDescription.sdp
    sid = ice_ufrag(sdp) + ":" + ice_ufrag(offer_sdp)
    PCS[sid] = pc
    STATS["sessions"] += 1

    @pc.on("iceconnectionstatechange")
    def on_ice():
        STATS["ice"][sid] = pc.iceConnectionState

    if ARGS.no_candidates:
        sdp = "\r\n".join(l for l in sdp.splitlines() if not l.startswith("a=candidate:")) + "\r\n"
    return 201, sdp, sid


async def handle(method, target, headers, body):
    url = urllib.parse.urlsplit(target)
    q = dict(urllib.parse.parse_qsl(url.query))
    path = url.path
    if method == "GET" and path == "/stats":
        return 200, "application/json", json.dumps(STATS), {}
    if method == "DELETE":
        sid = q.get("session", "")
        pc = PCS.pop(sid, None)
        if not pc:
            return 404, "text/plain", "no such session\n", {}
        await pc.close()
        STATS["deleted"].append(sid)
        return 200, "text/plain", "", {}
    if method != "POST":
        return 405, "text/plain", "method not allowed\n", {}
    if path.startswith("/rtc/v1/publish") or path.startswith("/rtc/v1/play"):
        req = json.loads(body)
        parts = urllib.parse.urlsplit(req["streamurl"]).path.strip("/").split("/")
        key = "/".join(parts[-2:])
        kind = "play" if path.startswith("/rtc/v1/play") else "publish"
        code, sdp, sid = await answer(kind, key, req["sdp"])
        if code != 201:
            return 200, "application/json", json.dumps({"code": 400, "error": "not published"}), {}
        return 200, "application/json", json.dumps({"code": 0, "server": "aiortc-origin", "sdp": sdp,
                                                    "sessionid": sid}), {}
    kind = "play" if path.startswith("/rtc/v1/whep") else "publish"
    key = "%s/%s" % (q.get("app", ""), q.get("stream", ""))
    code, sdp, sid = await answer(kind, key, body)
    if code != 201:
        return code, "text/plain", "stream %s not published\n" % key, {}
    loc = "/rtc/v1/%s/?action=delete&app=%s&stream=%s&session=%s" % (
        "whep" if kind == "play" else "whip", q.get("app", ""), q.get("stream", ""), urllib.parse.quote(sid))
    return 201, "application/sdp", sdp, {"Location": loc, "ETag": '"%s"' % sid}


async def serve_client(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            method, target, _ = line.decode().split(" ", 2)
            headers = {}
            while True:
                h = (await reader.readline()).decode()
                if h in ("\r\n", "\n", ""):
                    break
                k, _, v = h.partition(":")
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0"))
            body = (await reader.readexactly(n)).decode() if n else ""
            code, ctype, text, extra = await handle(method, target, headers, body)
            data = text.encode()
            head = "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (code, ctype, len(data))
            for k, v in extra.items():
                head += "%s: %s\r\n" % (k, v)
            writer.write((head + "\r\n").encode() + data)
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    except Exception as e:  # a broken request ends this connection only
        sys.stderr.write("origin: %r\n" % e)
    finally:
        writer.close()


async def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sink-port", type=int, required=True)
    ap.add_argument("--no-candidates", action="store_true")
    ARGS = ap.parse_args()
    loop = asyncio.get_running_loop()
    # The silent candidate: receives aioice's checks and never answers.
    await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", ARGS.sink_port))
    server = await asyncio.start_server(serve_client, "127.0.0.1", ARGS.port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
