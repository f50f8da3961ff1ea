"""Pseudo-terminal helpers shared by the execution drivers and the engine. Stdlib only.

A container or exec started with a tty has a pty whose slave is its stdin/stdout/stderr
and controlling terminal; whoever holds the master relays it. These helpers open a pty
(relative to the caller's root, so inside a container's mount namespace the pty comes
from the container's own devpts instance), make the slave the controlling terminal,
and set the window size.
"""

from __future__ import annotations

import fcntl
import os
import struct
import termios

MAX_DIM = 0xFFFF


def open_pty() -> tuple[int, int]:
    """(master, slave), both close-on-exec, from the ``/dev/ptmx`` under the caller's root."""
    return os.openpty()


def make_controlling(slave: int) -> None:
    """In a fresh session leader: make ``slave`` the controlling terminal and stdio."""
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)


def set_winsize(fd: int, rows: int, cols: int) -> None:
    """TIOCSWINSZ on a pty (master or slave); the foreground process group gets SIGWINCH."""
    if not (0 <= rows <= MAX_DIM and 0 <= cols <= MAX_DIM):
        raise ValueError(f"invalid tty size {rows}x{cols}")
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def get_winsize(fd: int) -> tuple[int, int]:
    """(rows, cols) of a pty."""
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows, cols


def is_tty(fd: int) -> bool:
    return os.isatty(fd)
