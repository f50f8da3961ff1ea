"""Issue 6's pure pieces: commit's Dockerfile changes, cpuset syntax, the OCI and LXC
renderings of the namespace modes, cpuset and device rules, --group-add resolution and
what --volumes-from inherits."""

from __future__ import annotations

import pytest

from cove.engine.hostmodes import inherited, parse_cpuset
from cove.engine.model import Container, ContainerConfig
from cove.errors import InvalidParameter, NotFound
from cove.images.commit import apply_changes
from cove.runtime.base import ContainerSpec
from cove.runtime.lxc.config import render_config as lxc_config
from cove.runtime.native import process
from cove.runtime.oci.spec import render_config as oci_config


def _spec(**kw) -> ContainerSpec:
    base = dict(id="ab" * 32, args=["sh"], env=[], lower_dirs=["/l"], state_dir="/s",
                netns_path="/run/cove/netns/x", log_path="/s/log")
    base.update(kw)
    return ContainerSpec(**base)


def test_apply_changes():
    cfg = apply_changes({"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "WorkingDir": "/w"}, [
        'CMD ["cat", "/x"]', "ENTRYPOINT echo hi", "ENV A=2 B=\"x y\"", "ENV C d e",
        "EXPOSE 80 53/udp", "LABEL k=v", "USER nobody", "WORKDIR sub", "VOLUME /data",
        "STOPSIGNAL SIGINT\n# comment\n"])
    assert cfg["Cmd"] == ["cat", "/x"]
    assert cfg["Entrypoint"] == ["/bin/sh", "-c", "echo hi"]
    assert cfg["Env"] == ["PATH=/bin", "A=2", "B=x y", "C=d e"]
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert (cfg["Labels"], cfg["User"], cfg["WorkingDir"], cfg["Volumes"],
            cfg["StopSignal"]) == ({"k": "v"}, "nobody", "/w/sub", {"/data": {}}, "SIGINT")
    for bad in ("RUN ls", "CMD", "ENV =x"):
        with pytest.raises(InvalidParameter):
            apply_changes({}, [bad])


def test_parse_cpuset():
    assert parse_cpuset("0-2,5") == {0, 1, 2, 5}
    for bad in ("", "0-", "2-1", "a", "0,,1"):
        with pytest.raises(ValueError):
            parse_cpuset(bad)


def test_oci_modes():
    cfg = oci_config(_spec(), "/s/merged")
    types = [n["type"] for n in cfg["linux"]["namespaces"]]
    assert types == ["pid", "ipc", "uts", "mount", "network"] and cfg["hostname"]
    cfg = oci_config(_spec(pid_mode="host", uts_host=True, cgroupns_private=True,
                           cpuset_cpus="0", cpuset_mems="0", group_add=["1000"],
                           device_rules=["c 7:* rw", "b *:* m"]), "/s/merged")
    ns = cfg["linux"]["namespaces"]
    assert [n["type"] for n in ns] == ["ipc", "mount", "cgroup", "network"]
    assert "hostname" not in cfg
    res = cfg["linux"]["resources"]
    assert res["cpu"] == {"cpus": "0", "mems": "0"}
    assert res["devices"][-2:] == [{"allow": True, "type": "c", "major": 7, "access": "rw"},
                                   {"allow": True, "type": "b", "access": "m"}]
    assert cfg["process"]["user"]["additionalGids"] == [1000]
    cfg = oci_config(_spec(pid_mode="/proc/42/ns/pid"), "/s/merged")
    assert cfg["linux"]["namespaces"][0] == {"type": "pid", "path": "/proc/42/ns/pid"}


def test_lxc_modes():
    text = lxc_config(_spec(), "/s/merged", 1)
    assert "lxc.namespace.clone = mnt pid uts ipc cgroup" in text
    assert "lxc.uts.name" in text and "devices" not in text
    text = lxc_config(_spec(pid_mode="/proc/42/ns/pid", uts_host=True, cpuset_cpus="0-1",
                            device_rules=["c 7:128 rwm"]), "/s/merged", 1)
    assert "lxc.namespace.clone = mnt ipc cgroup" in text
    assert "lxc.namespace.share.pid = /proc/42/ns/pid" in text
    assert "lxc.uts.name" not in text and "lxc.cgroup.cpuset.cpus = 0-1" in text
    assert "lxc.cgroup.devices.deny = a" in text
    assert text.rstrip().endswith("lxc.cgroup.devices.allow = c 7:128 rwm")
    with pytest.raises(ValueError):
        lxc_config(_spec(group_add=["1"]), "/s/merged", 1)


def test_resolve_groups(monkeypatch):
    db = {"/etc/group": [["root", "x", "0", ""], ["wheel", "x", "10", "root,alice"],
                         ["staff", "x", "50", "alice"]]}
    monkeypatch.setattr(process, "_read_db", lambda path: db.get(path, []))
    assert process.resolve_groups("root", 0, []) == [10]
    assert process.resolve_groups("alice", 50, ["1000", "wheel"]) == [10, 1000]
    with pytest.raises(process.ExecError, match="Unable to find group nope"):
        process.resolve_groups("root", 0, ["nope"])


class _Eng:
    def __init__(self, containers: dict[str, Container]) -> None:
        self.containers = containers

    def get_container(self, ref: str) -> Container:
        if ref not in self.containers:
            raise NotFound(f"No such container: {ref}")
        return self.containers[ref]


def test_volumes_from_inherits():
    src = Container(id="s" * 64, name="src", created="", image_id="", config=ContainerConfig(
        image="busybox", binds=["/h:/h:ro", "named:/n"], anon_volumes=["anon:/a"]))
    eng = _Eng({"src": src})
    cfg = ContainerConfig(image="busybox", volumes_from=["src"], binds=["/mine:/n"])
    assert inherited(eng, cfg) == ["/h:/h:ro", "anon:/a"]       # own /n wins, modes kept
    cfg = ContainerConfig(image="busybox", volumes_from=["src:rw"])
    assert inherited(eng, cfg) == ["/h:/h", "named:/n", "anon:/a"]
    cfg = ContainerConfig(image="busybox", volumes_from=["src:ro"])
    assert all(b.endswith(":ro") for b in inherited(eng, cfg))
    with pytest.raises(NotFound):
        inherited(eng, ContainerConfig(image="busybox", volumes_from=["nosuch"]))
