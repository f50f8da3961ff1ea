"""Sockets opened inside another network namespace.

A socket belongs to the namespace it was created in, whichever thread later uses it.
:func:`listen_in_netns` creates a bound UDP socket and a listening TCP socket on a
short-lived thread that has joined the namespace (see :func:`syscalls.run_in_netns`) and
returns them non-blocking, ready to be handed to an event loop.
"""

from __future__ import annotations

import socket

from cove.errors import KernelError
from cove.kernel import syscalls


def _open(ip: str, port: int) -> tuple[socket.socket, socket.socket]:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        udp.bind((ip, port))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((ip, port))
            tcp.listen(64)
        except BaseException:
            tcp.close()
            raise
    except BaseException:
        udp.close()
        raise
    udp.setblocking(False)
    tcp.setblocking(False)
    return udp, tcp


def listen_in_netns(netns_path: str, ip: str, port: int) -> tuple[socket.socket, socket.socket]:
    """(udp, tcp) sockets bound to ``ip:port`` inside the namespace at ``netns_path``.

    Nothing is left open on failure."""
    try:
        return syscalls.run_in_netns(netns_path, lambda: _open(ip, port))
    except OSError as exc:
        raise KernelError(f"cannot listen on {ip}:{port} in {netns_path}: {exc}") from exc
