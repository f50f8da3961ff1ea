"""The root-namespace netlink handle must not leak sockets when used from many threads
(pyroute2 0.9 keeps per-thread sockets; cove funnels its calls through one thread)."""

from __future__ import annotations

import os
import threading

import pytest

from cove.kernel.netlink import Netlink

pytestmark = pytest.mark.privileged

if os.geteuid() != 0:
    pytest.skip("needs root", allow_module_level=True)


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_calls_from_short_lived_threads_do_not_leak_sockets():
    nl = Netlink()
    try:
        nl.index("lo")
        before = _fds()
        for _ in range(20):
            t = threading.Thread(target=lambda: (nl.index("lo"), nl.links(prefix="lo"),
                                                 nl.delete_link("covenosuch0")))
            t.start()
            t.join()
        assert _fds() == before
    finally:
        nl.close()
