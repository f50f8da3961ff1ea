"""The monitor's console socket: how the daemon reaches a running container's stdin.

A container started with a tty or ``OpenStdin`` has a monitor that holds the writing
end of its input: the pty master (tty) or the write end of the stdin pipe. The monitor
listens on ``<state dir>/console.sock`` (mode 0600) and hands a duplicate of that fd to
each client with SCM_RIGHTS, so the daemon can write stdin and resize the tty, also after
a daemon restart (the monitor outlives the daemon). The socket is bound and reached
through ``/proc/self/fd/<dirfd>/`` so that long state paths fit in ``sun_path``.
Stdlib only: imported by the monitor (via the spawner).
"""

from __future__ import annotations

import os
import socket
import struct

SOCK = "console.sock"
TTY, PIPE = b"t", b"p"        # what the fd is: a pty master, or a pipe's write end
FETCH, CLOSE = b"f", b"c"     # requests: give me the fd; close stdin (StdinOnce)


def _short(dir_fd: int) -> str:
    return f"/proc/self/fd/{dir_fd}/{SOCK}"


def listen(state_dir: str) -> socket.socket:
    """Bind (replacing a stale file) and listen on ``<state_dir>/console.sock``."""
    dfd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            os.unlink(SOCK, dir_fd=dfd)
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            old = os.umask(0o177)
            try:
                sock.bind(_short(dfd))
            finally:
                os.umask(old)
            sock.listen(8)
        except BaseException:
            sock.close()
            raise
    finally:
        os.close(dfd)
    return sock


def serve_one(listener: socket.socket, fd: int, kind: bytes) -> bool:
    """Accept one client: give it ``fd`` (FETCH), or acknowledge CLOSE and return True
    (the caller then closes its stdin fd). Only root (the daemon) is served."""
    try:
        conn, _ = listener.accept()
    except OSError:
        return False
    try:
        conn.settimeout(1.0)          # the monitor is single-threaded: never wait long
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        if uid != 0:
            return False
        req = conn.recv(1)
        if req == CLOSE:
            conn.sendall(b"k")
            return True
        if req == FETCH and fd >= 0:
            socket.send_fds(conn, [kind], [fd])
    except OSError:
        pass
    finally:
        conn.close()
    return False


def remove(state_dir: str) -> None:
    try:
        dfd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.unlink(SOCK, dir_fd=dfd)
    except FileNotFoundError:
        pass
    finally:
        os.close(dfd)


def _ask(state_dir: str, req: bytes, timeout: float) -> tuple[bytes, list[int]] | None:
    try:
        dfd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.settimeout(timeout)
        sock.connect(_short(dfd))
        sock.sendall(req)
        data, fds, _flags, _ = socket.recv_fds(sock, 16, 1, socket.MSG_CMSG_CLOEXEC)
    except OSError:
        return None
    finally:
        sock.close()
        os.close(dfd)
    return data, list(fds)


def fetch(state_dir: str, timeout: float = 5.0) -> tuple[int, bool] | None:
    """(fd, is_tty) from the monitor of the container in ``state_dir``; None when it has
    no console (not running, neither tty nor OpenStdin, or stdin closed). The caller
    closes ``fd``."""
    got = _ask(state_dir, FETCH, timeout)
    if not got or not got[1]:
        return None
    data, fds = got
    for extra in fds[1:]:
        os.close(extra)
    return fds[0], data == TTY


def close_stdin(state_dir: str, timeout: float = 5.0) -> bool:
    """Ask the monitor to close the container's stdin pipe (its process sees EOF once
    every other copy of the write end is closed too)."""
    got = _ask(state_dir, CLOSE, timeout)
    return bool(got and got[0] == b"k")


def recv_master(sock: socket.socket, timeout: float | None = None) -> int:
    """The pty master sent over ``sock`` by whoever opened the pty (the container's PID 1
    or an exec helper, ``monitor.send_master``); -1 when it sent none. Closes ``sock``."""
    try:
        sock.settimeout(timeout)
        _, fds, _, _ = socket.recv_fds(sock, 16, 1, socket.MSG_CMSG_CLOEXEC)
    except OSError:
        fds = []
    finally:
        sock.close()
    return fds[0] if fds else -1
