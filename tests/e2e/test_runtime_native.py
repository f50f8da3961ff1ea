"""Issue 5 on a real coved with the native driver, driven by the CLI: isolation and
Docker's hardening inside a container, -v/--read-only/--tmpfs/--init, stop exit codes,
memory (OOMKilled), pids and CPU limits, stats, and bad input that leaves nothing."""

from __future__ import annotations

import json
import os
import time

import pytest

pytestmark = pytest.mark.e2e


def _cgroup_dirs(cid: str) -> list[str]:
    found = []
    for ctrl in ("memory", "pids", "cpu", "freezer"):
        for dirpath, dirs, _ in os.walk(f"/sys/fs/cgroup/{ctrl}"):
            found += [os.path.join(dirpath, d) for d in dirs if d == cid]
    return found


def test_inside_a_container(daemon, tmp_path):
    d = daemon
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "hello").write_text("from host\n")
    script = ("echo pid1=$(cat /proc/1/cmdline | tr '\\0' ' '); ps -o comm= | tr '\\n' ' '; echo; "
              "hostname; grep CapEff /proc/self/status; "
              "echo 1 > /proc/sys/kernel/ns_last_pid || echo procsys-ro; "
              "cat /v/hello; echo back > /v/out; touch /newfile || echo rootfs-ro; "
              "echo t > /scratch/t && echo tmpfs-ok; echo x > /ro/x || echo bind-ro")
    r = d.cli("run", "--rm", "--read-only", "--tmpfs", "/scratch", "-h", "box5",
              "-v", f"{vol}:/v", "-v", f"{vol}:/ro:ro", "busybox", "sh", "-c", script)
    lines = r.stdout.splitlines()
    assert lines[0].startswith("pid1=sh -c ")
    # only its own processes: sh and ps, and the pipeline's tr (absent when ps reads
    # /proc first; "exe" while busybox re-executes itself through /proc/self/exe)
    assert {"sh", "ps"} <= set(lines[1].split()) <= {"sh", "ps", "tr", "exe"}, lines[1]
    assert lines[2] == "box5"
    assert lines[3].split() == ["CapEff:", "00000000a80425fb"]
    for want in ("procsys-ro", "from host", "rootfs-ro", "tmpfs-ok", "bind-ro"):
        assert want in lines, (want, r.stdout, r.stderr)
    assert (vol / "out").read_text() == "back\n"
    assert not (vol / "x").exists()


def test_init_and_privileged(daemon):
    d = daemon
    out = d.cli("run", "--rm", "--init", "--read-only", "busybox", "cat",
                "/proc/1/cmdline").stdout
    assert out.split("\0")[:3] == ["/sbin/docker-init", "--", "cat"]
    out = d.cli("run", "--rm", "--privileged", "busybox", "grep", "CapEff",
                "/proc/self/status").stdout
    assert int(out.split()[1], 16) & (1 << 21)  # CAP_SYS_ADMIN
    cid = d.cli("create", "--init", "--privileged", "--read-only", "-m", "64m",
                "--cpus", "0.5", "--pids-limit", "20", "-c", "512", "busybox").stdout.strip()
    try:
        hc = json.loads(d.cli("inspect", cid).stdout)[0]["HostConfig"]
        assert (hc["Init"], hc["Privileged"], hc["ReadonlyRootfs"], hc["Memory"],
                hc["NanoCpus"], hc["PidsLimit"], hc["CpuShares"]) == (
            True, True, True, 64 << 20, 500_000_000, 20, 512)
    finally:
        d.cli("rm", cid)


def test_stop_exit_codes(daemon):
    d = daemon
    d.cli("run", "-d", "--name", "st1", "busybox", "sleep", "60")
    d.cli("run", "-d", "--init", "--name", "st2", "busybox", "sleep", "60")
    try:
        t0 = time.monotonic()
        d.cli("stop", "-t", "1", "st1")  # sh-less sleep as PID 1 ignores SIGTERM
        assert 0.9 < time.monotonic() - t0 < 5
        assert d.inspect("st1", "{{.State.ExitCode}}") == "137"
        d.cli("stop", "-t", "5", "st2")  # tini forwards SIGTERM: 128+15
        assert d.inspect("st2", "{{.State.ExitCode}}") == "143"
    finally:
        d.cli("rm", "-f", "st1", "st2")


