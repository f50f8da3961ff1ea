"""Pure logic of issue 6: restart policies and back-off, healthcheck state, update rules."""

from __future__ import annotations

import pytest

from cove.engine import health, restart
from cove.engine.model import ContainerConfig
from cove.engine.update import cgroup_values, merge
from cove.errors import Conflict, InvalidParameter
from cove.kernel import cgupdate
from cove.kernel.cgroups import Cgroup


@pytest.mark.parametrize("policy,code,stopped,count,want", [
    ({}, 1, False, 0, False),
    ({"Name": "no"}, 1, False, 0, False),
    ({"Name": "always"}, 0, False, 5, True),
    ({"Name": "always"}, 0, True, 0, True),
    ({"Name": "unless-stopped"}, 0, False, 0, True),
    ({"Name": "unless-stopped"}, 0, True, 0, False),
    ({"Name": "on-failure"}, 0, False, 0, False),
    ({"Name": "on-failure"}, 1, False, 100, True),
    ({"Name": "on-failure", "MaximumRetryCount": 2}, 1, False, 1, True),
    ({"Name": "on-failure", "MaximumRetryCount": 2}, 1, False, 2, False),
])
def test_should_restart(policy, code, stopped, count, want):
    assert restart.should_restart(policy, code, stopped, count) is want


def test_backoff_doubles_caps_and_resets():
    delays, d = [], 0.0
    for _ in range(12):
        d = restart.backoff(d, ran_for=0.5)
        delays.append(d)
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert max(delays) == 60.0 and delays[-1] == 60.0
    assert restart.backoff(12.8, ran_for=10.0) == 0.1


def test_validate_restart_policy():
    assert restart.validate(None) == {}
    assert restart.validate({"Name": "no"}) == {}
    assert restart.validate({"Name": "on-failure", "MaximumRetryCount": 3}) == {
        "Name": "on-failure", "MaximumRetryCount": 3}
    with pytest.raises(InvalidParameter, match="cannot be used with restart policy 'always'"):
        restart.validate({"Name": "always", "MaximumRetryCount": 1})
    with pytest.raises(InvalidParameter, match="invalid restart policy 'x'"):
        restart.validate({"Name": "x"})
    with pytest.raises(InvalidParameter, match="AutoRemove"):
        restart.validate({"Name": "always"}, auto_remove=True)
    assert restart.render({}) == {"Name": "no", "MaximumRetryCount": 0}


def test_health_record_state_machine():
    h = health.new_state(None)
    fail = {"ExitCode": 1, "Output": "x"}
    ok = {"ExitCode": 0, "Output": ""}
    # failures in the start period do not count while starting
    assert health.record(h, fail, 1, in_start_period=True) == "starting"
    assert h["FailingStreak"] == 0
    assert health.record(h, fail, 2, in_start_period=False) == "starting"
    assert health.record(h, fail, 2, in_start_period=False) == "unhealthy"
    assert h["FailingStreak"] == 2
    assert health.record(h, ok, 2, in_start_period=False) == "healthy"
    assert h["FailingStreak"] == 0
    # once healthy, the start period no longer shields failures
    assert health.record(h, fail, 1, in_start_period=True) == "unhealthy"
    for _ in range(10):
        health.record(h, ok, 1, False)
    assert len(h["Log"]) == 5
    # retries 0 means Docker's default of 3
    h = health.new_state(h)
    assert h["Status"] == "starting" and len(h["Log"]) == 5
    assert [health.record(h, fail, 0, False) for _ in range(3)] == [
        "starting", "starting", "unhealthy"]


def test_health_probe_argv_and_validate():
    assert health.probe_argv({"Test": ["CMD", "true"]}) == ["true"]
    assert health.probe_argv({"Test": ["CMD-SHELL", "echo a"]}) == ["/bin/sh", "-c", "echo a"]
    assert health.probe_argv({"Test": ["NONE"]}) is None
    assert health.probe_argv({}) is None
    assert health.validate({"Test": ["CMD", "x"], "Interval": 0, "Retries": 2}) == {
        "Test": ["CMD", "x"], "Retries": 2}
    with pytest.raises(InvalidParameter, match="Timeout in Healthcheck cannot be less"):
        health.validate({"Test": ["CMD", "x"], "Timeout": 5})
    assert health.go_duration(1_000_000_000) == "1s"
    assert health.go_duration(90_000_000_000) == "1m30s"
    assert health.go_duration(500_000_000) == "500ms"
    assert health.status_suffix(None) == ""
    assert health.status_suffix({"Status": "starting"}) == " (health: starting)"
    assert health.filter_value(None) == "none"


