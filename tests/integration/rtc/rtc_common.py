"""Helpers shared by the aiortc test peers (origin and clients).

Loopback only: aioice normally gathers every interface address except
127.0.0.1; the tests must use loopback addresses only, so host candidates are
limited to 127.0.0.1.
"""
import aioice.ice


def loopback_only():
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
