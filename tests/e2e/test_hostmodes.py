"""Issue 6 on a real coved with the native driver, driven by the CLI: --pid, --uts,
--cgroupns, --group-add, --device-cgroup-rule, --cpuset-cpus, --volumes-from,
--log-driver none and commit. Inside the containers only harmless reads: a container
sharing the host's pid or UTS namespace never signals a host process or sets a name."""

from __future__ import annotations

import json
import os
import socket

import pytest

pytestmark = pytest.mark.e2e


def _free_char_major() -> int:
    """A character major no driver registered (opening such a node gives ENXIO)."""
    used = set()
    with open("/proc/devices") as f:
        for line in f:
            if line.startswith("Block"):
                break
            parts = line.split()
            if parts and parts[0].isdigit():
                used.add(int(parts[0]))
    return next(m for m in (*range(60, 64), *range(120, 128), *range(240, 255))
                if m not in used)


def test_pid_and_uts_modes(daemon):
    d = daemon
    me = os.getpid()
    probe = f"echo $$; test -d /proc/{me} && echo sees-host; hostname"
    own = d.cli("run", "--rm", "busybox", "sh", "-c", probe).stdout.split()
    assert own[0] == "1" and "sees-host" not in own and own[-1] != socket.gethostname()
    host_name = socket.gethostname()
    shared = d.cli("run", "--rm", "--pid", "host", "--uts", "host", "busybox", "sh", "-c",
                   probe).stdout.split()
    assert shared[0] != "1" and shared[1] == "sees-host", shared
    assert shared[2] == host_name
    assert socket.gethostname() == host_name
    # --pid container:<name>: the other container's PID 1 is ours to see
    d.cli("run", "-d", "--name", "pidsrc", "busybox", "sleep", "60")
    try:
        out = d.cli("run", "--rm", "--pid", "container:pidsrc", "busybox", "sh", "-c",
                    "cat /proc/1/comm; echo $$").stdout.split()
        assert out[0] == "sleep" and out[1] != "1"
        cid = d.cli("create", "--pid", "host", "--uts", "host", "busybox").stdout.strip()
        hc = json.loads(d.cli("inspect", cid).stdout)[0]["HostConfig"]
        assert (hc["PidMode"], hc["UTSMode"]) == ("host", "host")
        d.cli("rm", cid)
        d.cli("stop", "-t", "0", "pidsrc")
        r = d.cli("run", "--rm", "--pid", "container:pidsrc", "busybox", "true", check=False)
        assert r.returncode != 0 and "cannot join PID of a non running container" in r.stderr
        r = d.cli("create", "--pid", "container:nosuch", "busybox", check=False)
        assert r.returncode == 125 and "No such container: nosuch" in r.stderr
    finally:
        d.cli("rm", "-f", "pidsrc")
    assert d.cli("ps", "-aq").stdout.strip() == ""


def test_cgroupns_cpuset_and_groups(daemon):
    d = daemon
    out = d.cli("run", "--rm", "--cgroupns", "private", "--cpuset-cpus", "0",
                "--group-add", "1000", "--group-add", "nobody", "busybox", "sh", "-c",
                "cat /proc/self/cgroup; grep Cpus_allowed_list /proc/self/status; id -G"
                ).stdout.splitlines()
    cg = [line for line in out if line[:1].isdigit() and ":" in line]
    assert cg and all(line.endswith(":/") for line in cg), out
    assert "Cpus_allowed_list:\t0" in out
    assert set(out[-1].split()) == {"0", "1000", "65534"}
    out = d.cli("run", "--rm", "busybox", "sh", "-c",
                "cat /proc/self/cgroup; grep Cpus_allowed_list /proc/self/status; id -G"
                ).stdout.splitlines()
    assert any("/cove/" in line for line in out), out     # host cgroupns (v1 default)
    assert f"Cpus_allowed_list:\t0-{os.cpu_count() - 1}" in out or os.cpu_count() == 1
    assert out[-1] == "0"
    # exec gets the groups and joins the private cgroup namespace
    cid = d.cli("run", "-d", "--cgroupns", "private", "--group-add", "1000", "busybox",
                "sleep", "30").stdout.strip()
    try:
        out = d.cli("exec", cid, "sh", "-c", "id -G; cat /proc/self/cgroup").stdout
        lines = out.splitlines()
        assert set(lines[0].split()) == {"0", "1000"}
        assert all(line.endswith(":/") for line in lines[1:] if line), out
    finally:
        d.cli("rm", "-f", cid)
    r = d.cli("run", "--rm", "--group-add", "nosuchgroup", "busybox", "true", check=False)
    assert r.returncode != 0 and "Unable to find group nosuchgroup" in r.stderr
    r = d.cli("create", "--cpuset-cpus", "0,99", "busybox", check=False)
    assert r.returncode == 125 and "Requested CPUs are not available" in r.stderr
    assert d.cli("ps", "-aq").stdout.strip() == ""