def test_oom_killed_and_cgroup_removed(daemon):
    d = daemon
    r = d.cli("run", "--name", "oom1", "-m", "32m", "busybox", "sh", "-c",
              "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo ${#x}", check=False)
    try:
        assert r.returncode == 137
        state = json.loads(d.cli("inspect", "oom1").stdout)[0]["State"]
        assert state["OOMKilled"] is True and state["ExitCode"] == 137
        cid = d.inspect("oom1", "{{.Id}}")
    finally:
        d.cli("rm", "oom1")
    assert _cgroup_dirs(cid) == []


def test_pids_limit_and_cpus_and_stats(daemon):
    d = daemon
    d.cli("run", "-d", "--name", "bomb", "--pids-limit", "10", "busybox", "sleep", "60")
    try:
        # the bomb's sleeps must not hold the exec's output pipe: builtins report
        r = d.cli("exec", "bomb", "sh", "-c",
                  "sh -c 'for i in $(seq 30); do sleep 30 & done' >/dev/null 2>/tmp/err;"
                  ' read -r line </tmp/err; echo "$line"')
        assert "can't fork" in r.stdout
        s = json.loads(d.api("GET", "/containers/bomb/stats?stream=false&one-shot=true")[1])
        # PID 1 and the sleeps that got a pid; the exec's shell and helper are gone
        assert s["pids_stats"]["limit"] == 10 and 6 <= s["pids_stats"]["current"] <= 9, s
        r = d.cli("exec", "bomb", "ps", "-o", "pid=")
        assert len(r.stdout.split()) <= 10
    finally:
        d.cli("rm", "-f", "bomb")
    d.cli("run", "-d", "--name", "cpu1", "--cpus", "0.5", "busybox", "sh", "-c",
          "while :; do :; done")
    try:
        time.sleep(0.3)
        r = d.cli("stats", "--no-stream", "cpu1")
        header, row = r.stdout.splitlines()
        assert header.startswith("CONTAINER ID") and "MEM USAGE / LIMIT" in header
        pct = float(row.split()[2].rstrip("%"))
        assert 30 < pct < 65, row  # CPU % over half a second of samples
        st, body = d.api("GET", "/containers/cpu1/stats?stream=false")
        s = json.loads(body)
        assert st == 200 and s["name"] == "/cpu1"
        assert s["cpu_stats"]["throttling_data"]["throttled_periods"] > 0
        assert s["memory_stats"]["usage"] > 0 and s["pids_stats"]["current"] >= 1
    finally:
        d.cli("rm", "-f", "cpu1")


def test_bad_input_gives_clear_errors_and_leaves_nothing(daemon, tmp_path):
    d = daemon
    before = d.cli("ps", "-aq").stdout
    cases = {
        ("-v", "/nonexistent-cove-dir:/x"): "bind source path does not exist",
        ("-v", "bad*name:/x"): "invalid volume specification",   # names are volumes now
        ("-v", f"{tmp_path}:/x:bogus"): "invalid mode",
        ("-m", "32x"): "invalid size: '32x'",
        ("-m", "1k"): "Minimum memory limit allowed is 6MB",
        ("--cpus", "64"): "Range of CPUs",
        ("--tmpfs", "rel"): "invalid mount path",
        ("--runtime", "nope"): "Unknown runtime specified nope",
    }
    for flags, msg in cases.items():
        r = d.cli("run", "--rm", *flags, "busybox", "true", check=False)
        assert r.returncode == 125 and msg in r.stderr, (flags, r.stderr)
    assert d.cli("ps", "-aq").stdout == before


def test_pause_unpause_freezes_the_container(daemon):
    d = daemon
    d.cli("run", "-d", "--name", "frz", "busybox", "sh", "-c", "while :; do :; done")
    try:
        def cpu() -> int:
            s = json.loads(d.api("GET", "/containers/frz/stats?stream=false&one-shot=true")[1])
            return s["cpu_stats"]["cpu_usage"]["total_usage"]
        assert d.cli("pause", "frz").stdout == "frz\n"
        assert d.inspect("frz", "{{.State.Status}} {{.State.Paused}}") == "paused true"
        assert "(Paused)" in d.cli("ps").stdout
        a = cpu()
        time.sleep(0.3)
        assert cpu() == a
        r = d.cli("pause", "frz", check=False)
        assert r.returncode == 1 and "already paused" in r.stderr
        d.cli("unpause", "frz")
        time.sleep(0.2)
        assert cpu() > a
        d.cli("pause", "frz")
        d.cli("stop", "-t", "1", "frz")  # a paused container can still be stopped
        assert d.inspect("frz", "{{.State.Status}}") == "exited"
    finally:
        d.cli("rm", "-f", "frz")
