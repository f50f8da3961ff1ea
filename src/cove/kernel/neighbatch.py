"""Static neighbour and FDB entries in batches: many rtnetlink requests per send.

pyroute2 costs about 0.6 ms per request; an overlay with thousands of remote endpoints
needs a neighbour (IP → MAC) and an FDB entry (MAC → remote VTEP, ``NTF_SELF``) for
each. :class:`NeighBatch` encodes RTM_NEWNEIGH / RTM_DELNEIGH messages itself, sends
them in chunks on one NETLINK_ROUTE socket (in the calling thread's namespace) and
matches the acks by sequence number, so every request is tried and each failure is
reported with its errno.
"""

from __future__ import annotations

import errno
import os
import socket
import struct

_NLM_F_REQUEST, _NLM_F_ACK, _NLM_F_REPLACE, _NLM_F_CREATE = 1, 4, 0x100, 0x400
_NLMSG_ERROR = 2
_RTM_NEWNEIGH, _RTM_DELNEIGH = 28, 29
_NDA_DST, _NDA_LLADDR = 1, 2
_AF_INET, _AF_BRIDGE = 2, 7
NUD_PERMANENT = 0x80
NTF_SELF = 0x02
_CHUNK = 128


def _attr(kind: int, data: bytes) -> bytes:
    n = 4 + len(data)
    return struct.pack("=HH", n, kind) + data + b"\0" * ((4 - n % 4) % 4)


def _mac(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def encode_neigh(ifindex: int, ip: str, mac: str, delete: bool = False) -> tuple[int, int, bytes]:
    """(type, flags, payload) for a permanent neighbour ``ip`` → ``mac``."""
    body = struct.pack("=BBHiHBB", _AF_INET, 0, 0, ifindex, NUD_PERMANENT, 0, 0)
    body += _attr(_NDA_DST, socket.inet_aton(ip)) + _attr(_NDA_LLADDR, _mac(mac))
    if delete:
        return _RTM_DELNEIGH, 0, body
    return _RTM_NEWNEIGH, _NLM_F_CREATE | _NLM_F_REPLACE, body


def encode_fdb(ifindex: int, mac: str, dst: str, delete: bool = False) -> tuple[int, int, bytes]:
    """(type, flags, payload) for a permanent FDB entry ``mac`` → remote ``dst`` (self)."""
    body = struct.pack("=BBHiHBB", _AF_BRIDGE, 0, 0, ifindex, NUD_PERMANENT, NTF_SELF, 0)
    body += _attr(_NDA_LLADDR, _mac(mac)) + _attr(_NDA_DST, socket.inet_aton(dst))
    if delete:
        return _RTM_DELNEIGH, 0, body
    return _RTM_NEWNEIGH, _NLM_F_CREATE | _NLM_F_REPLACE, body


class NeighBatch:
    """Queue neighbour/FDB requests, then :meth:`commit` them in chunks."""

    def __init__(self) -> None:
        self._reqs: list[tuple[int, int, bytes, str, bool]] = []

    def __len__(self) -> int:
        return len(self._reqs)

    def neigh(self, ifindex: int, ip: str, mac: str, delete: bool = False) -> None:
        what = f"{'remove' if delete else 'add'} neighbour {ip} ({mac})"
        self._reqs.append((*encode_neigh(ifindex, ip, mac, delete), what, delete))

    def fdb(self, ifindex: int, mac: str, dst: str, delete: bool = False) -> None:
        what = f"{'remove' if delete else 'add'} fdb {mac} via {dst}"
        self._reqs.append((*encode_fdb(ifindex, mac, dst, delete), what, delete))

    def commit(self) -> list[str]:
        """Send everything (in the calling thread's netns); returns the failures as text.
        Deleting an entry that is not there is not a failure."""
        errors: list[str] = []
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                             socket.NETLINK_ROUTE)
        try:
            sock.bind((0, 0))
            seq = 0
            for start in range(0, len(self._reqs), _CHUNK):
                chunk = self._reqs[start:start + _CHUNK]
                pending: dict[int, tuple[str, bool]] = {}
                out = bytearray()
                for mtype, flags, payload, what, delete in chunk:
                    seq += 1
                    pending[seq] = (what, delete)
                    out += struct.pack("=IHHII", 16 + len(payload), mtype,
                                       _NLM_F_REQUEST | _NLM_F_ACK | flags, seq, 0) + payload
                sock.sendall(bytes(out))
                while pending:
                    data = sock.recv(1 << 20)
                    off = 0
                    while off + 16 <= len(data):
                        length, mtype, _f, mseq, _pid = struct.unpack_from("=IHHII", data, off)
                        if length < 16:
                            break
                        if mtype == _NLMSG_ERROR and mseq in pending:
                            code = -struct.unpack_from("=i", data, off + 16)[0]
                            what, delete = pending.pop(mseq)
                            if code and not (delete and code in (errno.ENOENT, errno.ESRCH)):
                                errors.append(f"{what}: {os.strerror(code)}")
                        off += (length + 3) & ~3
        finally:
            sock.close()
            self._reqs.clear()
        return errors