def test_device_cgroup_rules(daemon):
    d = daemon
    major = _free_char_major()
    probe = f"mknod /tmp/dev c {major} 7 && cat /tmp/dev"
    r = d.cli("run", "--rm", "busybox", "sh", "-c", probe, check=False)
    assert r.returncode != 0 and "Operation not permitted" in r.stderr, r.stderr
    r = d.cli("run", "--rm", "--device-cgroup-rule", f"c {major}:7 r", "busybox", "sh",
              "-c", probe, check=False)
    # allowed by the devices cgroup: the open reaches the kernel, which has no driver
    assert r.returncode != 0 and "No such device or address" in r.stderr, r.stderr
    r = d.cli("run", "--rm", "--privileged", "busybox", "sh", "-c", probe, check=False)
    assert "No such device or address" in r.stderr
    out = d.cli("run", "--rm", "busybox", "sh", "-c", "echo x > /dev/null && head -c 1 "
                "/dev/zero | wc -c").stdout.strip()
    assert out == "1"                                   # the default allow list


def test_volumes_from(daemon, tmp_path):
    d = daemon
    host_dir = tmp_path / "h"
    host_dir.mkdir()
    d.cli("run", "--name", "vsrc", "-v", "vfdata:/data", "-v", f"{host_dir}:/h", "busybox", "sh",
          "-c", "echo shared > /data/f")
    try:
        out = d.cli("run", "--rm", "--volumes-from", "vsrc:ro", "busybox", "sh", "-c",
                    "cat /data/f; echo x > /data/g || echo data-ro; echo y > /h/y || "
                    "echo h-ro").stdout.split()
        assert out == ["shared", "data-ro", "h-ro"], out
        d.cli("run", "--name", "vdst", "--volumes-from", "vsrc", "busybox", "sh", "-c",
              "echo more >> /data/f; echo y > /h/y")
        assert (host_dir / "y").read_text() == "y\n"
        info = json.loads(d.cli("inspect", "vdst").stdout)[0]
        assert info["HostConfig"]["VolumesFrom"] == ["vsrc"]
        mounts = {m["Destination"]: m for m in info["Mounts"]}
        assert mounts["/h"]["Source"] == str(host_dir) and mounts["/h"]["Type"] == "bind"
        assert mounts["/data"]["Type"] == "volume" and mounts["/data"]["RW"] is True
        assert mounts["/data"]["Name"] == "vfdata"
        assert d.cli("run", "--rm", "--volumes-from", "vdst", "busybox", "cat",
                     "/data/f").stdout.split() == ["shared", "more"]
        # the volume is in use by both containers
        name = mounts["/data"]["Name"]
        assert d.api("DELETE", f"/volumes/{name}")[0] == 409
        r = d.cli("create", "--volumes-from", "nosuch", "busybox", check=False)
        assert r.returncode == 125 and "No such container: nosuch" in r.stderr
    finally:
        d.cli("rm", "-f", "vdst", check=False)
        d.cli("rm", "-f", "vsrc", check=False)
        d.api("DELETE", "/volumes/vfdata")
    assert d.cli("ps", "-aq").stdout.strip() == ""


def test_log_driver_none(daemon):
    d = daemon
    cid = d.cli("run", "-d", "--log-driver", "none", "busybox", "echo", "hi").stdout.strip()
    try:
        d.api("POST", f"/containers/{cid}/wait")
        info = json.loads(d.cli("inspect", cid).stdout)[0]
        assert info["HostConfig"]["LogConfig"]["Type"] == "none"
        assert not os.path.exists(info["LogPath"])
        r = d.cli("logs", cid, check=False)
        assert r.returncode != 0
        assert "configured logging driver does not support reading" in r.stderr
        status, body = d.api("GET", f"/containers/{cid}/logs?stdout=1")
        assert status == 501
    finally:
        d.cli("rm", "-f", cid)


def test_commit(daemon):
    d = daemon
    d.cli("run", "--name", "tocommit", "-e", "FOO=bar", "busybox", "sh", "-c",
          "echo hello > /test; rm /www/index.html")
    try:
        iid = d.cli("commit", "-m", "my message", "-a", "me", "-c", 'CMD ["cat", "/test"]',
                    "-c", "ENV BAZ=qux", "tocommit", "committed:v1").stdout.strip()
        assert iid.startswith("sha256:")
        assert d.cli("run", "--rm", "committed:v1").stdout == "hello\n"
        out = d.cli("run", "--rm", "committed:v1", "sh", "-c",
                    "ls /www; echo $FOO $BAZ").stdout.split()
        assert out == ["bar", "qux"]                    # the deletion is kept (whiteout)
        img = json.loads(d.cli("image", "inspect", "committed:v1").stdout)[0]
        assert (img["Id"], img["Comment"], img["Author"]) == (iid, "my message", "me")
        assert img["Config"]["Cmd"] == ["cat", "/test"]
        # a commit without a name is an untagged image that runs by id
        iid2 = d.cli("commit", "tocommit").stdout.strip()
        assert d.cli("run", "--rm", iid2, "cat", "/test").stdout == "hello\n"
        r = d.cli("commit", "-c", "BOGUS x", "tocommit", check=False)
        assert r.returncode != 0 and "BOGUS is not a valid change command" in r.stderr
        d.cli("rmi", iid2)
        d.cli("rmi", "committed:v1")
    finally:
        d.cli("rm", "-f", "tocommit")
    # the base image is intact
    assert d.cli("run", "--rm", "busybox", "ls", "/www").stdout.strip() == "index.html"
