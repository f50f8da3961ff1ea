"""Does the kernel's neighbour table fit the cluster? (reference multihost.md §4.7)

Every remote overlay endpoint is one *permanent* neighbour entry (plus an FDB entry) in
this host's overlay sandboxes, and permanent entries cannot be garbage-collected: once
the table (global across network namespaces) reaches ``gc_thresh3`` the kernel refuses
new entries ("neighbour table overflow") and cross-host traffic to the newest peers
silently fails. The agent reads the limit at coved start (logged) and, after every
re-list of the cluster and whenever peers are added, compares it with the number of
remote endpoints; it warns once when they use more than :data:`SHARE` of the limit (and
again if they grow past the limit itself), naming the sysctl and a value that fits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from cove.errors import CoveError

log = logging.getLogger(__name__)

KEY = "net.ipv4.neigh.default.gc_thresh3"
SHARE = 0.75          # warn above this share of gc_thresh3 (room for ARP of local traffic)


def suggest(needed: int) -> int:
    """A limit that fits ``needed`` permanent entries with room: a power of two ≥ 2×."""
    v = 1024
    while v < 2 * needed:
        v *= 2
    return v


def level(limit: int, needed: int) -> int:
    """0: fits; 1: above SHARE of the limit; 2: above the limit itself."""
    if needed > limit:
        return 2
    return 1 if needed > SHARE * limit else 0


def warning(limit: int, needed: int) -> str:
    return (f"{KEY} is {limit} but the cluster has {needed} remote overlay endpoints, each a"
            f" permanent neighbour entry on this host (the table is shared by every network"
            f" namespace): cross-host traffic may fail with 'neighbour table overflow';"
            f" raise it, e.g. sysctl -w {KEY}={suggest(needed)}")


class NeighBudget:
    """The limit read once, and a warning latch per level."""

    def __init__(self, reader: Callable[[], int] | None = None) -> None:
        if reader is None:
            from cove.kernel.neighlimit import gc_thresh3 as reader
        self.limit: int | None = None
        self.warned = 0
        try:
            self.limit = reader()
            log.info("cluster: %s is %d (room for about %d remote overlay endpoints)",
                     KEY, self.limit, int(SHARE * self.limit))
        except CoveError as exc:
            log.warning("cluster: cannot read %s: %s", KEY, exc.message)

    def check(self, needed: int) -> str | None:
        """Warn (returned and logged) when ``needed`` first reaches a higher level."""
        if self.limit is None:
            return None
        lvl = level(self.limit, needed)
        if lvl <= self.warned:
            self.warned = min(self.warned, lvl)      # re-arm once it fits again
            return None
        msg = warning(self.limit, needed)
        log.warning("cluster: %s", msg)
        self.warned = lvl
        return msg
