"""OciDriver's pure parts: construction errors, numeric users, the crun hybrid wrapper,
the bundle it writes, and input validation (no runtime binary or root needed)."""

from __future__ import annotations

import json

import pytest

from cove.errors import InvalidParameter
from cove.runtime import get_driver
from cove.runtime.base import ContainerSpec
from cove.runtime.oci import driver as oci


@pytest.fixture
def fake_which(monkeypatch):
    monkeypatch.setattr(oci.shutil, "which", lambda name: f"/usr/bin/{name}")


def test_unknown_runtime_and_missing_binary(tmp_path, monkeypatch):
    with pytest.raises(InvalidParameter, match="unknown runtime 'nosuch'"):
        get_driver("nosuch", str(tmp_path))
    monkeypatch.setattr(oci.shutil, "which", lambda name: None)
    with pytest.raises(InvalidParameter, match="runc: binary not found"):
        get_driver("runc", str(tmp_path))
    assert not (tmp_path / "runc").exists()


def test_crun_on_a_hybrid_host_runs_with_controllers_hidden(tmp_path, fake_which,
                                                            monkeypatch):
    monkeypatch.setattr(oci, "_hybrid", lambda: True)
    crun = oci.OciDriver(str(tmp_path), "crun")
    argv = crun._argv("kill", "abc", "9")
    assert argv[:4] == ["unshare", "--mount", "--propagation", "private"]
    assert argv[-6:] == ["/usr/bin/crun", "--root", str(tmp_path / "crun" / "state"),
                         "kill", "abc", "9"]
    runc = oci.OciDriver(str(tmp_path), "runc")
    assert runc._argv("state", "abc") == [
        "/usr/bin/runc", "--root", str(tmp_path / "runc" / "state"), "state", "abc"]


def _spec(tmp_path, **kw) -> ContainerSpec:
    layer = tmp_path / "layer"
    layer.mkdir(exist_ok=True)
    netns = tmp_path / "netns"
    netns.touch()
    base = dict(id="c0ffee", args=["sh"], env=["A=1"], lower_dirs=[str(layer)],
                state_dir=str(tmp_path / "fs"), netns_path=str(netns),
                log_path=str(tmp_path / "log.json"), user="1000:50")
    base.update(kw)
    return ContainerSpec(**base)


def test_create_writes_a_bundle_joining_the_sandbox_netns(tmp_path, fake_which):
    d = oci.OciDriver(str(tmp_path), "runc")
    spec = _spec(tmp_path)
    d.create(spec)
    cfg = json.loads((tmp_path / "runc" / "c0ffee" / "config.json").read_text())
    assert {"type": "network", "path": spec.netns_path} in cfg["linux"]["namespaces"]
    assert cfg["root"]["path"] == str(tmp_path / "fs" / "merged")
    assert cfg["process"]["user"] == {"uid": 1000, "gid": 50}
    assert cfg["linux"]["cgroupsPath"] == "/cove/c0ffee"
    mon = json.loads((tmp_path / "runc" / "c0ffee" / "monitor.json").read_text())
    assert mon["overlay_opts"].startswith(f"lowerdir={tmp_path / 'layer'},upperdir=")
    assert d.state("c0ffee").running is False


@pytest.mark.parametrize("kw, msg", [
    ({"user": "nobody"}, "numeric UID"),
    ({"args": []}, "no command"),
    ({"lower_dirs": ["/no/such/layer"]}, "bad image layer"),
    ({"netns_path": "/no/such/netns"}, "network namespace"),
    ({"id": "../x"}, "invalid container id"),
    ({"memory": 1024}, "Minimum memory"),
])
def test_bad_input_is_refused_before_anything_is_made(tmp_path, fake_which, kw, msg):
    d = oci.OciDriver(str(tmp_path), "runc")
    with pytest.raises(InvalidParameter, match=msg):
        d.create(_spec(tmp_path, **kw))
    assert sorted(p.name for p in (tmp_path / "runc").iterdir()) == ["state"]
    assert not (tmp_path / "fs").exists()