def test_update_merge_rules():
    cfg = ContainerConfig(image="busybox", memory=400 << 20)
    assert merge(cfg, {"memory": 300 << 20, "cpu_shares": 0}, None) == {"memory": 300 << 20}
    assert merge(cfg, {"pids_limit": -1}, None) == {"pids_limit": 0}
    cfg.memory_swap = 500 << 20
    with pytest.raises(Conflict, match="smaller than already set memoryswap"):
        merge(cfg, {"memory": 600 << 20}, None)
    assert merge(cfg, {"memory": 600 << 20, "memory_swap": -1}, None)["memory_swap"] == -1
    cfg.auto_remove = True
    with pytest.raises(Conflict, match="AutoRemove is enabled"):
        merge(cfg, {}, {"Name": "always"})
    nano = ContainerConfig(image="busybox", nano_cpus=10**9)
    with pytest.raises(Conflict, match="CPU Period cannot be updated"):
        merge(nano, {"cpu_period": 50000}, None)
    assert cgroup_values(nano, {"nano_cpus": 5 * 10**8}) == {
        "cpu_period": 100_000, "cpu_quota": 50_000}
    assert cgroup_values(cfg, {"memory": 300 << 20}) == {
        "memory": 300 << 20, "memory_swap": 500 << 20}


def test_update_resource_names_are_dockers():
    from cove.api.update import RESOURCES
    assert RESOURCES == {
        "Memory": "memory", "MemorySwap": "memory_swap",
        "MemoryReservation": "memory_reservation", "CpuShares": "cpu_shares",
        "CpuPeriod": "cpu_period", "CpuQuota": "cpu_quota", "NanoCpus": "nano_cpus",
        "PidsLimit": "pids_limit", "BlkioWeight": "blkio_weight"}


def _fake_v1(tmp_path, limit: int, memsw: int) -> Cgroup:
    dirs = {}
    for ctrl in ("memory", "cpu", "pids"):
        d = tmp_path / ctrl
        d.mkdir()
        dirs[ctrl] = str(d)
    (tmp_path / "memory" / "memory.limit_in_bytes").write_text(str(limit))
    (tmp_path / "memory" / "memory.memsw.limit_in_bytes").write_text(str(memsw))
    for name in ("memory.soft_limit_in_bytes",):
        (tmp_path / "memory" / name).write_text("-1")
    for name in ("cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us"):
        (tmp_path / "cpu" / name).write_text("0")
    (tmp_path / "pids" / "pids.max").write_text("max")
    return Cgroup(1, dirs)


def test_cgupdate_v1_writes_values_and_warns_without_blkio(tmp_path):
    cg = _fake_v1(tmp_path, 400 << 20, 400 << 20)
    warnings = cgupdate.apply(cg, memory=300 << 20, memory_swap=0, cpu_shares=3,
                              cpu_quota=50000, pids_limit=0, blkio_weight=300)
    mem = tmp_path / "memory"
    assert (mem / "memory.limit_in_bytes").read_text() == str(300 << 20)
    assert (mem / "memory.memsw.limit_in_bytes").read_text() == str(300 << 20)
    assert (tmp_path / "cpu" / "cpu.shares").read_text() == "3"
    assert (tmp_path / "cpu" / "cpu.cfs_quota_us").read_text() == "50000"
    assert (tmp_path / "pids" / "pids.max").read_text() == "max"
    assert warnings == [cgupdate.BLKIO_WARNING]
    cgupdate.apply(cg, memory=0, memory_swap=0)
    assert (mem / "memory.limit_in_bytes").read_text() == "-1"
    assert (mem / "memory.memsw.limit_in_bytes").read_text() == "-1"
