"""Conntrack clean-up for published UDP ports, over netlink (pyroute2): no process.

UDP "flows" outlive a port mapping in conntrack: entries NATed to a removed container keep
sending the traffic to its old address, and entries created while no mapping existed
(traffic to the host itself) keep a new mapping from ever seeing it. So:

- :func:`flush_udp_to` (unpublish) deletes the UDP entries whose reply comes from the
  container's address (every flow DNATed to it);
- :func:`flush_udp_unnated` (publish) deletes the un-NATed UDP entries to a local address
  on the newly published host ports.

conntrack is per network namespace: these act on the calling thread's (the daemon's).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable

from cove.errors import KernelError

UDP = 17


def _entries():
    from pyroute2 import Conntrack
    from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple
    ct = Conntrack()
    try:
        return ct, list(ct.dump_entries(tuple_orig=NFCTAttrTuple(proto=UDP)))
    except BaseException:
        ct.close()
        raise


def _is_local(ip: str) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((ip, 0))
        return True
    except OSError as exc:
        return exc.errno != errno.EADDRNOTAVAIL
    finally:
        s.close()


def _delete(select) -> int:
    try:
        ct, entries = _entries()
    except Exception as exc:  # noqa: BLE001 - netlink/pyroute2 errors
        raise KernelError(f"cannot list conntrack entries: {exc}") from exc
    n = 0
    try:
        for e in entries:
            if not select(e):
                continue
            try:
                ct.entry("del", tuple_orig=e.tuple_orig)
                n += 1
            except Exception as exc:  # noqa: BLE001 - gone meanwhile is fine
                if getattr(exc, "code", 0) != errno.ENOENT:
                    raise KernelError(f"cannot delete a conntrack entry: {exc}") from exc
    finally:
        ct.close()
    return n


def flush_udp_to(container_ips: Iterable[str]) -> int:
    """Delete UDP entries answered by one of ``container_ips``; returns how many."""
    ips = set(container_ips)
    if not ips:
        return 0
    return _delete(lambda e: e.tuple_reply.saddr in ips)


def flush_udp_unnated(host_ports: Iterable[int]) -> int:
    """Delete un-NATed UDP entries to a local address on one of ``host_ports``."""
    ports = set(host_ports)
    if not ports:
        return 0
    local: dict[str, bool] = {}

    def stale(e) -> bool:
        o, r = e.tuple_orig, e.tuple_reply
        if o.dport not in ports or r.saddr != o.daddr or r.sport != o.dport:
            return False
        if o.daddr not in local:
            local[o.daddr] = _is_local(o.daddr)
        return local[o.daddr]

    return _delete(stale)
