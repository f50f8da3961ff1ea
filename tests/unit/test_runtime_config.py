"""Issue 5's pure pieces: Docker's default capabilities, tmpfs options, -v parsing and
HostConfig validation, CLI sizes and CPUs, the stats table row."""

from __future__ import annotations

import pytest

from cove.cli.client import CLIError
from cove.cli.resources import host_config, nano_cpus, ram_in_bytes, stats_row
from cove.engine import hostconfig
from cove.engine.model import ContainerConfig
from cove.errors import InvalidParameter
from cove.runtime import security
from cove.runtime.base import Mount


def test_default_capability_mask_is_dockers():
    assert security.DEFAULT_CAP_MASK == 0xA80425FB
    assert "/proc/sys" in security.READONLY_PATHS and "/proc/kcore" in security.MASKED_PATHS


def test_tmpfs_options():
    assert security.tmpfs_options("") == (2 | 4 | 8, "")
    assert security.tmpfs_options("rw,exec,size=64m,mode=1777") == (2 | 4, "size=64m,mode=1777")
    assert security.tmpfs_options("ro")[0] & 1
    with pytest.raises(ValueError):
        security.tmpfs_options("bogus")


def test_parse_bind():
    assert hostconfig.parse_bind("/a/b/:/c") == Mount("/a/b", "/c", False)
    assert hostconfig.parse_bind("/a:/c:ro") == Mount("/a", "/c", True)
    assert hostconfig.parse_bind("/a:/c:rw,z") == Mount("/a", "/c", False)
    for bad, msg in (("/a", "invalid volume specification"), ("vol:/c", "named volumes"),
                     ("/a:c", "must be absolute"), ("/a:/", "can't be '/'"),
                     ("/a:/c:ro,rw", "invalid mode"), ("/a:/c:xx", "invalid mode")):
        with pytest.raises(InvalidParameter, match=msg):
            hostconfig.parse_bind(bad)


def test_validate(tmp_path):
    ok = ContainerConfig(image="x", binds=[f"{tmp_path}:/d:ro"], tmpfs={"/t": "size=1m"},
                         memory=32 << 20, nano_cpus=500_000_000)
    assert hostconfig.validate(ok, ncpu=2) == [Mount(str(tmp_path), "/d", True)]
    bad = [
        (dict(binds=["/nonexistent-cove:/d"]), "bind source path does not exist"),
        (dict(binds=[f"{tmp_path}:/d", f"{tmp_path}:/d"]), "Duplicate mount point"),
        (dict(tmpfs={"t": ""}), "invalid mount path"),
        (dict(tmpfs={"/t": "nope"}), "invalid tmpfs options"),
        (dict(memory=1 << 20), "Minimum memory limit allowed is 6MB"),
        (dict(memory=-1), "cannot be negative"),
        (dict(nano_cpus=3_000_000_000), "Range of CPUs is from 0.01 to 2.00"),
    ]
    for kw, msg in bad:
        with pytest.raises(InvalidParameter, match=msg):
            hostconfig.validate(ContainerConfig(image="x", **kw), ncpu=2)


def test_spec_fields():
    f = hostconfig.spec_fields(ContainerConfig(image="x", read_only=True, init=True,
                                               pids_limit=-1, tmpfs={"/a/": ""}))
    assert f["readonly_rootfs"] and f["init_path"].endswith(("tini-static", "docker-init"))
    assert f["pids_limit"] == 0 and f["tmpfs"] == {"/a": ""}


def test_cli_sizes_and_cpus():
    assert ram_in_bytes("32m") == 32 << 20
    assert ram_in_bytes("1.5g") == 3 << 29
    assert ram_in_bytes("64MiB") == 64 << 20
    assert ram_in_bytes("1024") == 1024
    for bad in ("32x", "", "-1m", "m"):
        with pytest.raises(CLIError, match="invalid size"):
            ram_in_bytes(bad)
    assert nano_cpus("0.5") == 500_000_000
    with pytest.raises(CLIError):
        nano_cpus("half")


def test_cli_host_config():
    opts = {"volume": ["/a:/b"], "tmpfs": ["/t:size=1m", "/u"], "read_only": True,
            "privileged": False, "memory": "32m", "cpus": "1.5", "cpu_shares": None,
            "init": True, "pids_limit": 10}
    assert host_config(opts) == {
        "Binds": ["/a:/b"], "Tmpfs": {"/t": "size=1m", "/u": ""}, "ReadonlyRootfs": True,
        "Privileged": False, "Memory": 32 << 20, "NanoCpus": 1_500_000_000, "CpuShares": 0,
        "Init": True, "PidsLimit": 10}


def test_stats_row():
    s = {"id": "a" * 64, "name": "/web", "pids_stats": {"current": 3},
         "cpu_stats": {"cpu_usage": {"total_usage": 1_500_000_000},
                       "system_cpu_usage": 12_000_000_000, "online_cpus": 2},
         "precpu_stats": {"cpu_usage": {"total_usage": 1_000_000_000},
                          "system_cpu_usage": 10_000_000_000},
         "memory_stats": {"usage": 8 << 20, "limit": 32 << 20, "stats": {}}}
    assert stats_row(s) == ["aaaaaaaaaaaa", "web", "50.00%", "8MiB / 32MiB", "25.00%", "--",
                            "--", "3"]
