"""Daemon restarts: live containers are re-adopted; kill -9 is repaired at the next start."""

from __future__ import annotations

import pytest

from tests.harness import sh

pytestmark = pytest.mark.e2e


def _reachable(d, ip: str) -> bool:
    return d.host("busybox", "ping", "-c", "1", "-W", "2", ip, check=False).returncode == 0


def test_restart_keeps_containers_and_records(fresh_daemon):
    d = fresh_daemon
    d.cli("run", "-d", "--name", "keep1", "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
    ip = d.inspect("keep1", "{{.NetworkSettings.IPAddress}}")
    pid = d.inspect("keep1", "{{.State.Pid}}")
    d.stop()
    assert _reachable(d, ip)  # the container outlives the daemon
    d.start()
    assert d.inspect("keep1", "{{.State.Status}}") == "running"
    assert d.inspect("keep1", "{{.State.Pid}}") == pid
    assert d.inspect("keep1", "{{.NetworkSettings.IPAddress}}") == ip
    assert _reachable(d, ip)
    # the re-adopted container's exit is still noticed
    d.cli("kill", "keep1")
    assert d.cli("wait", "keep1", check=False).stdout.strip() in ("137", "")
    assert d.inspect("keep1", "{{.State.Status}}") == "exited"
    assert d.netns_files() == []


def test_kill9_then_start_repairs_kernel_state(fresh_daemon):
    d = fresh_daemon
    d.cli("run", "-d", "--name", "k1", "busybox", "sleep", "300")
    ip = d.inspect("k1", "{{.NetworkSettings.IPAddress}}")
    d.kill9()
    # damage: nft table gone; an orphan netns file and an orphan veth on cove0 appear
    d.host("nft", "delete", "table", "inet", "cove")
    orphan = d.exec_root / "netns" / "0123456789ab"
    orphan.touch()
    sh("mount", "--bind", f"/run/netns/{d.ns}", str(orphan))
    d.host("ip", "link", "add", "veth9f9f9f9", "type", "veth", "peer", "name", "vethtmp0")
    d.host("ip", "link", "set", "veth9f9f9f9", "master", "cove0")
    try:
        d.start()
        assert "masquerade" in d.nft()
        assert "0123456789ab" not in d.netns_files()
        assert not orphan.exists()
        assert "veth9f9f9f9" not in d.links()
        assert d.inspect("k1", "{{.State.Status}}") == "running"
        assert _reachable(d, ip)
    finally:
        d.host("ip", "link", "del", "veth9f9f9f9", check=False)
        sh("umount", "-l", str(orphan), check=False)


def test_missing_bridge_is_recreated_and_containers_reattached(fresh_daemon):
    d = fresh_daemon
    d.cli("run", "-d", "--name", "b1", "busybox", "sleep", "300")
    ip = d.inspect("b1", "{{.NetworkSettings.IPAddress}}")
    d.kill9()
    d.host("ip", "link", "del", "cove0")
    assert not _reachable(d, ip)
    d.start()
    assert "cove0" in d.links()
    assert _reachable(d, ip)
