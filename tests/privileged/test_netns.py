"""Network namespace files on the real kernel: fast create, delete, list."""

import os
import statistics
import subprocess
import time

import pytest

from cove.errors import KernelError
from cove.kernel import netns

pytestmark = [pytest.mark.privileged,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


def _mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def _ns_inode(path: str) -> int:
    return os.stat(path).st_ino


def test_create_is_a_new_mounted_netns_and_delete_removes_it(net_netns_dir):
    p = os.path.join(net_netns_dir, "covns" + os.urandom(3).hex())
    netns.create_netns(p)
    assert _mounted(p)
    assert netns.is_netns_mounted(p)
    assert _ns_inode(p) != os.stat("/proc/self/ns/net").st_ino
    out = subprocess.run(["nsenter", f"--net={p}", "ip", "-o", "link"], check=True,
                         capture_output=True, text=True).stdout
    assert [line.split(":")[1].strip() for line in out.splitlines()] == ["lo"]
    assert os.path.basename(p) in netns.list_netns(net_netns_dir)
    netns.delete_netns(p)
    assert not os.path.exists(p)
    assert not _mounted(p)
    netns.delete_netns(p)                      # gone is fine


def test_two_netns_are_distinct(net_netns_dir):
    a, b = (os.path.join(net_netns_dir, f"covns{i}") for i in "ab")
    netns.create_netns(a)
    netns.create_netns(b)
    try:
        assert _ns_inode(a) != _ns_inode(b)
    finally:
        netns.delete_netns(a)
        netns.delete_netns(b)


def test_create_existing_fails_and_keeps_it(net_netns_dir):
    p = os.path.join(net_netns_dir, "covdup")
    netns.create_netns(p)
    ino = _ns_inode(p)
    with pytest.raises(KernelError):
        netns.create_netns(p)
    assert _ns_inode(p) == ino and _mounted(p)
    netns.delete_netns(p)


def test_create_in_missing_dir_fails_clean(tmp_path):
    p = str(tmp_path / "missing" / "covns")
    with pytest.raises(KernelError):
        netns.create_netns(p)
    assert not os.path.exists(p)


def test_list_missing_dir_is_empty(tmp_path):
    assert netns.list_netns(str(tmp_path / "nope")) == []


def test_create_is_fast(net_netns_dir):
    times = []
    for i in range(15):
        p = os.path.join(net_netns_dir, f"covfast{i}")
        t0 = time.perf_counter()
        netns.create_netns(p)
        times.append(time.perf_counter() - t0)
    for i in range(15):
        netns.delete_netns(os.path.join(net_netns_dir, f"covfast{i}"))
    med = statistics.median(times) * 1000
    print(f"create_netns median {med:.2f} ms")
    assert med < 5
