"""Builds STUN binding requests (RFC 5389) the way an ICE client does:
USERNAME, optional MESSAGE-INTEGRITY (HMAC-SHA1 with the answer's ice-pwd)
and FINGERPRINT. Used by the bad-input and rebinding tests and the benchmark.
"""
import hashlib
import hmac
import os
import struct
import zlib

MAGIC = 0x2112A442


def _attr(kind, value):
    pad = (4 - len(value) % 4) % 4
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * pad


def binding_request(username, password=None, txid=None, fingerprint=True):
    txid = txid or os.urandom(12)
    attrs = _attr(0x0006, username.encode())
    if password is not None:
        # Length covers up to and including MESSAGE-INTEGRITY.
        head = struct.pack("!HHI", 0x0001, len(attrs) + 24, MAGIC) + txid
        mac = hmac.new(password.encode(), head + attrs, hashlib.sha1).digest()
        attrs += _attr(0x0008, mac)
    if fingerprint:
        head = struct.pack("!HHI", 0x0001, len(attrs) + 8, MAGIC) + txid
        crc = (zlib.crc32(head + attrs) ^ 0x5354554E) & 0xFFFFFFFF
        attrs += _attr(0x8028, struct.pack("!I", crc))
    return struct.pack("!HHI", 0x0001, len(attrs), MAGIC) + txid + attrs


def is_binding_success(data, txid=None):
    if len(data) < 20:
        return False
    kind, _, magic = struct.unpack("!HHI", data[:8])
    return kind == 0x0101 and magic == MAGIC and (txid is None or data[8:20] == txid)


def sdp_attr(sdp, name):
    for line in sdp.splitlines():
        if line.startswith("a=%s:" % name):
            return line.split(":", 1)[1].strip()
    return None
