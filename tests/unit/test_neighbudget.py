"""The neighbour-table budget (cove.cluster.neighbudget) and the gc_thresh3 reader."""

from __future__ import annotations

import logging

from cove.cluster.neighbudget import KEY, NeighBudget, level, suggest
from cove.errors import KernelError


def test_levels_and_suggestion():
    assert level(1024, 0) == 0 and level(1024, 768) == 0
    assert level(1024, 769) == 1 and level(1024, 1024) == 1
    assert level(1024, 1025) == 2
    assert suggest(10) == 1024 and suggest(769) == 2048 and suggest(3000) == 8192


def test_warns_once_per_level_and_rearms(caplog):
    caplog.set_level(logging.INFO, "cove.cluster.neighbudget")
    b = NeighBudget(lambda: 8)
    assert b.limit == 8 and f"{KEY} is 8" in caplog.text
    assert b.check(6) is None                       # 6 <= 0.75 * 8
    msg = b.check(7)
    assert msg and KEY in msg and "7 remote overlay endpoints" in msg
    assert f"sysctl -w {KEY}=1024" in msg
    assert b.check(8) is None                       # same level: once
    assert b.check(9) and b.check(9) is None        # past the limit itself: once more
    assert b.check(2) is None and b.check(7)        # fits again, then grows: re-armed
    assert sum(r.levelname == "WARNING" for r in caplog.records) == 3


def test_unreadable_limit_only_logs(caplog):
    def broken() -> int:
        raise KernelError("no such table")
    b = NeighBudget(broken)
    assert b.limit is None and b.check(10**6) is None
    assert "cannot read" in caplog.text


def test_reads_the_kernel_value():
    from cove.kernel.neighlimit import gc_thresh3

    with open("/proc/sys/net/ipv4/neigh/default/gc_thresh3") as f:
        assert gc_thresh3() == int(f.read())
