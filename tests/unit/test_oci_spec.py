"""The OCI config.json renderer (cove.runtime.oci.spec): pure, against a golden file."""

from __future__ import annotations

import json
from pathlib import Path

from cove.runtime.base import ContainerSpec, Mount
from cove.runtime.oci.spec import cap_names, render_config
from cove.runtime.security import DEFAULT_CAP_MASK

GOLDEN = Path(__file__).parent / "golden" / "oci_config.json"


def _spec(**kw) -> ContainerSpec:
    base = dict(id="c0ffee" * 10 + "abcd", args=["httpd", "-f"], env=["PATH=/bin", "A=1"],
                cwd="/www", hostname="web", lower_dirs=["/l1"], state_dir="/s",
                netns_path="/run/cove/netns/abc", log_path="/s/log",
                mounts=[Mount("/c/hosts", "/etc/hosts"), Mount("/data", "/data", True)],
                readonly_rootfs=True, tmpfs={"/scratch": "size=1m"},
                init_path="/usr/bin/tini-static", memory=32 << 20, nano_cpus=500_000_000,
                cpu_shares=512, pids_limit=10)
    base.update(kw)
    return ContainerSpec(**base)


def test_default_config_matches_golden():
    cfg = render_config(_spec(), "/s/merged", cgroups_path="/cove/c0ffee")
    assert json.dumps(cfg, indent=1, sort_keys=True) + "\n" == GOLDEN.read_text()


def test_key_points():
    cfg = render_config(_spec(), "/s/merged")
    assert {"type": "network", "path": "/run/cove/netns/abc"} in cfg["linux"]["namespaces"]
    assert cfg["process"]["args"] == ["/sbin/docker-init", "--", "httpd", "-f"]
    assert cfg["process"]["capabilities"]["effective"] == cap_names(DEFAULT_CAP_MASK)
    assert len(cap_names(DEFAULT_CAP_MASK)) == 14 and cfg["process"]["noNewPrivileges"]
    assert "/proc/sys" in cfg["linux"]["readonlyPaths"]
    assert cfg["linux"]["resources"]["memory"] == {"limit": 32 << 20, "swap": 32 << 20}
    assert cfg["linux"]["resources"]["cpu"] == {"shares": 512, "period": 100000,
                                                "quota": 50000}
    assert cfg["root"] == {"path": "/s/merged", "readonly": True}
    tmpfs = [m for m in cfg["mounts"] if m["destination"] == "/scratch"][0]
    assert tmpfs["options"] == ["nosuid", "nodev", "noexec", "size=1m"]
    ro = [m for m in cfg["mounts"] if m["destination"] == "/data"][0]
    assert "ro" in ro["options"] and "rbind" in ro["options"]


def test_privileged_non_root_and_host_network():
    cfg = render_config(_spec(privileged=True, netns_path=None, init_path=""), "/r",
                        uid=1000, gid=1000, privileged_mask=(1 << 41) - 1 - (1 << 24))
    caps = cfg["process"]["capabilities"]
    assert "CAP_SYS_ADMIN" in caps["bounding"] and "CAP_SYS_RESOURCE" not in caps["bounding"]
    assert caps["effective"] == [] and cfg["process"]["user"] == {"uid": 1000, "gid": 1000}
    assert "maskedPaths" not in cfg["linux"] and not cfg["process"]["noNewPrivileges"]
    assert all(ns["type"] != "network" for ns in cfg["linux"]["namespaces"])
    assert cfg["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
