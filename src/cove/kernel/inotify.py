"""inotify through ctypes: wake a log follower when its file grows.

:class:`FileWatch` owns one non-blocking inotify fd watching one file for writes
(``IN_MODIFY``). It is registered with the asyncio loop (``add_reader``); every event
sets an :class:`asyncio.Event` the follower waits on. :func:`watch_file` gives None
when inotify cannot be used (no instances or watches left), and the caller polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os

from cove.errors import KernelError

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.inotify_init1.argtypes = [ctypes.c_int]
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]


def init() -> int:
    """A new non-blocking, close-on-exec inotify fd."""
    fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
    if fd < 0:
        err = ctypes.get_errno()
        raise KernelError(f"inotify_init1: {os.strerror(err)}")
    return fd


def add_watch(fd: int, path: str, mask: int) -> int:
    """Watch ``path`` on inotify ``fd``; returns the watch descriptor."""
    wd = _libc.inotify_add_watch(fd, os.fsencode(path), mask)
    if wd < 0:
        err = ctypes.get_errno()
        raise KernelError(f"inotify_add_watch {path}: {os.strerror(err)}")
    return wd


def drain(fd: int) -> bool:
    """Read (and drop) every queued event; True when there was at least one."""
    got = False
    while True:
        try:
            data = os.read(fd, 4096)
        except (BlockingIOError, InterruptedError):
            return got
        except OSError:
            return got
        if not data:
            return got
        got = True


class FileWatch:
    """Writes to one file, as an asyncio event (``changed``); :meth:`close` to stop."""

    MASK = IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF

    def __init__(self, path: str, loop: asyncio.AbstractEventLoop) -> None:
        self.changed = asyncio.Event()
        self._loop = loop
        self.fd = init()
        try:
            add_watch(self.fd, path, self.MASK)
            loop.add_reader(self.fd, self._ready)
        except BaseException:
            os.close(self.fd)
            self.fd = -1
            raise

    def _ready(self) -> None:
        drain(self.fd)
        self.changed.set()

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self.fd)
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def watch_file(path: str) -> FileWatch | None:
    """A watch on ``path`` registered with the running loop, or None (caller polls)."""
    try:
        return FileWatch(path, asyncio.get_running_loop())
    except (KernelError, OSError):
        return None
