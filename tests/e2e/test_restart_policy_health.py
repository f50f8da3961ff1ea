"""Issue 6 on a real coved: restart policies, docker update on the cgroup, healthchecks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import pytest

pytestmark = pytest.mark.e2e


def _until(fn, timeout: float = 15.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(step)


def _state(d, ref: str) -> dict:
    return json.loads(d.inspect(ref, "{{json .State}}"))


def test_on_failure_2_runs_three_times(daemon, tmp_path):
    d = daemon
    cid = d.cli("run", "-d", "--restart", "on-failure:2", "-v", f"{tmp_path}:/data",
                "busybox", "sh", "-c", "echo run >> /data/runs; exit 1").stdout.strip()
    try:
        _until(lambda: d.inspect(cid, "{{.RestartCount}}") == "2"
               and _state(d, cid)["Status"] == "exited")
        time.sleep(1.0)       # a fourth run would have started by now (back-off 400 ms)
        assert (tmp_path / "runs").read_text().splitlines() == ["run"] * 3
        st = _state(d, cid)
        assert (st["Status"], st["ExitCode"], st["Restarting"]) == ("exited", 1, False)
        assert d.inspect(cid, "{{.HostConfig.RestartPolicy.Name}}:"
                              "{{.HostConfig.RestartPolicy.MaximumRetryCount}}") == "on-failure:2"
    finally:
        d.cli("rm", "-f", cid, check=False)


def test_always_restarts_after_kill_but_not_after_stop(daemon):
    d = daemon
    cid = d.cli("run", "-d", "--restart", "always", "busybox", "sleep", "300").stdout.strip()
    try:
        pid = _state(d, cid)["Pid"]
        d.cli("kill", cid)
        _until(lambda: _state(d, cid)["Running"] and _state(d, cid)["Pid"] not in (0, pid))
        assert d.inspect(cid, "{{.RestartCount}}") == "1"
        r = d.cli("rm", cid, check=False)       # running: refused, as Docker does
        assert r.returncode != 0 and "You cannot remove a running container" in r.stderr
        d.cli("stop", "-t", "1", cid)
        time.sleep(0.5)
        assert _state(d, cid)["Status"] == "exited"
        d.cli("start", cid)                     # a user's start resets the count
        assert _state(d, cid)["Status"] == "running"
        assert d.inspect(cid, "{{.RestartCount}}") == "0"
    finally:
        d.cli("rm", "-f", cid, check=False)


def _memory_limit_file(pid: int) -> str:
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if "memory" in ctrls.split(","):
                return f"/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"
    raise AssertionError("no memory cgroup")


def test_update_changes_the_running_cgroup(daemon):
    d = daemon
    cid = d.cli("run", "-d", "-m", "64m", "busybox", "sleep", "300").stdout.strip()
    try:
        path = _memory_limit_file(_state(d, cid)["Pid"])
        with open(path) as f:
            assert int(f.read()) == 64 << 20
        d.cli("update", "-m", "48m", "--cpu-shares", "512", "--pids-limit", "30",
              "--restart", "unless-stopped", cid)
        with open(path) as f:
            assert int(f.read()) == 48 << 20
        cpu = os.path.join(os.path.dirname(path).replace("/memory/", "/cpu/", 1), "cpu.shares")
        if os.path.exists(cpu):
            with open(cpu) as f:
                assert f.read().strip() == "512"
        hc = json.loads(d.inspect(cid, "{{json .HostConfig}}"))
        assert (hc["Memory"], hc["CpuShares"], hc["PidsLimit"]) == (48 << 20, 512, 30)
        assert hc["RestartPolicy"] == {"Name": "unless-stopped", "MaximumRetryCount": 0}
        r = d.cli("update", "-m", "1k", cid, check=False)
        assert r.returncode != 0 and "Minimum memory limit allowed is 6MB" in r.stderr
        with open(path) as f:
            assert int(f.read()) == 48 << 20
        # kept across a stop/start: the new cgroup gets the updated limit
        d.cli("stop", "-t", "0", cid)
        d.cli("start", cid)
        with open(_memory_limit_file(_state(d, cid)["Pid"])) as f:
            assert int(f.read()) == 48 << 20
    finally:
        d.cli("rm", "-f", cid, check=False)


def test_healthcheck_turns_healthy_then_unhealthy(daemon):
    d = daemon
    cid = d.cli("run", "-d", "--health-cmd", "test -e /tmp/ok && echo fine",
                "--health-interval", "200ms", "--health-timeout", "2s",
                "--health-retries", "2", "busybox", "sh", "-c",
                "touch /tmp/ok; exec sleep 300").stdout.strip()
    try:
        assert _state(d, cid)["Health"]["Status"] in ("starting", "healthy")
        _until(lambda: _state(d, cid)["Health"]["Status"] == "healthy")
        health = _state(d, cid)["Health"]
        assert health["FailingStreak"] == 0
        assert health["Log"][-1]["ExitCode"] == 0 and health["Log"][-1]["Output"] == "fine\n"
        ps = d.cli("ps", "--filter", "health=healthy").stdout
        assert cid[:12] in ps and "(healthy)" in ps
        d.cli("exec", cid, "rm", "/tmp/ok")
        _until(lambda: _state(d, cid)["Health"]["Status"] == "unhealthy")
        health = _state(d, cid)["Health"]
        assert health["FailingStreak"] >= 2 and health["Log"][-1]["ExitCode"] == 1
        assert len(health["Log"]) <= 5
        ps = d.cli("ps", "--filter", f"id={cid}").stdout
        assert cid[:12] in ps and "(unhealthy)" in ps
        assert cid[:12] not in d.cli("ps", "--filter", "health=healthy").stdout
    finally:
        d.cli("rm", "-f", cid, check=False)


def test_always_container_comes_back_after_coved_restart(fresh_daemon):
    d = fresh_daemon
    cid = d.cli("run", "-d", "--restart", "always", "busybox", "sleep", "300").stdout.strip()
    stopped = d.cli("run", "-d", "--restart", "unless-stopped", "busybox", "sleep",
                    "300").stdout.strip()
    d.cli("stop", "-t", "0", stopped)
    pid = _state(d, cid)["Pid"]
    d.stop()
    os.kill(pid, signal.SIGKILL)           # the container dies while coved is down
    _until(lambda: not os.path.exists(f"/proc/{pid}/cmdline")
           or open(f"/proc/{pid}/cmdline").read() == "")
    d.start()
    _until(lambda: _state(d, cid)["Running"] and _state(d, cid)["Pid"] not in (0, pid))
    assert _state(d, stopped)["Status"] == "exited"   # the user stopped it: stays stopped
    d.cli("rm", "-f", cid, stopped)


@pytest.mark.skipif(shutil.which("lxc-execute") is None, reason="lxc tools not installed")
def test_update_under_lxc(daemon):
    d = daemon
    cid = d.cli("run", "-d", "--runtime", "lxc", "-m", "64m", "busybox", "sleep",
                "300").stdout.strip()
    try:
        path = _memory_limit_file(_state(d, cid)["Pid"])
        d.cli("update", "-m", "40m", cid)
        with open(path) as f:
            assert int(f.read()) == 40 << 20
    finally:
        d.cli("rm", "-f", cid, check=False)
