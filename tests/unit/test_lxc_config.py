"""The LXC config renderer (cove.runtime.lxc.config) and the exit-code mapping of the
LXC monitor: pure, against a golden file."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from cove.runtime.base import ContainerSpec, Mount
from cove.runtime.lxc.config import cgroup_dirs, render_config
from cove.runtime.lxc.monitor import exit_code

GOLDEN = Path(__file__).parent / "golden" / "lxc_config.txt"


def _spec(**kw) -> ContainerSpec:
    base = dict(id="c0ffee" * 10 + "abcd", args=["httpd", "-f"], env=["PATH=/bin", "A=1 2"],
                cwd="/www", hostname="web", lower_dirs=["/l1"], state_dir="/s",
                netns_path="/run/cove/netns/abc", log_path="/s/log",
                mounts=[Mount("/c/hosts", "/etc/hosts"), Mount("/data", "/data", True)],
                readonly_rootfs=True, tmpfs={"/scratch": "size=1m"},
                init_path="/usr/bin/tini-static", memory=32 << 20, nano_cpus=500_000_000,
                cpu_shares=512, pids_limit=10, user="1000:100")
    base.update(kw)
    return ContainerSpec(**base)


def test_config_matches_golden():
    text = render_config(_spec(), "/s/merged", 1, dir_sources=frozenset({"/data"}))
    assert text == GOLDEN.read_text()


def test_netns_is_shared_by_path_not_lxc_networking():
    text = render_config(_spec(), "/s/merged", 1)
    assert "lxc.namespace.share.net = /run/cove/netns/abc\n" in text
    clone = text.split("lxc.namespace.clone = ")[1].split("\n")[0].split()
    assert "lxc.net." not in text and clone == ["mnt", "pid", "uts", "ipc", "cgroup"]
    host = render_config(_spec(netns_path=None), "/s/merged", 1)
    assert "lxc.net.0.type = none\n" in host and "share.net" not in host


def test_cgroup_v2_and_privileged_and_no_memsw():
    text = render_config(_spec(privileged=True), "/s/merged", 2)
    for want in ("lxc.cgroup2.memory.max = 33554432", "lxc.cgroup2.cpu.max = 50000 100000",
                 "lxc.cgroup2.pids.max = 10", "lxc.mount.auto = proc:rw sys:rw"):
        assert want + "\n" in text
    assert "lxc.cap.keep" not in text and "lxc.cgroup.memory" not in text
    v1 = render_config(_spec(), "/s/merged", 1, memsw=False)
    assert "memsw" not in v1 and "lxc.cgroup.memory.limit_in_bytes = 33554432\n" in v1


@pytest.mark.parametrize("bad", [
    dict(env=["A=1\nlxc.cap.keep = sys_admin"]), dict(hostname="a\nb"),
    dict(mounts=[Mount("/a b", "/x")]), dict(user="root"),
])
def test_values_lxc_cannot_carry_are_refused(bad):
    with pytest.raises(ValueError):
        render_config(_spec(**bad), "/s/merged", 1)


def test_cgroup_dirs_are_per_container_and_pivot_is_apart():
    d = cgroup_dirs("abc")
    assert d == {"container": "cove-lxc/abc", "monitor": "cove-lxc/abc-monitor",
                 "pivot": "cove-lxc/abc-pivot"}


def test_exit_codes_map_to_dockers():
    assert exit_code(0, 0) == 0 and exit_code(7, 0) == 7
    assert exit_code(1, signal.SIGKILL) == 137      # LXC says 1 for a killed container
    assert exit_code(1, signal.SIGTERM) == 143
    assert exit_code(143, signal.SIGTERM) == 143
    assert exit_code(0, signal.SIGTERM) == 0        # handled SIGTERM and exited cleanly
    assert exit_code(1, 0) == 1                      # no signal sent: a real exit 1
    assert exit_code(-9, 0) == 137                   # lxc-execute itself killed
