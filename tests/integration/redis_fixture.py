"""A real redis-server for the integration tests: a child on a free loopback
port, without persistence (--save '' --appendonly no), ready once it answers
PING (redis-cli is not needed: the fixture speaks RESP itself). stop() and
start() again on the same port stand for an outage and its end."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

from harness import free_port, wait_for


def redis_server_binary():
    return shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="sp-redis-")
        self.proc = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        binary = redis_server_binary()
        if not os.access(binary, os.X_OK):
            raise AssertionError("redis-server not found (install the Debian package redis-server)")
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.proc.poll() is not None or self.ping(), timeout=10,
                 what="redis-server on port %d to answer PING" % self.port)
        if self.proc.poll() is not None:
            raise AssertionError("redis-server exited at start with %s" % self.proc.returncode)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def command(self, *args, timeout=2):
        """One command on a fresh connection; the reply as Python values."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            out = b"*%d\r\n" % len(args)
            for a in args:
                a = a if isinstance(a, bytes) else str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
            s.sendall(out)
            f = s.makefile("rb")
            return _read_reply(f)

    def ping(self):
        try:
            return self.command("PING", timeout=0.5) == "PONG"
        except OSError:
            return False


def _read_reply(f):
    line = f.readline()
    if not line:
        raise OSError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2].decode(errors="replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise RuntimeError("unexpected redis reply %r" % line)
