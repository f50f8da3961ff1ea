"""The kernel's neighbour-table hard limit, ``net.ipv4.neigh.default.gc_thresh3``.

The IPv4 neighbour table and its ``gc_thresh*`` limits are global (one counter for all
network namespaces), but the kernel shows ``neigh/default/gc_thresh*`` under /proc/sys
only in the initial namespace. The table's own netlink dump (RTM_GETNEIGHTBL, what
``ip ntable show`` prints) answers in every namespace, so that is read first; the sysctl
file is the fallback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from cove.errors import KernelError
from cove.kernel import sysctl

KEY = "net.ipv4.neigh.default.gc_thresh3"


def _from_netlink() -> int | None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        for msg in ipr.get_ntables():
            if msg.get_attr("NDTA_NAME") == "arp_cache":
                v = msg.get_attr("NDTA_THRESH3")
                if v is not None:
                    return int(v)
    return None


def _off_loop(fn: Callable[[], int | None]) -> int | None:
    """``fn()`` on a short-lived thread (pyroute2's IPRoute refuses a thread that runs
    an asyncio loop, as coved's main thread does); None if it fails."""
    out: list[int | None] = []

    def body() -> None:
        try:
            out.append(fn())
        except Exception:  # noqa: BLE001 - netlink failure: the caller falls back
            pass

    t = threading.Thread(target=body, name="cove-neighlimit", daemon=True)
    t.start()
    t.join(5)
    return out[0] if out else None


def gc_thresh3() -> int:
    """The current hard limit of the IPv4 neighbour table (KernelError if unreadable)."""
    v = _off_loop(_from_netlink)
    if v is not None:
        return v
    value = sysctl.read(KEY)
    try:
        return int(value)
    except ValueError as exc:
        raise KernelError(f"unexpected {KEY} value {value!r}") from exc
