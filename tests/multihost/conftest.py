"""Fixtures: simulated clusters of real coveds on a fabric netns with a real etcd.

Skips (with the reason) when not root, when etcd is missing or when the kernel refuses
VXLAN. See harness.py for the topology and a usage example.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.multihost.harness import Cluster, vxlan_supported

if os.geteuid() != 0:  # multihost tests need root: collect nothing here without it
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def multihost_ok() -> None:
    if shutil.which("etcd") is None:
        pytest.skip("etcd is not installed (Debian package etcd-server)")
    why = vxlan_supported()
    if why:
        pytest.skip(why)


def _cluster(base, n, busybox_tar, start=True, mtu=1500):
    cl = Cluster(base, hosts=n, busybox_tar=busybox_tar, mtu=mtu)
    try:
        if start:
            cl.start_all(ttl=2, grace=4)
        yield cl
    finally:
        cl.destroy()


@pytest.fixture(scope="module")
def cluster3(multihost_ok, tmp_path_factory, busybox_tar):
    """Three hosts with coveds joined to one etcd (TTL 2 s, reap grace 4 s), per module."""
    yield from _cluster(tmp_path_factory.mktemp("mh3"), 3, busybox_tar)


@pytest.fixture
def cluster2(multihost_ok, tmp_path, busybox_tar):
    """Two hosts of the test's own (for kills, freezes and etcd outages)."""
    yield from _cluster(tmp_path, 2, busybox_tar)


@pytest.fixture
def cluster1(multihost_ok, tmp_path, busybox_tar):
    """One host with etcd (for gateway-bridge tests)."""
    yield from _cluster(tmp_path, 1, busybox_tar)
