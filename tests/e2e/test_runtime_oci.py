"""Issue 5 with the OCI driver (runc, crun) on a real coved, driven by the CLI: the
acceptance-1 scenario (httpd on the default bridge reached from a container and from the
host through a published port, exec, logs, stop exit code, rm leaves nothing),
acceptance 4 (kill -9 of coved leaves the container running; the restarted daemon
re-adopts, stops it and gets its exit code) and bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.e2e

RUNTIMES = [pytest.param(n, marks=pytest.mark.skipif(
    shutil.which(n) is None, reason=f"{n} is not installed")) for n in ("runc", "crun")]
HOST_GET = ("import sys,urllib.request;"
            "print(urllib.request.urlopen(sys.argv[1],timeout=3).read().decode())")


def _wait(fn, tries: int = 50):
    last = None
    for _ in range(tries):
        last = fn()
        if last.returncode == 0:
            return last.stdout
        time.sleep(0.1)
    raise AssertionError(f"not reachable: {last.stdout} {last.stderr}")


def _cgroup_dirs(cid: str) -> list[str]:
    found = []
    for ctrl in ("memory", "pids", "cpu", "devices"):
        base = f"/sys/fs/cgroup/{ctrl}/cove/{cid}"
        if os.path.isdir(base):
            found.append(base)
    return found


def _runtime_state(d, rt: str) -> list[str]:
    state = d.exec_root / rt / "state"
    return sorted(os.listdir(state)) if state.is_dir() else []


def _containers_of(d, rt: str) -> list[str]:
    base = d.exec_root / rt
    return sorted(p for p in os.listdir(base) if p not in ("state", "empty"))


@pytest.mark.parametrize("rt", RUNTIMES)
def test_httpd_scenario(daemon, rt):
    d = daemon
    links0, mounts0 = d.links(), d.mounts()
    cid = d.cli("run", "-d", "--runtime", rt, "--name", f"web-{rt}", "-p", "18181:80",
                "busybox", "sh", "-c",
                "echo hello-$0; echo oops >&2; exec httpd -f -p 80 -h /etc",
                rt).stdout.strip()
    try:
        assert d.inspect(cid, "{{.HostConfig.Runtime}}") == rt
        assert d.inspect(cid, "{{.State.Running}}") == "true"
        pid = int(d.inspect(cid, "{{.State.Pid}}"))
        # it runs under the runtime: the runtime knows it, by its own state dir
        assert _runtime_state(d, rt) == [cid]
        info = json.loads(d.api("GET", "/info")[1])
        assert rt in info["Runtimes"] and info["DefaultRuntime"] == "native"
        ip = d.inspect(cid, "{{.NetworkSettings.IPAddress}}")
        # from another container (native driver) and from an exec in itself
        out = _wait(lambda: d.cli("run", "--rm", "busybox", "wget", "-qO-",
                                  f"http://{ip}/hostname", check=False))
        assert out.strip() == cid[:12]
        out = d.cli("exec", cid, "sh", "-c", "echo in-$(hostname); exit 3", check=False)
        assert (out.returncode, out.stdout.strip()) == (3, f"in-{cid[:12]}")
        # from the host through the published port
        out = _wait(lambda: d.host(sys.executable, "-c", HOST_GET,
                                   "http://127.0.0.1:18181/hostname", check=False))
        assert out.strip() == cid[:12]
        logs = d.cli("logs", cid)
        assert logs.stdout == f"hello-{rt}\n" and logs.stderr == "oops\n"
        # the container's PID 1 is httpd (exec'd by sh), in a pid namespace of its own
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            assert f.read().split(b"\0")[0] == b"httpd"
        d.cli("stop", "-t", "1", cid)   # httpd as PID 1 ignores SIGTERM: SIGKILL, 137
        assert d.inspect(cid, "{{.State.ExitCode}}") == "137"
        assert not os.path.exists(f"/proc/{pid}")
    finally:
        d.cli("rm", "-f", cid)
    assert _runtime_state(d, rt) == [] and _containers_of(d, rt) == []
    assert _cgroup_dirs(cid) == []
    assert d.links() == links0 and d.mounts() == mounts0
    assert d.netns_files() == []
    assert "18181" not in d.nft()


@pytest.mark.parametrize("rt", RUNTIMES)
def test_exit_code_and_restart(daemon, rt):
    d = daemon
    r = d.cli("run", "--runtime", rt, "--name", f"ex-{rt}", "busybox", "sh", "-c",
              "echo run; exit 7", check=False)
    try:
        assert r.returncode == 7 and r.stdout == "run\n"
        assert d.inspect(f"ex-{rt}", "{{.State.ExitCode}}") == "7"
        d.cli("start", "-a", f"ex-{rt}", check=False)   # starts again: same rootfs
        assert d.cli("logs", f"ex-{rt}").stdout == "run\nrun\n"
    finally:
        d.cli("rm", "-f", f"ex-{rt}")
    assert _containers_of(d, rt) == []


@pytest.mark.parametrize("rt", RUNTIMES)
def test_kill9_of_coved_leaves_the_container_running(fresh_daemon, rt):
    d = fresh_daemon
    cid = d.cli("run", "-d", "--runtime", rt, "busybox", "sh", "-c",
                "trap 'exit 42' TERM; while true; do sleep 0.1; done").stdout.strip()
    pid = int(d.inspect(cid, "{{.State.Pid}}"))
    d.kill9()
    time.sleep(0.3)
    assert os.path.exists(f"/proc/{pid}")          # survived coved's death
    d.extra_args = ["--runtime", rt]                 # and `coved --runtime` picks it
    d.start()
    assert json.loads(d.api("GET", "/info")[1])["DefaultRuntime"] == rt
    other = d.cli("create", "busybox", "true").stdout.strip()
    assert d.inspect(other, "{{.HostConfig.Runtime}}") == rt
    d.cli("rm", other)
    assert d.inspect(cid, "{{.State.Running}}") == "true"
    assert d.inspect(cid, "{{.State.Pid}}") == str(pid)
    assert cid in d.cli("ps", "-q", "--no-trunc").stdout.split()
    d.cli("stop", "-t", "10", cid)
    assert d.inspect(cid, "{{.State.ExitCode}}") == "42"
    assert not os.path.exists(f"/proc/{pid}")
    d.cli("rm", cid)
    assert _runtime_state(d, rt) == [] and _containers_of(d, rt) == []


def test_unknown_runtime_is_refused_and_leaves_nothing(daemon):
    d = daemon
    before = d.cli("ps", "-aq").stdout
    r = d.cli("run", "--runtime", "nosuchrt", "busybox", "true", check=False)
    assert r.returncode != 0 and "Unknown runtime specified nosuchrt" in r.stderr
    assert d.cli("ps", "-aq").stdout == before
    assert d.netns_files() == []


def test_coved_refuses_an_unknown_default_runtime(tmp_path):
    r = subprocess.run([sys.executable, "-m", "cove.daemon", "--runtime", "nosuchrt",
                        "--root", str(tmp_path / "root"), "--exec-root", str(tmp_path / "run"),
                        "--host", f"unix://{tmp_path}/s.sock"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "unknown runtime nosuchrt" in r.stderr


@pytest.mark.parametrize("rt", RUNTIMES)
def test_memory_limit_oom_killed(daemon, rt):
    d = daemon
    r = d.cli("run", "--runtime", rt, "--name", f"oom-{rt}", "-m", "32m", "busybox", "sh",
              "-c", "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo ${#x}", check=False)
    try:
        cid = d.inspect(f"oom-{rt}", "{{.Id}}")
        state = json.loads(d.cli("inspect", cid).stdout)[0]["State"]
        assert (r.returncode, state["OOMKilled"], state["ExitCode"]) == (137, True, 137)
    finally:
        d.cli("rm", f"oom-{rt}")
    assert _cgroup_dirs(cid) == [] and _containers_of(d, rt) == []
