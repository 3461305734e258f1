#!/usr/bin/python3
"""aiortc WHIP publisher / WHEP player for the proxy's integration tests.

  aiortc_client.py publish|play URL [--seconds N] [--json STREAMURL] [--delete] [--candidate-port P]

Publish sends a generated video track (a moving gradient) via WHIP (or SRS JSON
signalling with --json); play receives one via WHEP and counts decoded frames.
Prints one JSON line: HTTP status, answer candidates, Location, the best ICE
state reached and the frames received. --candidate-port sends the media to
another port than the answer's candidates name (another proxy's UDP port:
signalling through one proxy, media through another).
"""
import argparse
import asyncio
import json
import os
import re
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rtc_common import loopback_only  # noqa: E402

loopback_only()

import numpy  # noqa: E402
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack  # noqa: E402
from av import VideoFrame  # noqa: E402


class Gradient(VideoStreamTrack):
    """320x240 frames whose colours move, so the encoder has real work."""

    def __init__(self):
        super().__init__()
        self.n = 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        img = numpy.zeros((240, 320, 3), numpy.uint8)
        img[:, :, 0] = (numpy.arange(320) + self.n * 4) % 256
        img[:, :, 1] = self.n % 256
        self.n += 1
        frame = VideoFrame.from_ndarray(img, format="bgr24")
        frame.pts, frame.time_base = pts, time_base
        return frame


def post(url, body, ctype):
    req = urllib.request.Request(url, data=body.encode(), method="POST", headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


def with_candidate_port(sdp, port):
    """`sdp` with the port of every a=candidate line replaced by `port`
    (foundation component transport priority address PORT typ ...)."""
    return re.sub(r"^(a=candidate:\S+ \S+ \S+ \S+ \S+ )\d+", lambda m: m.group(1) + str(port), sdp, flags=re.M)


def delete(url):
    req = urllib.request.Request(url, method="DELETE")
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


async def run(args):
    result = {"status": 0, "ice_states": [], "frames": 0, "candidates": [], "location": None}
    pc = RTCPeerConnection()

    @pc.on("iceconnectionstatechange")
    def on_ice():
        result["ice_states"].append(pc.iceConnectionState)

    async def count(track):
        try:
            while True:
                await track.recv()
                result["frames"] += 1
        except Exception:
            pass

    if args.mode == "publish":
        pc.addTrack(Gradient())
    else:
        pc.addTransceiver("video", direction="recvonly")

        @pc.on("track")
        def on_track(track):
            asyncio.ensure_future(count(track))

    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    loop = asyncio.get_running_loop()
    if args.json:
        body = json.dumps({"api": args.url, "streamurl": args.json, "sdp": offer})
        status, text, headers = await loop.run_in_executor(None, post, args.url, body, "application/json")
        answer = json.loads(text).get("sdp") if status == 200 else None
        result["body"] = text if status != 200 else None
    else:
        status, text, headers = await loop.run_in_executor(None, post, args.url, offer, "application/sdp")
        answer = text if status == 201 else None
        result["body"] = None if answer else text
    result["status"] = status
    result["location"] = headers.get("Location")
    if answer:
        result["candidates"] = [l for l in answer.splitlines() if l.startswith("a=candidate:")]
        # An early line, so a test can act on the live session (see peers.early()).
        print(json.dumps({"answer": answer, "offer": offer}), flush=True)
        if args.candidate_port:
            answer = with_candidate_port(answer, args.candidate_port)
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        await asyncio.sleep(args.seconds)
    if args.delete and result["location"]:
        loc = result["location"]
        if loc.startswith("/"):
            loc = args.url.split("/rtc/")[0] + loc
        result["delete_status"] = await loop.run_in_executor(None, delete, loc)
    await pc.close()
    print(json.dumps(result), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["publish", "play"])
    ap.add_argument("url")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--json")
    ap.add_argument("--delete", action="store_true")
    ap.add_argument("--candidate-port", type=int)
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
