"""Host-port reservation: a bound socket held per published ``(ip, port, proto)``.

Holding the socket makes a conflict true: no other process can bind the port while a
container publishes it, and a port some process already holds is refused with the
holder's pid and name (found through ``/proc/net/*`` and ``/proc/<pid>/fd``). Sockets
are opened in the calling thread's network namespace (the daemon's: the host's).
TCP sockets are bound but never listen: the DNAT in prerouting/output takes the
traffic before local delivery, and nothing could be accepted anyway.
"""

from __future__ import annotations

import errno
import os
import socket

from cove.errors import Conflict, KernelError

_PROTO = {"tcp": (socket.SOCK_STREAM, 0), "udp": (socket.SOCK_DGRAM, 0),
          "sctp": (socket.SOCK_STREAM, 132)}


def _fmt(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def hold(ip: str, port: int, proto: str) -> socket.socket:
    """Bind a socket on ``ip:port/proto`` and return it (the caller keeps it open).

    Raises Conflict ("failed to bind host port ...: address already in use (held by
    process PID "comm")") when something else holds the port, KernelError otherwise."""
    typ, num = _PROTO[proto]
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:
        s = socket.socket(fam, typ | socket.SOCK_CLOEXEC, num)
    except OSError as exc:
        raise KernelError(f"cannot open a {proto} socket for host port {port}: {exc}") from exc
    try:
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if typ == socket.SOCK_DGRAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        s.bind((ip, port))
    except OSError as exc:
        s.close()
        where = f"{_fmt(ip)}:{port}/{proto}"
        if exc.errno == errno.EADDRINUSE:
            holder = find_holder(port, proto)
            extra = f" (held by {holder})" if holder else ""
            raise Conflict(f"failed to bind host port {where}: address already in use{extra}"
                           ) from exc
        raise KernelError(f"failed to bind host port {where}: {exc.strerror}") from exc
    return s


def _inodes(port: int, proto: str) -> set[str]:
    out: set[str] = set()
    for fam in ("", "6"):
        try:
            with open(f"/proc/net/{proto}{fam}") as f:
                next(f, None)
                for line in f:
                    parts = line.split()
                    if len(parts) > 9 and int(parts[1].rsplit(":", 1)[1], 16) == port:
                        out.add(parts[9])
        except (OSError, ValueError):
            continue
    out.discard("0")
    return out


def find_holder(port: int, proto: str) -> str:
    """``process 1234 "python3"`` for the process holding ``port/proto`` in this netns,
    or "" when it cannot be found (another user's process in a hidden /proc, say)."""
    if proto not in ("tcp", "udp"):
        return ""
    inodes = {f"socket:[{i}]" for i in _inodes(port, proto)}
    if not inodes:
        return ""
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") in inodes:
                    with open(f"/proc/{pid}/comm") as f:
                        comm = f.read().strip()
                    return f'process {pid} "{comm}"'
            except OSError:
                continue
    return ""
