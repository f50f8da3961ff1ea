"""Issue 6: a scripted session of the real docker CLI (28.x) against a real coved.

Outputs and error texts are those Docker prints for the same commands.
"""

from __future__ import annotations

import secrets
import sys
import time

import pytest

from tests.e2e.dockercli import DOCKER, docker_runner
from tests.ptyutil import under_pty

pytestmark = pytest.mark.e2e

HOST_GET = """
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())
"""


@pytest.fixture(scope="module")
def docker(daemon, tmp_path_factory):
    return docker_runner(daemon, tmp_path_factory)


def _name(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(3)}"


def test_version_negotiates_down_to_1_41(docker):
    out = docker("version", "--format", "{{.Server.APIVersion}} {{.Client.APIVersion}}",
                 check=True).stdout.split()
    assert out == ["1.41", "1.41"]


def test_run_attached_prints_output_and_returns_the_exit_code(docker):
    r = docker("run", "--rm", "busybox", "echo", "hi")
    assert (r.returncode, r.stdout) == (0, "hi\n")
    name = _name("exit")
    try:
        r = docker("run", "--name", name, "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
        assert r.returncode == 3
        assert r.stdout == "out\n" and r.stderr == "err\n"
        assert docker("inspect", "-f", "{{.State.ExitCode}} {{.State.Status}}", name,
                      check=True).stdout == "3 exited\n"
    finally:
        docker("rm", "-f", name)


def test_detached_lifecycle_ps_logs_exec_inspect_stop_rm(docker):
    name = _name("web")
    cid = docker("run", "-d", "--name", name, "busybox", "sh", "-c",
                 "echo started; exec httpd -f -p 80", check=True).stdout.strip()
    try:
        assert len(cid) == 64
        ps = docker("ps", "--format", "{{.ID}} {{.Names}} {{.Image}} {{.Status}}",
                    check=True).stdout
        line = next(ln for ln in ps.splitlines() if name in ln)
        assert line.startswith(f"{cid[:12]} {name} busybox Up ")
        assert docker("inspect", "-f", "{{.State.Running}} {{.Name}} {{.Id}}", name,
                      check=True).stdout == f"true /{name} {cid}\n"
        for _ in range(50):
            if docker("logs", name).stdout == "started\n":
                break
            time.sleep(0.1)
        assert docker("logs", name).stdout == "started\n"
        r = docker("exec", name, "sh", "-c", "echo $((6*7)); exit 5")
        assert (r.returncode, r.stdout) == (5, "42\n")
        assert docker("stop", "-t", "1", name, check=True).stdout == f"{name}\n"
        assert docker("inspect", "-f", "{{.State.Running}}", name).stdout == "false\n"
        assert docker("ps", "-q").stdout.split().count(cid[:12]) == 0
        assert cid[:12] in docker("ps", "-aq").stdout.split()
    finally:
        assert docker("rm", "-f", name).stdout == f"{name}\n"
    assert cid[:12] not in docker("ps", "-aq").stdout.split()


def test_logs_follow_ends_when_the_container_exits(docker):
    name = _name("follow")
    docker("run", "-d", "--name", name, "busybox", "sh", "-c",
           "echo a; sleep 1; echo b", check=True)
    try:
        r = docker("logs", "-f", name, timeout=20)
        assert (r.returncode, r.stdout) == (0, "a\nb\n")
    finally:
        docker("rm", "-f", name)


def _under_pty(docker, args: list[str], script: list[tuple[bytes, bytes]],
               timeout: float = 20) -> tuple[int, bytes]:
    """``docker ARGS`` with a pty as its terminal (see :func:`tests.ptyutil.under_pty`)."""
    return under_pty([DOCKER, *args], script, env=docker.env, timeout=timeout)


def test_exec_it_has_a_tty_and_run_it_takes_the_exit_from_the_terminal(docker):
    name = _name("tty")
    docker("run", "-d", "--name", name, "busybox", "sleep", "60", check=True)
    try:
        code, out = _under_pty(docker, ["exec", "-it", name, "sh", "-c", "tty; echo ok"], [])
        assert code == 0
        assert b"/dev/pts/" in out and b"ok\r\n" in out
    finally:
        docker("rm", "-f", name)
    code, out = _under_pty(docker, ["run", "-it", "--rm", "busybox", "sh"],
                           [(b"# ", b"stty size; exit 5\r")])
    assert code == 5, out
    assert b"exit 5" in out                   # the shell echoed what the terminal typed
    r = docker("run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo end", input="piped\n",
               timeout=20)                    # stdin without a tty, closed at its EOF
    assert (r.returncode, r.stdout) == (0, "piped\nend\n")


def test_publish_and_port(docker, daemon):
    name = _name("pub")
    docker("run", "-d", "--name", name, "-p", "18091:80", "busybox", "httpd", "-f", "-p",
           "80", "-h", "/www", check=True)
    try:
        assert docker("port", name, check=True).stdout == "80/tcp -> 0.0.0.0:18091\n"
        body = ""
        for _ in range(50):
            r = daemon.host(sys.executable, "-c", HOST_GET, "http://127.0.0.1:18091/",
                            check=False)
            body = r.stdout
            if r.returncode == 0:
                break
            time.sleep(0.1)
        assert "Hello from cove" in body
    finally:
        docker("rm", "-f", name)


def test_publish_all(docker):
    name = _name("pall")
    docker("run", "-d", "--name", name, "-P", "--expose", "80", "busybox", "sleep", "60",
           check=True)
    try:
        out = docker("port", name, "80", check=True).stdout
        host_port = int(out.splitlines()[0].rsplit(":", 1)[1])
        lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
        assert lo <= host_port <= hi
    finally:
        docker("rm", "-f", name)


def test_user_network_connect_disconnect_link_rm(docker):
    net, a, b, c = _name("net"), _name("a"), _name("b"), _name("c")
    docker("network", "create", net, check=True)
    try:
        docker("run", "-d", "--name", a, "--network", net, "busybox", "sleep", "60",
               check=True)
        docker("run", "-d", "--name", c, "busybox", "sleep", "60", check=True)
        docker("run", "-d", "--name", b, "--link", f"{c}:peer", "busybox", "sleep", "60",
               check=True)
        assert net in docker("network", "ls", "--format", "{{.Name}}", check=True).stdout
        r = docker("exec", b, "grep", "peer", "/etc/hosts")
        assert r.returncode == 0, r.stderr
        docker("network", "connect", net, b, check=True)
        nets = docker("inspect", "-f",
                      "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", b,
                      check=True).stdout.split()
        assert sorted(nets) == sorted(["bridge", net])
        ip_a = docker("inspect", "-f",
                      f"{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}", a,
                      check=True).stdout.strip()
        r = docker("exec", b, "ping", "-c1", "-W2", ip_a)
        assert r.returncode == 0, r.stdout + r.stderr
        docker("network", "disconnect", net, b, check=True)
        assert docker("inspect", "-f", "{{len .NetworkSettings.Networks}}", b).stdout == "1\n"
        r = docker("network", "rm", net)
        assert r.returncode == 1 and "has active endpoints" in r.stderr
    finally:
        docker("rm", "-f", a, b, c)
        docker("network", "rm", net)
    assert net not in docker("network", "ls", "--format", "{{.Name}}").stdout


def test_errors_are_dockers(docker):
    r = docker("rm", "nosuch-x")
    assert r.returncode == 1
    assert r.stderr == "Error response from daemon: No such container: nosuch-x\n"
    r = docker("rm", "-f", "nosuch-x")                       # force: gone is not an error
    assert r.returncode == 0
    r = docker("inspect", "nosuch-x")
    assert r.returncode == 1 and r.stdout == "[]\n"
    assert r.stderr == "Error: No such object: nosuch-x\n"
    r = docker("run", "--rm", "nosuch-image")
    assert r.returncode == 125
    assert "Unable to find image 'nosuch-image:latest' locally" in r.stderr
    assert ("Error response from daemon: pull access denied for nosuch-image, repository "
            "does not exist") in r.stderr
    r = docker("stop", "nosuch-x")
    assert r.returncode == 1
    assert r.stderr == "Error response from daemon: No such container: nosuch-x\n"


def test_volumes_cp_rename_top_diff(docker, tmp_path):
    vol, name, new = _name("vol"), _name("v"), _name("renamed")
    assert docker("volume", "create", vol, check=True).stdout == f"{vol}\n"
    try:
        docker("run", "--rm", "-v", f"{vol}:/data", "busybox", "sh", "-c",
               "echo kept > /data/f", check=True)
        r = docker("run", "--rm", "-v", f"{vol}:/data", "busybox", "cat", "/data/f")
        assert r.stdout == "kept\n"                       # the volume outlives containers
        docker("run", "-d", "--name", name, "-v", f"{vol}:/data", "busybox", "sleep", "60",
               check=True)
        r = docker("volume", "rm", vol)
        assert r.returncode == 1 and "volume is in use" in r.stderr
        top = docker("top", name, check=True).stdout.splitlines()
        assert top[0].split() == ["PID", "USER", "TIME", "COMMAND"]
        assert top[1].endswith("sleep 60") and len(top) == 2
        (tmp_path / "in.txt").write_text("copied in\n")
        docker("cp", str(tmp_path / "in.txt"), f"{name}:/tmp/in.txt", check=True)
        assert docker("exec", name, "cat", "/tmp/in.txt").stdout == "copied in\n"
        docker("exec", name, "sh", "-c", "echo out > /root/out.txt", check=True)
        docker("cp", f"{name}:/root/out.txt", str(tmp_path / "out.txt"), check=True)
        assert (tmp_path / "out.txt").read_text() == "out\n"
        diff = docker("diff", name, check=True).stdout.splitlines()
        assert "A /tmp/in.txt" in diff and "A /root/out.txt" in diff
        assert "C /root" in diff
        docker("rename", name, new, check=True)
        assert docker("inspect", "-f", "{{.Name}}", new).stdout == f"/{new}\n"
        r = docker("rename", new, new)
        assert r.returncode == 1
    finally:
        docker("rm", "-f", name, new)
        docker("volume", "rm", vol)
    assert vol not in docker("volume", "ls", "-q").stdout.split()
