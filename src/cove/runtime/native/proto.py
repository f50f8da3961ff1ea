"""Messages between the driver and the spawner: one JSON object per SOCK_SEQPACKET
datagram, file descriptors alongside with SCM_RIGHTS. Stdlib only."""

from __future__ import annotations

import json
import os
import socket
from typing import Any

MAX_MSG = 1 << 20
MAX_FDS = 8


def send_msg(sock: socket.socket, msg: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(msg).encode()
    if len(data) > MAX_MSG:
        raise ValueError("message too large")
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.sendall(data)


def recv_msg(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """(message, fds); (None, []) at EOF. Received fds are close-on-exec."""
    data, fds, flags, _ = socket.recv_fds(sock, MAX_MSG, MAX_FDS, socket.MSG_CMSG_CLOEXEC)
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    return json.loads(data), list(fds)
