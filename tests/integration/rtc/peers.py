"""Starts the aiortc test peers for the WebRTC integration tests."""
import json
import os
import subprocess
import urllib.request

from harness import stop_process

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"


class Origin:
    """tests/integration/rtc/aiortc_origin.py on free loopback ports."""

    def __init__(self, free_port, no_candidates=False):
        import socket
        self.port = free_port()
        self.sink_port = free_port(socket.SOCK_DGRAM)
        cmd = [PYTHON, os.path.join(HERE, "aiortc_origin.py"), "--port", str(self.port),
               "--sink-port", str(self.sink_port)]
        if no_candidates:
            cmd.append("--no-candidates")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        if "ready" not in line:
            raise AssertionError("aiortc origin did not start: %s" % self.proc.stderr.read().decode())

    def registration(self, server="aiortc-origin"):
        return {"ip": "127.0.0.1", "server": server, "service": "svc-%d" % self.port, "pid": str(self.proc.pid),
                "rtmp": ["19350"], "api": ["127.0.0.1:%d" % self.port],
                "rtc": ["udp://127.0.0.1:%d" % self.sink_port]}

    def stats(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/stats" % self.port, timeout=5) as r:
            return json.loads(r.read())

    def stop(self):
        stop_process(self.proc)


def client(mode, url, seconds=4, json_url=None, delete=False, background=False, candidate_port=None):
    """Runs aiortc_client.py; returns its parsed JSON result (or the Popen)."""
    cmd = [PYTHON, os.path.join(HERE, "aiortc_client.py"), mode, url, "--seconds", str(seconds)]
    if json_url:
        cmd += ["--json", json_url]
    if delete:
        cmd.append("--delete")
    if candidate_port:
        cmd += ["--candidate-port", str(candidate_port)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if background:
        return p
    return finish(p, seconds)


def finish(p, seconds=4):
    try:
        out, err = p.communicate(timeout=seconds + 40)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("aiortc client timed out: %s" % err.decode()[-2000:])
    lines = out.decode().strip().splitlines()
    if p.returncode != 0 or not lines:
        raise AssertionError("aiortc client failed (%s): %s" % (p.returncode, err.decode()[-2000:]))
    return json.loads(lines[-1])


def early(p):
    """The {"answer", "offer"} line a background client prints once answered."""
    line = p.stdout.readline().decode()
    if not line:
        raise AssertionError("aiortc client printed no answer: %s" % p.stderr.read().decode()[-2000:])
    return json.loads(line)
