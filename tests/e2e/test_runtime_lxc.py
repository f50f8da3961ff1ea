"""Issue 5 acceptance 1 under the LXC driver on a real coved (``--runtime lxc``): busybox
httpd on the default bridge reached from another container and from the host through a
published port, exec, logs, stop exit codes, and rm leaving nothing (no LXC cgroups,
``lxc.pivot`` included)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    shutil.which("lxc-execute") is None or shutil.which("lxc-attach") is None,
    reason="Debian's lxc tools (lxc-execute, lxc-attach) are not installed")]

HOST_GET = ("import sys,urllib.request;"
            "print(urllib.request.urlopen(sys.argv[1],timeout=2).read().decode())")


def _lxc_cgroups(cid: str) -> list[str]:
    from cove.runtime.lxc import cgroupdirs
    return cgroupdirs.existing(cid)


def _get(d, where, url: str, tries: int = 40) -> str:
    last = None
    for _ in range(tries):
        if where is None:
            last = d.host(sys.executable, "-c", HOST_GET, url, check=False)
        else:
            last = d.cli("run", "--rm", "--runtime", "lxc", "busybox", "timeout", "3",
                         "wget", "-qO-", url, check=False)
        if last.returncode == 0:
            return last.stdout.strip()
        time.sleep(0.1)
    raise AssertionError(f"{url} from {where or 'host'}: {last.stdout} {last.stderr}")


def test_web_scenario_exec_logs_stop_rm(daemon, tmp_path):
    d = daemon
    links0, netns0 = d.links(), d.netns_files()
    (tmp_path / "index.html").write_text("cove-lxc-page\n")
    d.cli("run", "-d", "--runtime", "lxc", "--name", "lweb", "-h", "lweb-host",
          "-p", "18480:80", "-v", f"{tmp_path}:/www:ro", "busybox",
          "httpd", "-f", "-p", "80", "-h", "/www")
    cid = d.inspect("lweb", "{{.Id}}")
    try:
        assert d.inspect("lweb", "{{.HostConfig.Runtime}}") == "lxc"
        assert d.inspect("lweb", "{{.State.Running}}") == "true"
        assert os.path.isfile(d.exec_root / "lxc" / cid / "config")
        ip = d.inspect("lweb", "{{.NetworkSettings.IPAddress}}")
        # from another container (also under lxc) on the default bridge, by address
        assert _get(d, "peer", f"http://{ip}/index.html") == "cove-lxc-page"
        # from the host through the published port
        assert _get(d, None, "http://127.0.0.1:18480/index.html") == "cove-lxc-page"
        # exec: in the container's namespaces, env from the request, exit codes
        r = d.cli("exec", "-e", "X=42", "lweb", "sh", "-c",
                  "echo $X $(hostname); ps -o pid,args; ip -o -4 addr")
        lines = r.stdout.splitlines()
        assert lines[0] == "42 lweb-host"
        # its own pid namespace: LXC's init as PID 1, httpd its child
        assert "2 httpd -f -p 80 -h /www" in [x.strip() for x in lines]
        assert ip in r.stdout and "eth0" in r.stdout
        assert d.cli("exec", "lweb", "sh", "-c", "exit 3", check=False).returncode == 3
        # stop: httpd dies of the SIGTERM that cove sent -> Docker's 143, not LXC's 1
        d.cli("stop", "-t", "5", "lweb")
        assert d.inspect("lweb", "{{.State.ExitCode}}") == "143"
        assert _lxc_cgroups(cid) == []
    finally:
        d.cli("rm", "-f", "lweb")
    assert not (d.exec_root / "lxc" / cid).exists()
    assert _lxc_cgroups(cid) == []
    assert d.links() == links0 and d.netns_files() == netns0
    assert not [m for m in d.mounts() if cid in m]
    assert "18480" not in d.nft()


def test_logs_exit_code_and_sigkill(daemon):
    d = daemon
    r = d.cli("run", "--runtime", "lxc", "--name", "lout", "busybox", "sh", "-c",
              "echo hello-out; echo hello-err >&2; exit 7", check=False)
    try:
        assert r.returncode == 7
        assert d.inspect("lout", "{{.State.ExitCode}}") == "7"
        logs = d.cli("logs", "lout")
        assert "hello-out" in logs.stdout and "hello-err" in logs.stderr
    finally:
        d.cli("rm", "lout")
    # a PID 1 that ignores SIGTERM: stop -t 1 falls back to SIGKILL -> 137
    d.cli("run", "-d", "--runtime", "lxc", "--name", "lkill", "busybox", "sh", "-c",
          "trap '' TERM; while :; do sleep 1; done")
    cid = d.inspect("lkill", "{{.Id}}")
    try:
        t0 = time.monotonic()
        d.cli("stop", "-t", "1", "lkill")
        assert 0.9 < time.monotonic() - t0 < 6
        assert d.inspect("lkill", "{{.State.ExitCode}}") == "137"
    finally:
        d.cli("rm", "-f", "lkill")
    assert _lxc_cgroups(cid) == [] and not (d.exec_root / "lxc" / cid).exists()


def test_rm_force_of_a_running_container_leaves_nothing(daemon):
    d = daemon
    d.cli("run", "-d", "--runtime", "lxc", "--name", "lrm", "-p", "18481:80", "busybox",
          "sleep", "600")
    cid = d.inspect("lrm", "{{.Id}}")
    assert _lxc_cgroups(cid), "expected LXC's cgroups while it runs"
    d.cli("rm", "-f", "lrm")
    assert _lxc_cgroups(cid) == []
    assert not (d.exec_root / "lxc" / cid).exists()
    assert not [m for m in d.mounts() if cid in m]


def test_inside_an_lxc_container(daemon, tmp_path):
    d = daemon
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "hello").write_text("from host\n")
    script = ("hostname; grep CapEff /proc/self/status; "
              "ps -o pid= > /scratch/ps; wc -l < /scratch/ps; "   # no pipeline race
              "echo 1 > /proc/sys/kernel/ns_last_pid || echo procsys-ro; "
              "cat /v/hello; echo back > /v/out; touch /newfile || echo rootfs-ro; "
              "echo t > /scratch/t && echo tmpfs-ok; echo x > /ro/x || echo bind-ro; "
              "tr '\\0' ' ' < /proc/2/cmdline; echo")
    r = d.cli("run", "--rm", "--runtime", "lxc", "--read-only", "--tmpfs", "/scratch",
              "--init", "-h", "box5", "-v", f"{vol}:/v", "-v", f"{vol}:/ro:ro", "busybox",
              "sh", "-c", script)
    lines = r.stdout.splitlines()
    assert lines[0] == "box5"
    assert lines[1].split() == ["CapEff:", "00000000a80425fb"]
    assert lines[2].strip() == "4"  # LXC's init, tini, sh, ps: only its own
    for want in ("procsys-ro", "from host", "rootfs-ro", "tmpfs-ok", "bind-ro"):
        assert want in lines, (want, r.stdout, r.stderr)
    assert lines[-1].startswith("/sbin/docker-init -s -- sh -c")
    assert (vol / "out").read_text() == "back\n" and not (vol / "x").exists()


def test_bad_mount_destination_fails_clearly_and_leaves_nothing(daemon):
    d = daemon
    before = d.cli("ps", "-aq").stdout
    r = d.cli("run", "--rm", "--runtime", "lxc", "--tmpfs", "/a b", "busybox", "true",
              check=False)
    assert r.returncode == 125 and "whitespace" in r.stderr, r.stderr
    assert d.cli("ps", "-aq").stdout == before
    assert [p for p in (d.exec_root / "lxc").iterdir() if p.name != "execs"] == []


def test_kill9_of_coved_keeps_lxc_containers_running(fresh_daemon):
    d = fresh_daemon
    d.cli("run", "-d", "--runtime", "lxc", "--name", "lsurv", "busybox", "sh", "-c",
          "trap 'exit 0' TERM; while :; do sleep 1; done")
    cid = d.inspect("lsurv", "{{.Id}}")
    pid = int(d.inspect("lsurv", "{{.State.Pid}}"))
    d.kill9()
    try:
        os.kill(pid, 0)                     # the container outlives its daemon
        d.start()
        assert d.inspect("lsurv", "{{.State.Status}}") == "running"
        assert d.cli("exec", "lsurv", "echo", "still-here").stdout.strip() == "still-here"
        d.cli("stop", "-t", "5", "lsurv")   # handled SIGTERM: exit 0, as Docker says
        assert d.inspect("lsurv", "{{.State.ExitCode}}") == "0"
    finally:
        d.cli("rm", "-f", "lsurv", check=False)
    assert _lxc_cgroups(cid) == [] and not (d.exec_root / "lxc" / cid).exists()


def test_cgroup_limits_stats_and_pause(daemon):
    d = daemon
    d.cli("run", "-d", "--runtime", "lxc", "--name", "lcg", "-m", "64m", "--pids-limit",
          "20", "busybox", "sleep", "600")
    cid = d.inspect("lcg", "{{.Id}}")
    try:
        st, body = d.api("GET", "/containers/lcg/stats?stream=false&one-shot=true")
        s = json.loads(body)
        assert st == 200 and s["pids_stats"]["limit"] == 20, s
        assert s["memory_stats"]["limit"] == 64 << 20 and s["pids_stats"]["current"] >= 2
        d.cli("pause", "lcg")
        from cove.runtime.lxc import cgroupdirs
        fr = cgroupdirs.container(cid).dirs.get("freezer")
        if fr:
            with open(os.path.join(fr, "freezer.state")) as f:
                assert f.read().strip() == "FROZEN"
        d.cli("unpause", "lcg")
    finally:
        d.cli("rm", "-f", "lcg")
    assert _lxc_cgroups(cid) == []
