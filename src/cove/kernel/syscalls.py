"""Thin ctypes bindings for the namespace and mount syscalls Python 3.11 lacks.

``setns``, ``unshare``, ``mount``, ``umount2`` and ``pivot_root``, with their flag
constants, and :func:`run_in_netns`, which runs a function on a short-lived thread that
has joined a network namespace (setns affects only the calling thread, and that thread
never returns to a pool in the wrong namespace).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections.abc import Callable
from typing import TypeVar

from cove.errors import KernelError

T = TypeVar("T")

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_STRICTATIME = 1 << 24

MNT_DETACH = 2

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                        ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.syscall.restype = ctypes.c_long
_SYS_PIVOT_ROOT = 155  # x86_64


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(s: str | bytes | None) -> bytes | None:
    if s is None or isinstance(s, bytes):
        return s
    return s.encode()


def setns(fd: int, nstype: int = 0) -> None:
    """Move the calling thread into the namespace referred to by ``fd``."""
    _check(_libc.setns(fd, nstype), "setns")


def unshare(flags: int) -> None:
    """Give the calling thread (process, for some flags) new namespaces."""
    _check(_libc.unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None = None, flags: int = 0,
          data: str | None = None) -> None:
    """mount(2). Raises OSError with the path in the message."""
    ret = _libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data))
    _check(ret, f"mount {source} on {target}")


def umount(target: str, flags: int = 0) -> None:
    """umount2(2)."""
    _check(_libc.umount2(_b(target), flags), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2)."""
    ret = _libc.syscall(_SYS_PIVOT_ROOT, _b(new_root), _b(put_old))
    _check(int(ret), "pivot_root")


def run_in_netns(netns_path: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` on a fresh thread that has joined the network namespace at ``netns_path``.

    The thread exits afterwards, so no pooled thread is ever left in a foreign namespace.
    Exceptions raised by ``fn`` propagate to the caller.
    """
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            error.append(KernelError(f"cannot open network namespace {netns_path}: {exc}"))
            return
        try:
            setns(fd, CLONE_NEWNET)
        except OSError as exc:
            error.append(KernelError(f"cannot enter network namespace {netns_path}: {exc}"))
            return
        finally:
            os.close(fd)
        try:
            result.append(fn())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            error.append(exc)

    t = threading.Thread(target=body, name="cove-netns", daemon=True)
    t.start()
    t.join()
    if error:
        raise error[0]
    return result[0]
