"""The few libc calls the native runtime needs beyond ``cove.kernel.syscalls``.

``sethostname`` (inside the container's new UTS namespace) and
``prctl(PR_SET_CHILD_SUBREAPER)`` (so a monitor inherits the container's PID 1 when the
intermediate child exits). Stdlib only: imported by the spawner.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                        ctypes.c_ulong]

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def sethostname(name: str) -> None:
    data = name.encode()
    _check(_libc.sethostname(data, len(data)), f"sethostname {name}")


def set_child_subreaper() -> None:
    _check(_libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)")


def set_pdeathsig(sig: int) -> None:
    _check(_libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


# -- capabilities and no_new_privs (Docker's default hardening) ------------------------

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
_CAP_V3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


_libc.capset.argtypes = [ctypes.POINTER(_CapHeader), ctypes.POINTER(_CapData)]


def cap_last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 40


def drop_bounding_set(keep_mask: int, last_cap: int) -> None:
    """Remove every capability not in ``keep_mask`` from the bounding set."""
    for cap in range(last_cap + 1):
        if not keep_mask >> cap & 1:
            _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"drop capability {cap}")


def set_caps(mask: int) -> None:
    """Effective and permitted set to ``mask``, inheritable empty (as Docker)."""
    hdr = _CapHeader(_CAP_V3, 0)
    data = (_CapData * 2)()
    data[0].effective = data[0].permitted = mask & 0xFFFFFFFF
    data[1].effective = data[1].permitted = mask >> 32 & 0xFFFFFFFF
    _check(_libc.capset(ctypes.byref(hdr), data), "capset")


def set_no_new_privs() -> None:
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
