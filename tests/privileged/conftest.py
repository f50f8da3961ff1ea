"""Shared fixtures for privileged tests. Network-layer fixtures are named ``net_*``."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def net_in_fresh_netns() -> Callable[[Callable[[], Any]], Any]:
    """Run a function on a thread that unshared a fresh, throwaway network namespace.

    Everything the function makes in "its host" namespace (bridges, veth host ends,
    nftables tables, sysctls) dies with that namespace when the thread exits.
    Exceptions (including assertion failures) propagate to the test.
    """
    from cove.kernel import syscalls

    def run(fn: Callable[[], Any]) -> Any:
        result: list[Any] = []
        error: list[BaseException] = []

        def body() -> None:
            try:
                syscalls.unshare(syscalls.CLONE_NEWNET)
                with open("/proc/thread-self/ns/net"):
                    pass
                result.append(fn())
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                error.append(exc)

        t = threading.Thread(target=body, name="net-test-netns")
        t.start()
        t.join()
        if error:
            raise error[0]
        return result[0]

    return run


@pytest.fixture
def net_netns_dir(tmp_path):
    """A directory for netns files; any namespace left mounted there is removed after."""
    from cove.kernel import netns

    d = tmp_path / "netns"
    d.mkdir()
    yield str(d)
    for name in netns.list_netns(str(d)):
        netns.delete_netns(os.path.join(str(d), name))


def net_rand(n: int = 6) -> str:
    return os.urandom(8).hex()[:n]
