"""The multi-host harness itself: fabric, hosts, etcd in its netns, coveds, teardown."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.multihost.harness import Cluster

pytestmark = pytest.mark.usefixtures("multihost_ok")


def _netns_names() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_topology_etcd_and_teardown(tmp_path, busybox_tar):
    cl = Cluster(tmp_path, hosts=2, busybox_tar=busybox_tar)
    made = {cl.fabric, cl.etcd.ns} | {h.ns for h in cl.hosts}
    try:
        assert made <= _netns_names()
        h1, h2 = cl.hosts
        # hosts reach each other and etcd's address over the fabric; root ns untouched
        assert h1.sh("ping", "-c1", "-W1", h2.ip).returncode == 0
        cl.start_etcd()
        c = cl.etcd.client()
        c.put("/cove-harness/x", "1")
        assert c.get("/cove-harness/x").value == b"1"
        c.delete("/cove-harness/", prefix=True)
        h1.sh(sys.executable, "-c",
              "import socket; socket.create_connection(('192.0.2.254', 2379), 1)")
        # a plain coved per host, in that host's netns
        h1.start_coved(cluster=False)
        cid = h1.run("--name", "hx")
        assert h1.ip_of(cid, "bridge").startswith("172.")
        assert h1.exec(cid, "true").returncode == 0
        exec_root = h1.daemon.exec_root
        pid = h1.pid
    finally:
        cl.destroy()
    assert not made & _netns_names()
    assert cl.etcd.proc is None
    assert not os.path.exists(f"/proc/{pid}")
    assert not os.listdir(exec_root / "netns") if (exec_root / "netns").exists() else True
