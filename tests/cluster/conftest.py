"""Fixtures for tests that need a real etcd: skip (with the reason) when it is missing."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.cluster.etcdserver import EtcdServer


@pytest.fixture(scope="module")
def etcd_server(tmp_path_factory):
    """A real etcd process on loopback for the module; stopped by PID afterwards."""
    if shutil.which("etcd") is None:
        pytest.skip("etcd is not installed (Debian package etcd-server)")
    srv = EtcdServer(str(tmp_path_factory.mktemp("etcd") / "data"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def etcd(etcd_server):
    """A client on the module's etcd."""
    from cove.store.etcd import EtcdClient

    return EtcdClient(f"etcd://{etcd_server.endpoint}", timeout=2.0)


@pytest.fixture
def prefix(etcd):
    """A fresh key prefix; every key under it is deleted afterwards."""
    p = f"/cove-test-{os.urandom(4).hex()}"
    yield p
    etcd.delete(p + "/", prefix=True)
